"""The parts of the transport that its clients' tests do not reach."""

import requests

from pushcollector._impl.transport.attempt import describe_cause
from pushcollector._impl.transport.retry import Failure, RetryPolicy


def test_a_cause_is_told_by_the_system_message_it_quotes():
    error = requests.ConnectionError(
        "HTTPConnectionPool(host='h', port=1): Max retries exceeded (Caused by"
        " NewConnectionError('<conn>: Failed to establish a new connection:"
        " [Errno 111] Connection refused'))"
    )
    assert describe_cause(error) == "[Errno 111] Connection refused"


def test_a_cause_that_timed_out_says_so():
    error = requests.ReadTimeout("HTTPConnectionPool(...): Read timed out.")
    assert describe_cause(error) == "timed out"


def test_any_other_cause_is_told_by_its_type_and_the_start_of_its_message():
    error = ValueError("x" * 1000)
    assert describe_cause(error) == "ValueError: " + "x" * 300


def test_the_policy_retries_connection_failures_but_not_tls_failures():
    policy = RetryPolicy(5, backoff=0, max_backoff=0)

    assert policy.is_retry(Failure(cause=requests.ConnectionError("refused")))
    assert policy.is_retry(Failure(cause=requests.ReadTimeout("slow")))
    assert not policy.is_retry(Failure(cause=requests.exceptions.SSLError("bad")))
    assert not policy.is_retry(Failure(cause=ValueError("a bug")))
    assert policy.is_retry(Failure(time_limit=1.0))


def test_a_reading_policy_retries_a_busy_service_but_not_a_broken_one():
    from pushcollector._impl.transport.retry import READ_RETRY_STATUSES

    policy = RetryPolicy(5, backoff=0, max_backoff=0, statuses=READ_RETRY_STATUSES)

    assert [
        status
        for status in (429, 500, 502, 503, 504, 404)
        if policy.is_retry(Failure(status=status))
    ] == [429, 502, 503, 504]
