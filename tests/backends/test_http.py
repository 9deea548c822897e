import email.utils
import json
import logging
import math
import random
import re
import threading
import time
import weakref

import pytest
import requests
import requests_mock as requests_mock_module

from pushcollector import Collector, HttpCollector, HttpCollectorError
from pushcollector._impl import process_run
from pushcollector._impl.backends import http
from pushcollector._impl.transport import attempt, redaction, retry
from pushcollector._impl.transport import sender as sender_module

BASE = "https://collect.example.com/api"
TOKEN = "tok-3f9a1c2b7d4e-secret"
# Seconds any test waits for a future; never reached when the code works.
WAIT = 30
RUN_ID = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}")


def items(count, start=0):
    return [
        {"filename": "file-%d.rpm" % index, "state": "PENDING", "index": index}
        for index in range(start, start + count)
    ]


def sent_items(history):
    return [item for request in history for item in request.json()]


@pytest.fixture
def made():
    """Every collector made by make(), closed after the test."""
    collectors = []
    yield collectors
    for collector in collectors:
        collector.close()


@pytest.fixture
def make(made):
    """Make an HttpCollector that retries without waiting."""

    def make(url=BASE, **kwargs):
        kwargs.setdefault("backoff", 0)
        collector = HttpCollector(url, **kwargs)
        made.append(collector)
        return collector

    return make


@pytest.fixture
def service(requests_mock):
    """Every POST and PUT under BASE answered 201."""
    requests_mock.post(requests_mock_module.ANY, status_code=201)
    requests_mock.put(requests_mock_module.ANY, status_code=201)
    return requests_mock


class Gate:
    """A response callback holding requests until opened."""

    def __init__(self, status=201):
        self.status = status
        self.arrived = threading.Event()
        self.opened = threading.Event()

    def __call__(self, request, context):
        self.arrived.set()
        assert self.opened.wait(WAIT)
        context.status_code = self.status
        return ""


# Batching


@pytest.mark.parametrize(
    "count, batches",
    [(1, [1]), (500, [500]), (501, [500, 1]), (10_000, [500] * 20)],
)
def test_items_are_sent_in_batches_in_order(make, service, count, batches):
    collector = make()
    sent = items(count)
    assert collector.update_push_items(sent).result(WAIT) is None

    history = service.request_history
    assert [len(request.json()) for request in history] == batches
    assert sent_items(history) == sent
    for request in history:
        assert request.method == "POST"
        assert request.url == BASE + "/runs/%s/push-items" % collector.run_id


def test_no_items_send_nothing(make, service):
    collector = make()
    # The backend returns no future: the facade's is resolved already.
    assert collector.update_push_items([]) is None
    assert service.request_history == []


def test_no_items_through_collector_resolve_at_once(service, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", BASE)
    with Collector.get("http") as collector:
        future = collector.update_push_items([])
        assert future.done() and future.result() is None
    assert service.request_history == []


def test_batch_size_is_configurable(make, service):
    collector = make(batch_size=3)
    collector.update_push_items(items(7)).result(WAIT)
    assert [len(r.json()) for r in service.request_history] == [3, 3, 1]


def test_items_are_compact_utf8_json(make, service):
    collector = make()
    item = {"filename": "fïlé ✓", "state": "PUSHED", "nested": [1, 2.5, None]}
    collector.update_push_items([item]).result(WAIT)
    assert service.last_request.body == json.dumps(
        [item], ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


# Files


@pytest.mark.parametrize(
    "filename, path",
    [
        ("push.log", "push.log"),
        ("a/b/c.log", "a/b/c.log"),
        ("with space/x y.txt", "with%20space/x%20y.txt"),
        ("100%/done", "100%25/done"),
        ("fïlé/日本.txt", "f%C3%AFl%C3%A9/%E6%97%A5%E6%9C%AC.txt"),
        ("q?a=1#frag;p", "q%3Fa%3D1%23frag%3Bp"),
    ],
)
def test_filenames_are_percent_encoded_per_part(make, service, filename, path):
    collector = make()
    collector.attach_file(filename, b"attached").result(WAIT)
    collector.append_file(filename, b"appended").result(WAIT)

    attach, append = service.request_history
    expected = BASE + "/runs/%s/files/%s" % (collector.run_id, path)
    assert (attach.method, attach.url, attach.body) == ("PUT", expected, b"attached")
    assert (append.method, append.url, append.body) == ("POST", expected, b"appended")


def test_empty_content_is_sent(make, service):
    collector = make()
    collector.attach_file("empty", b"").result(WAIT)
    collector.append_file("empty", b"").result(WAIT)
    assert [r.method for r in service.request_history] == ["PUT", "POST"]


# Headers


def test_protocol_headers(make, service):
    collector = make(token=TOKEN)
    collector.update_push_items(items(1)).result(WAIT)
    collector.attach_file("f", b"x").result(WAIT)

    push_items, attach = service.request_history
    assert push_items.headers["Content-Type"] == "application/json"
    assert attach.headers["Content-Type"] == "application/octet-stream"
    for request in service.request_history:
        assert request.headers["Authorization"] == "Bearer " + TOKEN
        assert request.headers["Idempotency-Key"]


def test_no_authorization_without_token(make, service):
    make().update_push_items(items(1)).result(WAIT)
    assert "Authorization" not in service.last_request.headers


def test_extra_headers_do_not_override_the_protocol(make, service):
    collector = make(
        token=TOKEN,
        headers={
            "X-Push": "push-1",
            "Idempotency-Key": "mine",
            "Content-Type": "text/plain",
            "Authorization": "Basic mine",
        },
    )
    collector.update_push_items(items(1)).result(WAIT)
    headers = service.last_request.headers
    assert headers["X-Push"] == "push-1"
    assert headers["Idempotency-Key"] != "mine"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer " + TOKEN


def test_userinfo_becomes_basic_auth_and_leaves_the_url(make, service):
    collector = make("https://alice:pa%3Ass@collect.example.com/api")
    collector.update_push_items(items(1)).result(WAIT)
    request = service.last_request
    assert request.url.startswith(BASE + "/runs/")
    assert request.headers["Authorization"] == requests.auth._basic_auth_str(
        "alice", "pa:ss"
    )
    assert collector.url == BASE


def test_token_wins_over_userinfo(make, service):
    collector = make("https://alice:pass@collect.example.com/api", token=TOKEN)
    collector.update_push_items(items(1)).result(WAIT)
    assert service.last_request.headers["Authorization"] == "Bearer " + TOKEN


def test_tls_verification_timeout_and_no_redirects(make, service, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    make(timeout=7).update_push_items(items(1)).result(WAIT)
    make(verify="/etc/ca.pem").update_push_items(items(1)).result(WAIT)
    make(verify=False).update_push_items(items(1)).result(WAIT)
    default, bundle, unverified = service.request_history
    assert default.verify is True
    assert default.timeout == 7
    assert bundle.verify == "/etc/ca.pem"
    assert unverified.verify is False


def test_redirects_are_not_followed(make, requests_mock):
    requests_mock.post(
        re.compile("/runs/"), status_code=307, headers={"Location": BASE + "/moved"}
    )
    requests_mock.post(BASE + "/moved", status_code=201)
    error = make().append_file("f", b"x").exception(WAIT)
    assert error.status == 307
    assert requests_mock.call_count == 1


class CountingSession(requests.Session):
    """A session that counts how often it was closed."""

    def __init__(self):
        super().__init__()
        self.closed = 0

    def close(self):
        self.closed += 1
        super().close()


def test_given_session_is_used_and_kept_open(make, service):
    session = CountingSession()
    session.headers["X-From-Session"] = "yes"
    collector = make(session=session)
    collector.update_push_items(items(1)).result(WAIT)
    collector.close()
    assert service.last_request.headers["X-From-Session"] == "yes"
    assert session.closed == 0
    session.close()


def test_own_session_is_closed(make, service, monkeypatch):
    closed = []
    monkeypatch.setattr(requests.Session, "close", lambda self: closed.append(self))
    collector = make()
    collector.update_push_items(items(1)).result(WAIT)
    collector.close()
    assert len(closed) == 1


# Idempotency keys


def test_idempotency_keys_differ_between_requests(make, service):
    collector = make(batch_size=2)
    collector.update_push_items(items(5)).result(WAIT)
    collector.attach_file("a", b"").result(WAIT)
    collector.append_file("a", b"").result(WAIT)
    other = make()
    other.append_file("a", b"").result(WAIT)
    keys = [r.headers["Idempotency-Key"] for r in service.request_history]
    sender = keys[0].rsplit(".", 1)[0]
    assert re.fullmatch(re.escape(collector.run_id) + r"\.[0-9a-f]{16}", sender)
    assert keys[:5] == ["%s.%d" % (sender, n) for n in range(1, 6)]
    # Another collector of the run is another sender.
    assert other.run_id == collector.run_id
    assert re.fullmatch(re.escape(other.run_id) + r"\.[0-9a-f]{16}\.1", keys[5])
    assert not keys[5].startswith(sender)


def test_after_fork_a_collector_is_a_new_sender_of_the_same_run(
    make, service, monkeypatch
):
    collector = make()
    collector.append_file("a", b"").result(WAIT)
    # What os.fork() runs in the child, here for this collector only.
    monkeypatch.setattr(sender_module, "_senders", weakref.WeakSet([collector._sender]))
    sender_module.after_fork_in_child()
    collector.append_file("a", b"").result(WAIT)
    before, after = [r.headers["Idempotency-Key"] for r in service.request_history]
    assert before.rsplit(".", 1)[0] != after.rsplit(".", 1)[0]
    assert before.split(".")[:2] == after.split(".")[:2] == collector.run_id.split(".")
    assert after.endswith(".1")


def test_after_fork_a_collector_makes_its_own_session(make, service, monkeypatch):
    collector = make()
    collector.append_file("a", b"").result(WAIT)
    parents = collector._transport.session
    monkeypatch.setattr(sender_module, "_senders", weakref.WeakSet([collector._sender]))
    sender_module.after_fork_in_child()
    collector.append_file("a", b"").result(WAIT)
    assert collector._transport.session is not parents


def test_after_fork_a_given_session_drops_the_parents_connections(
    make, service, monkeypatch
):
    session = CountingSession()
    collector = make(session=session)
    collector.append_file("a", b"").result(WAIT)
    monkeypatch.setattr(sender_module, "_senders", weakref.WeakSet([collector._sender]))
    sender_module.after_fork_in_child()
    # Nothing is done in the fork itself, where any lock may be held.
    assert session.closed == 0
    collector.append_file("a", b"").result(WAIT)
    collector.append_file("a", b"").result(WAIT)
    assert session.closed == 1
    assert collector._transport.session is session
    session.close()


def test_idempotency_key_is_kept_across_retries(make, requests_mock):
    requests_mock.post(
        requests_mock_module.ANY,
        [
            {"status_code": 503},
            {"exc": requests.exceptions.ConnectionError},
            {"status_code": 500},
            {"status_code": 201},
            {"status_code": 201},
        ],
    )
    collector = make()
    collector.append_file("a", b"1").result(WAIT)
    collector.append_file("a", b"2").result(WAIT)
    keys = [r.headers["Idempotency-Key"] for r in requests_mock.request_history]
    assert len(keys) == 5
    assert len(set(keys[:4])) == 1
    assert keys[4] != keys[0]


# Retries


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 429},
        {"status_code": 500},
        {"status_code": 502},
        {"status_code": 503},
        {"status_code": 504},
        {"exc": requests.exceptions.ConnectionError},
        {"exc": requests.exceptions.ConnectTimeout},
        {"exc": requests.exceptions.ReadTimeout},
        {"exc": requests.exceptions.ChunkedEncodingError},
    ],
)
def test_transient_failures_are_retried(make, requests_mock, failure):
    requests_mock.put(
        requests_mock_module.ANY, [failure, failure, {"status_code": 200}]
    )
    collector = make(max_attempts=3)
    assert collector.attach_file("f", b"content").result(WAIT) is None
    assert [r.body for r in requests_mock.request_history] == [b"content"] * 3


def test_retries_stop_after_max_attempts(make, requests_mock):
    requests_mock.post(requests_mock_module.ANY, status_code=503, text="down")
    collector = make(max_attempts=4)
    future = collector.update_push_items(items(1))
    error = future.exception(WAIT)
    assert isinstance(error, HttpCollectorError)
    assert isinstance(error, OSError)
    assert error.status == 503
    assert error.method == "POST"
    assert error.url == BASE + "/runs/%s/push-items" % collector.run_id
    assert str(error) == (
        "POST %s failed (attempt 4 of 4): HTTP 503 None: 'down'" % error.url
    )
    assert requests_mock.call_count == 4


def test_connection_failure_after_max_attempts(make, requests_mock):
    requests_mock.post(
        requests_mock_module.ANY, exc=requests.exceptions.ConnectionError("refused")
    )
    error = make(max_attempts=2).update_push_items(items(1)).exception(WAIT)
    assert error.status is None
    assert "failed (attempt 2 of 2): ConnectionError: refused" in str(error)
    # requests' exception holds the request, Authorization header and all.
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.parametrize("status", [300, 302, 400, 401, 403, 404, 409, 413, 422])
def test_other_statuses_fail_at_once(make, requests_mock, status):
    requests_mock.post(requests_mock_module.ANY, status_code=status, reason="Nope")
    error = make().append_file("f", b"x").exception(WAIT)
    assert error.status == status
    assert "(attempt 1 of 5): HTTP %d Nope: ''" % status in str(error)
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.SSLError("certificate verify failed"),
        requests.exceptions.InvalidHeader("bad header"),
    ],
)
def test_other_request_errors_fail_at_once(make, requests_mock, exc):
    requests_mock.post(requests_mock_module.ANY, exc=exc)
    error = make().append_file("f", b"x").exception(WAIT)
    assert "%s: %s" % (type(exc).__name__, exc) in str(error)
    assert requests_mock.call_count == 1


def test_error_quotes_the_start_of_the_body(make, requests_mock):
    requests_mock.post(
        requests_mock_module.ANY, status_code=400, content=b"\xff" + b"x" * 1000
    )
    error = make().append_file("f", b"x").exception(WAIT)
    assert str(error).endswith(": '\ufffd%s...'" % ("x" * 199))


def test_retries_are_logged(make, requests_mock, caplog):
    requests_mock.post(
        requests_mock_module.ANY, [{"status_code": 503}, {"status_code": 201}]
    )
    collector = make()
    with caplog.at_level(logging.WARNING, logger="pushcollector"):
        collector.append_file("f", b"x").result(WAIT)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "POST %s/runs/%s/files/f failed (attempt 1 of 5): HTTP 503 None: ''; "
        "retrying in 0.00 s" % (BASE, collector.run_id)
    )


def test_retry_after_is_honoured(make, requests_mock, caplog):
    requests_mock.post(
        requests_mock_module.ANY,
        [{"status_code": 429, "headers": {"Retry-After": "2"}}, {"status_code": 201}],
    )
    # No backoff of its own, and Retry-After capped so the test is quick:
    # the delay logged is the cap, so it came from Retry-After.
    collector = make(backoff=0, max_backoff=0.01)
    with caplog.at_level(logging.WARNING, logger="pushcollector"):
        collector.append_file("f", b"x").result(WAIT)
    assert caplog.records[0].getMessage().endswith("; retrying in 0.01 s")


def retryable(retry_after=None):
    return retry.Failure(status=503, retry_after=retry_after)


def test_policy_uses_retry_after_within_the_cap():
    policy = retry.RetryPolicy(5, backoff=100, max_backoff=60)
    assert policy.sleep_time(1, retryable(retry_after=7)) == 7
    assert policy.sleep_time(3, retryable(retry_after=0)) == 0
    assert policy.sleep_time(1, retryable(retry_after=3600)) == 60


def test_policy_backs_off_exponentially_with_jitter():
    policy = retry.RetryPolicy(100, backoff=1, max_backoff=1000)
    random.seed(1)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 256)]:
        delays = {policy.sleep_time(attempt, retryable()) for _ in range(20)}
        assert len(delays) > 1
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert policy.sleep_time(10_000, retryable()) == 1000


def test_policy_retries_only_retryable_errors_up_to_max_attempts():
    policy = retry.RetryPolicy(3, backoff=0, max_backoff=0)
    assert policy.should_retry(1, retryable())
    assert policy.should_retry(2, retryable())
    assert not policy.should_retry(3, retryable())
    assert not policy.should_retry(1, retry.Failure(status=404))


def test_retry_after_seconds():
    assert retry.retry_after_seconds(None) is None
    assert retry.retry_after_seconds("120") == 120
    assert retry.retry_after_seconds(" 0 ") == 0
    assert retry.retry_after_seconds("soon") is None
    assert retry.retry_after_seconds("-5") is None
    assert retry.retry_after_seconds("") is None
    # An HTTP date: in the future, the time until then; past, now.
    future = email.utils.formatdate(time.time() + 1000, usegmt=True)
    assert 900 < retry.retry_after_seconds(future) <= 1000
    assert retry.retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT") == 0
    # Without a zone it is taken as GMT, as HTTP dates are.
    assert retry.retry_after_seconds("Sun, 06 Nov 1994 08:49:37") == 0


# Ordering


def test_calls_are_delivered_in_call_order_despite_retries(make, requests_mock):
    """Seeded failures: each request applies once, in the order of the calls."""
    rng = random.Random(7)
    applied = []

    def respond(request, context):
        if rng.random() < 0.5:
            context.status_code = rng.choice([429, 500, 503])
            return ""
        key = request.headers["Idempotency-Key"]
        if key not in [applied_key for applied_key, _ in applied]:
            applied.append((key, request.method + " " + request.body.decode()))
        context.status_code = 201
        return ""

    requests_mock.post(requests_mock_module.ANY, text=respond)
    requests_mock.put(requests_mock_module.ANY, text=respond)
    collector = make(max_attempts=50, batch_size=1)
    futures, expected = [], []
    for index in range(60):
        kind = index % 3
        if kind == 0:
            item = {"filename": "f", "state": "PENDING", "step": index}
            futures.append(collector.update_push_items([item]))
            expected.append("POST " + json.dumps([item], separators=(",", ":")))
        elif kind == 1:
            futures.append(collector.append_file("log", b"%d" % index))
            expected.append("POST %d" % index)
        else:
            futures.append(collector.attach_file("state", b"%d" % index))
            expected.append("PUT %d" % index)
    for future in futures:
        assert future.result(WAIT) is None
    assert [body for _, body in applied] == expected
    assert requests_mock.call_count > 60


def test_a_later_call_waits_for_the_retries_of_an_earlier_one(make, requests_mock):
    requests_mock.put(
        requests_mock_module.ANY,
        [{"status_code": 503}, {"status_code": 503}, {"status_code": 201}],
    )
    requests_mock.post(requests_mock_module.ANY, status_code=201)
    collector = make()
    first = collector.attach_file("f", b"first")
    second = collector.append_file("f", b"second")
    second.result(WAIT)
    assert first.done()
    assert [r.method for r in requests_mock.request_history] == [
        "PUT",
        "PUT",
        "PUT",
        "POST",
    ]


def test_futures_resolve_in_call_order(make, service):
    collector = make(batch_size=1)
    resolved = []
    futures = []
    for index in range(20):
        future = collector.update_push_items(items(3, start=index))
        future.add_done_callback(lambda _, index=index: resolved.append(index))
        futures.append(future)
    futures[-1].result(WAIT)
    assert resolved == list(range(20))


# Data captured at call time


def test_data_is_captured_at_call_time(make, requests_mock):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    requests_mock.put(requests_mock_module.ANY, status_code=201)
    collector = make()
    blocker = collector.append_file("first", b"held")
    assert gate.arrived.wait(WAIT)

    sent = items(2)
    sent[0]["nested"] = {"list": [1]}
    expected = json.loads(json.dumps(sent))
    items_future = collector.update_push_items(sent)
    sent[0]["nested"]["list"].append(2)
    sent[1]["state"] = "PUSHED"
    sent.append({"filename": "late", "state": "PUSHED"})
    gate.opened.set()

    blocker.result(WAIT)
    items_future.result(WAIT)
    assert requests_mock.last_request.json() == expected


def test_bytearray_content_is_captured_through_the_collector(requests_mock):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    requests_mock.put(requests_mock_module.ANY, status_code=201)
    backend = HttpCollector(BASE, backoff=0)
    Collector.register_backend("test-http", lambda: backend)
    with Collector.get("test-http") as collector:
        blocker = collector.append_file("first", b"held")
        assert gate.arrived.wait(WAIT)
        content = bytearray(b"as attached")
        attached = collector.attach_file("f", content)
        content[:] = b"changed"
        gate.opened.set()
        blocker.result(WAIT)
        attached.result(WAIT)
    assert requests_mock.last_request.body == b"as attached"


@pytest.mark.parametrize(
    "value, error",
    [({1, 2}, TypeError), (object(), TypeError), (math.nan, ValueError)],
)
def test_unencodable_items_raise_and_send_nothing(make, service, value, error):
    collector = make(batch_size=1)
    batch = items(3)
    batch[2]["extra"] = value
    with pytest.raises(error):
        collector.update_push_items(batch)
    assert service.request_history == []
    collector.update_push_items(items(1)).result(WAIT)
    assert service.call_count == 1


# Failures and later calls


def test_calls_after_a_failure_fail_without_being_sent(make, requests_mock):
    gate = Gate(status=400)
    requests_mock.post(requests_mock_module.ANY, text=gate)
    collector = make()
    failing = collector.append_file("log", b"one")
    assert gate.arrived.wait(WAIT)
    queued = collector.update_push_items(items(2))
    gate.opened.set()

    failure = failing.exception(WAIT)
    assert failure.status == 400
    queued.exception(WAIT)
    later = collector.attach_file("state", b"later")
    assert later.done()
    for future, method, suffix in [
        (queued, "POST", "push-items"),
        (later, "PUT", "files/state"),
    ]:
        error = future.exception()
        assert isinstance(error, HttpCollectorError)
        assert error.__cause__ is failure
        assert (error.method, error.status) == (method, None)
        assert error.url == "%s/runs/%s/%s" % (BASE, collector.run_id, suffix)
        assert str(error) == (
            "%s %s was not sent: an earlier request of this collector failed: %s"
            % (method, error.url, failure)
        )
    assert requests_mock.call_count == 1
    # Nothing to send, nothing lost.
    assert collector.update_push_items([]) is None


def test_a_failed_batch_stops_the_rest_of_its_call(make, requests_mock):
    requests_mock.post(
        requests_mock_module.ANY,
        [{"status_code": 201}, {"status_code": 422}, {"status_code": 201}],
    )
    collector = make(batch_size=2)
    error = collector.update_push_items(items(6)).exception(WAIT)
    assert error.status == 422
    assert requests_mock.call_count == 2


def test_an_unexpected_error_of_the_session_fails_the_call(make, requests_mock):
    requests_mock.post(requests_mock_module.ANY, exc=UnicodeError("not encodable"))
    collector = make()
    error = collector.append_file("f", b"x").exception(WAIT)
    assert isinstance(error, HttpCollectorError)
    assert str(error).endswith("(attempt 1 of 5): UnicodeError: not encodable")
    assert requests_mock.call_count == 1
    # The collector is not stuck: closing it does not wait for ever.
    collector.close()


def test_a_session_that_cannot_be_made_fails_the_call(make, monkeypatch):
    def broken():
        raise OSError("no CA bundle")

    monkeypatch.setattr(requests, "Session", broken)
    error = make().append_file("f", b"x").exception(WAIT)
    assert str(error).endswith("(attempt 1 of 5): OSError: no CA bundle")


def test_an_attempt_that_finished_cannot_be_given_up_on():
    # The race of a timeout with the answer's last byte: what came first
    # wins, and a finished attempt's connection is never shut down.
    finished = attempt.Exchange()
    finished.finish()
    assert not finished.give_up()
    given_up = attempt.Exchange()
    assert given_up.give_up()
    assert not given_up.answered(requests.Response())


def test_final_failure_is_logged_once(make, requests_mock, caplog):
    requests_mock.post(requests_mock_module.ANY, status_code=404)
    collector = make()
    with caplog.at_level(logging.ERROR, logger="pushcollector"):
        collector.append_file("a", b"1").exception(WAIT)
        collector.append_file("a", b"2").exception(WAIT)
    [record] = caplog.records
    assert record.getMessage().endswith(
        "; later calls of this collector fail without sending"
    )


# Cancelling


def test_a_cancelled_queued_call_is_not_sent(make, requests_mock):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    collector = make(batch_size=1)
    first = collector.append_file("log", b"1")
    assert gate.arrived.wait(WAIT)
    cancelled = collector.update_push_items(items(3))
    last = collector.append_file("log", b"3")
    assert cancelled.cancel()
    gate.opened.set()

    first.result(WAIT)
    last.result(WAIT)
    assert [r.body for r in requests_mock.request_history] == [b"1", b"3"]


def test_a_cancelled_queued_call_is_skipped_after_a_failure(make, requests_mock):
    gate = Gate(status=400)
    requests_mock.post(requests_mock_module.ANY, text=gate)
    collector = make()
    first = collector.append_file("log", b"1")
    assert gate.arrived.wait(WAIT)
    cancelled = collector.append_file("log", b"2")
    queued = collector.append_file("log", b"3")
    assert cancelled.cancel()
    gate.opened.set()

    assert first.exception(WAIT).status == 400
    assert queued.exception(WAIT).__cause__ is first.exception()
    assert cancelled.cancelled()


def test_a_running_call_cannot_be_cancelled(make, requests_mock):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    collector = make()
    running = collector.append_file("log", b"1")
    assert gate.arrived.wait(WAIT)
    assert not running.cancel()
    gate.opened.set()
    assert running.result(WAIT) is None


# Closing


def http_threads():
    return [t for t in threading.enumerate() if "pushcollector-http" in t.name]


def new_sender(before):
    """The collector's sending thread, not there before."""
    [sender] = [
        thread
        for thread in http_threads()
        if thread not in before and thread.name == "pushcollector-http"
    ]
    return sender


def test_close_waits_for_pending_requests(make, requests_mock):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    collector = make(batch_size=1)
    futures = [collector.update_push_items(items(2)), collector.append_file("l", b"")]
    assert gate.arrived.wait(WAIT)
    closer = threading.Thread(target=collector.close)
    closer.start()
    gate.opened.set()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert all(future.done() for future in futures)
    assert requests_mock.call_count == 3


def test_one_non_daemon_thread_sends_and_close_ends_it(make, requests_mock):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    before = http_threads()
    collector = make()
    future = collector.update_push_items(items(1))
    assert gate.arrived.wait(WAIT)
    sender = new_sender(before)
    # The interpreter waits for it at exit, so what was recorded is sent.
    assert not sender.daemon
    gate.opened.set()
    assert future.result(WAIT) is None
    collector.close()
    assert not sender.is_alive()
    assert http_threads() == before


def test_closed_collector_refuses_calls(make, service):
    collector = make()
    collector.close()
    collector.close()
    assert repr(collector).endswith(", closed)")
    message = "HttpCollector of run %s to %s is closed" % (collector.run_id, BASE)
    for call in (
        lambda: collector.update_push_items(items(1)),
        lambda: collector.update_push_items([]),
        lambda: collector.attach_file("f", b""),
        lambda: collector.append_file("f", b""),
    ):
        with pytest.raises(RuntimeError) as raised:
            call()
        assert str(raised.value) == message
    assert service.request_history == []


def test_with_statement_closes(service):
    with HttpCollector(BASE) as collector:
        future = collector.append_file("f", b"x")
    assert future.done()
    with pytest.raises(RuntimeError):
        collector.append_file("f", b"x")


def test_collector_get_with_closes_the_backend(service, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", BASE)
    with Collector.get("http") as collector:
        future = collector.update_push_items(items(1))
    assert future.result(0) is None
    with pytest.raises(RuntimeError, match="is closed"):
        collector.update_push_items(items(1))


def test_close_without_any_request(make):
    before = http_threads()
    collector = make()
    collector.close()
    assert http_threads() == before


def test_the_thread_of_a_collector_never_closed_ends_when_all_is_sent(
    requests_mock,
):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    before = http_threads()
    collector = HttpCollector(BASE)
    future = collector.append_file("f", b"x")
    assert gate.arrived.wait(WAIT)
    sender = new_sender(before)
    gate.opened.set()
    future.result(WAIT)
    # A thread kept by an idle collector would hold up the interpreter's exit.
    sender.join(WAIT)
    assert not sender.is_alive()


def test_close_from_a_callback_raises_instead_of_waiting_for_itself(
    make, requests_mock
):
    gate = Gate()
    requests_mock.post(requests_mock_module.ANY, text=gate)
    collector = make()
    raised = []
    called = threading.Event()

    def close_it(_future):
        try:
            collector.close()
        except RuntimeError as error:
            raised.append(error)
        called.set()

    future = collector.append_file("f", b"x")
    assert gate.arrived.wait(WAIT)
    future.add_done_callback(close_it)
    gate.opened.set()
    assert called.wait(WAIT)
    assert "would wait for itself" in str(raised[0])
    # Not closed by the failed attempt: it still takes calls.
    gate.arrived.clear()
    assert collector.append_file("f", b"y").result(WAIT) is None


def test_at_exit_calls_send_before_returning(make, service, monkeypatch):
    # What exiting() says in an atexit handler, where no thread started
    # would be waited for.
    monkeypatch.setattr(sender_module, "exiting", lambda: True)
    before = http_threads()
    collector = make()
    future = collector.update_push_items(items(3))
    assert future.done() and future.result() is None
    assert http_threads() == before
    assert len(service.request_history) == 1


def test_calls_send_before_returning_when_no_thread_can_start(
    make, service, monkeypatch
):
    def refuse(thread):
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    collector = make()
    future = collector.append_file("f", b"x")
    assert future.done() and future.result() is None
    assert len(service.request_history) == 1
    collector.close()


# Secrets


def test_token_never_shown(make, requests_mock, caplog):
    def echo(request, context):
        context.status_code = 400
        return "you sent: %s" % request.headers["Authorization"]

    requests_mock.post(requests_mock_module.ANY, text=echo)
    requests_mock.put(
        requests_mock_module.ANY,
        exc=requests.exceptions.ConnectionError("with token " + TOKEN),
    )
    with caplog.at_level(logging.DEBUG):
        collector = make(token=TOKEN, max_attempts=2)
        put = collector.attach_file("f", b"x").exception(WAIT)
        collector.close()
        other = make(token=TOKEN)
        post = other.append_file("f", b"x").exception(WAIT)
        other.close()

    shown = [repr(collector), str(collector), repr(collector._transport.auth)]
    shown += [str(put), repr(put), str(post), repr(post)]
    shown += [record.getMessage() for record in caplog.records]
    assert caplog.records
    assert "you sent: Bearer ***" in str(post)
    assert "with token ***" in str(put)
    for text in shown:
        assert TOKEN not in text


def test_password_never_shown(make, requests_mock, caplog):
    def echo(request, context):
        context.status_code = 503
        return "you sent: %s" % request.headers["Authorization"]

    requests_mock.post(requests_mock_module.ANY, text=echo)
    with caplog.at_level(logging.DEBUG):
        collector = make("https://alice:hunter2-pw@collect.example.com/api")
        error = collector.append_file("f", b"x").exception(WAIT)
        collector.close()
    shown = [repr(collector), repr(collector._transport.auth), str(error), error.url]
    shown += [record.getMessage() for record in caplog.records]
    assert "you sent: Basic ***" in str(error)
    basic = requests.auth._basic_auth_str("alice", "hunter2-pw").split()[1]
    for text in shown:
        assert "hunter2-pw" not in text
        assert basic not in text
        assert "alice" not in text


def test_secrets_are_blanked_out_whatever_surrounds_them():
    redact = redaction.Redactor(["tok-3f9a-Secret", "pw"])
    assert redact("nothing to hide") == "nothing to hide"
    # Pieces of 8 characters, in any case, next to anything; short secrets
    # whole; characters whose lower case is longer do not shift the rest.
    assert (
        redact("İ: TOK-3F9A-SECRET, tok-3f9a-S, cret|pw|p") == "İ: ***, ***, cret|***|p"
    )
    assert redact("=\\x74ok-3f9a-Secret") == "=\\x74***"
    assert redaction.Redactor([])("tok-3f9a-Secret") == "tok-3f9a-Secret"


def test_repr():
    collector = HttpCollector("http://user:pw@localhost:8080/x/", token=TOKEN)
    assert repr(collector) == (
        "HttpCollector(url='http://localhost:8080/x', run_id=%r)" % collector.run_id
    )


# Arguments


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/", "url must start with http:// or https://, not ftp:"),
        ("example.com/api", "url must start with http:// or https://"),
        ("//user:secret@example.com", "url must start with http:// or https://"),
        ("file:///etc/passwd", "url must start with http:// or https://, not file:"),
        ("http://", "url must name a host"),
        ("https:///path", "url must name a host"),
        ("http://example.com:99999/", "url has an invalid port"),
        ("http://example.com:port/", "url has an invalid port"),
        ("http://example.com/?a=1", "url must not have a query or a fragment"),
        ("http://example.com/#top", "url must not have a query or a fragment"),
    ],
)
def test_invalid_urls(url, message):
    with pytest.raises(ValueError) as raised:
        HttpCollector(url)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "url, base",
    [
        ("http://example.com", "http://example.com"),
        ("HTTPS://example.com/", "https://example.com"),
        ("https://example.com/a/b//", "https://example.com/a/b"),
        ("http://[::1]:8080/api", "http://[::1]:8080/api"),
    ],
)
def test_valid_urls(url, base):
    assert HttpCollector(url).url == base


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"url": b"http://x"}, TypeError, "url must be a str, not bytes"),
        ({"token": 5}, TypeError, "token must be a str, not int"),
        ({"token": ""}, ValueError, "token must be non-empty"),
        ({"token": "a b"}, ValueError, "without spaces or control characters"),
        ({"token": "ab\n"}, ValueError, "without spaces or control characters"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1, got 0"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an int, not float"),
        ({"batch_size": True}, TypeError, "batch_size must be an int, not bool"),
        ({"max_attempts": 0}, ValueError, "max_attempts must be at least 1, got 0"),
        ({"max_attempts": None}, TypeError, "max_attempts must be an int"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number of seconds > 0"),
        ({"timeout": -1}, ValueError, "timeout must be a finite number"),
        ({"timeout": math.inf}, ValueError, "timeout must be a finite number"),
        ({"timeout": math.nan}, ValueError, "timeout must be a finite number"),
        ({"timeout": "30"}, TypeError, "timeout must be a number of seconds, not str"),
        (
            {"backoff": -0.5},
            ValueError,
            "backoff must be a finite number of seconds >= 0",
        ),
        ({"max_backoff": -1}, ValueError, "max_backoff must be a finite number"),
        ({"verify": 1}, TypeError, "verify must be None, a bool or the path"),
        ({"headers": [("a", "b")]}, TypeError, "headers must be a mapping, not list"),
        (
            {"headers": {"a": 1}},
            TypeError,
            "headers must map str to str; got a value for 'a'",
        ),
    ],
)
def test_invalid_arguments(kwargs, error, message):
    kwargs.setdefault("url", BASE)
    with pytest.raises(error) as raised:
        HttpCollector(**kwargs)
    assert message in str(raised.value)


def test_token_is_not_quoted_in_errors():
    with pytest.raises(ValueError) as raised:
        HttpCollector(BASE, token="secret value")
    assert "secret" not in str(raised.value)


def test_zero_backoff_and_cap_are_allowed():
    HttpCollector(BASE, backoff=0, max_backoff=0, timeout=0.5, verify=True)


# Run ids


def test_collectors_of_a_process_share_its_run_until_a_new_one():
    first, second = HttpCollector(BASE), HttpCollector(BASE + "/other")
    assert first.run_id == second.run_id
    Collector.new_run()
    third = HttpCollector(BASE)
    assert third.run_id > first.run_id
    assert first.run_id == second.run_id


def test_run_ids_are_unique_sortable_and_url_safe():
    ids = []
    for _ in range(2000):
        Collector.new_run()
        ids.append(HttpCollector(BASE).run_id)
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == ids
    for run_id in ids:
        assert RUN_ID.fullmatch(run_id)


def test_run_ids_stay_ordered_when_the_clock_stands_still(monkeypatch):
    # Restored afterwards, so that later ids are not made in 2030.
    monkeypatch.setattr(process_run, "_last_run_micros", process_run._last_run_micros)
    # 2030-03-17T17:46:40Z, later than any id made so far.
    monkeypatch.setattr(process_run.time, "time_ns", lambda: 1_900_000_000_000_000_000)
    ids = [process_run.new_run_id() for _ in range(5)]
    assert sorted(set(ids)) == ids
    assert [run_id[:23] for run_id in ids] == [
        "20300317T174640.%06dZ" % micros for micros in range(5)
    ]


def test_run_id_is_utc_time():
    before = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    Collector.new_run()
    run_id = HttpCollector(BASE).run_id
    after = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    assert before <= run_id[:15] <= after


# Configuration from the environment


def test_environment_configures_the_http_backend(service, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", BASE + "/")
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_TOKEN", TOKEN)
    with Collector.get("http") as collector:
        backend = collector._backend
        assert isinstance(backend, HttpCollector)
        assert backend.url == BASE
        collector.append_file("f", b"x").result(WAIT)
    assert service.last_request.headers["Authorization"] == "Bearer " + TOKEN


def test_empty_token_variable_means_no_token(service, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", BASE)
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_TOKEN", "")
    with Collector.get("http") as collector:
        collector.append_file("f", b"x").result(WAIT)
    assert "Authorization" not in service.last_request.headers


@pytest.mark.parametrize("value", [None, ""])
def test_http_backend_needs_the_url_variable(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("PUSHCOLLECTOR_HTTP_URL", raising=False)
    else:
        monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", value)
    with pytest.raises(ValueError) as raised:
        Collector.get("http")
    assert str(raised.value) == (
        "the http backend needs the environment variable PUSHCOLLECTOR_HTTP_URL, "
        "the base URL of the service"
    )


def test_invalid_url_variable_is_named(monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", "ftp://user:secret@example.com")
    with pytest.raises(ValueError) as raised:
        Collector.get("http")
    assert str(raised.value) == (
        "url must start with http:// or https://, not ftp: (from the environment "
        "variables PUSHCOLLECTOR_HTTP_URL and PUSHCOLLECTOR_HTTP_TOKEN)"
    )


def test_http_backend_can_be_the_default(service, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", BASE)
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "http")
    with Collector.get() as collector:
        assert isinstance(collector._backend, HttpCollector)
