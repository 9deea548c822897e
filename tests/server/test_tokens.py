"""Tokens files: made by ``token create``, read by ``serve``."""

import os
import socket
import threading

import pytest
import requests
import uvicorn

from pushcollector._impl.server import tokens as tokens_module
from pushcollector._impl.server.app import create_app
from pushcollector._impl.server.tokens import TokenFileError, Tokens, create_token
from pushcollector._impl.store import Store


def test_tokens_are_known_by_their_hash_with_their_scope(tmp_path):
    path = str(tmp_path / "tokens")
    writer = create_token(path, "pusher", "write")
    reader = create_token(path, "viewer@example.com", "read")
    with open(path, "a") as stream:
        stream.write("\n# a comment, then a blank line\n\n")

    tokens = Tokens.load(path)

    assert len(tokens) == 2
    assert tokens.scope_of(writer) == "write"
    assert tokens.scope_of(reader) == "read"
    assert tokens.scope_of(writer[:-1]) is None
    assert tokens.scope_of("") is None
    assert writer != reader


@pytest.mark.parametrize(
    "line, problem",
    [
        ("pusher write", "expected 'NAME SCOPE sha256:HEX'"),
        ("pusher write sha256:%s extra" % ("0" * 64), "expected 'NAME SCOPE"),
        ("push/er write sha256:%s" % ("0" * 64), "invalid token name 'push/er'"),
        ("pusher admin sha256:%s" % ("0" * 64), "invalid scope 'admin'"),
        ("pusher write md5:%s" % ("0" * 32), "invalid hash"),
        ("pusher write sha256:%s" % ("0" * 63), "invalid hash"),
    ],
)
def test_a_line_that_is_not_an_entry_is_refused_with_its_number(
    tmp_path, line, problem
):
    path = tmp_path / "tokens"
    path.write_text("# tokens\n%s\n" % line)

    with pytest.raises(TokenFileError) as raised:
        Tokens.load(str(path))
    assert str(raised.value).startswith("%s:2: %s" % (path, problem))

    with pytest.raises(TokenFileError):
        create_token(str(path), "another", "read")


def test_create_token_refuses_a_bad_scope(tmp_path):
    with pytest.raises(ValueError, match="invalid scope 'admin'"):
        create_token(str(tmp_path / "tokens"), "x", "admin")
    assert not (tmp_path / "tokens").exists()


def test_the_file_is_followed_without_a_restart(tmp_path, caplog):
    path = str(tmp_path / "tokens")
    kept = create_token(path, "kept", "write")
    tokens = Tokens.load(path)
    added = create_token(path, "added", "read")

    assert tokens.scope_of(added) == "read"

    with open(path) as stream:
        lines = stream.readlines()
    with open(path, "w") as stream:
        stream.writelines(line for line in lines if not line.startswith("kept "))

    assert tokens.scope_of(kept) is None
    assert tokens.scope_of(added) == "read"
    assert len(tokens) == 1


def test_a_broken_or_missing_file_accepts_no_token_until_fixed(tmp_path, caplog):
    path = tmp_path / "tokens"
    token = create_token(str(path), "someone", "write")
    good = path.read_text()
    tokens = Tokens.load(str(path))

    path.write_text(good + "two words\n")
    assert tokens.scope_of(token) is None
    assert "tokens:2: expected 'NAME SCOPE sha256:HEX'; no token is accepted" in (
        caplog.text
    )

    path.unlink()
    assert tokens.scope_of(token) is None

    path.write_text(good)
    assert tokens.scope_of(token) == "write"


def test_tokens_made_in_code_follow_no_file():
    tokens = Tokens([("a", "read", "sha256:" + "0" * 64)])

    assert len(tokens) == 1
    assert tokens.scope_of("x") is None


class HangingStat:
    """os.stat, but a stat of one path blocks until released: a network
    filesystem that stopped answering, which a test cannot make."""

    def __init__(self, path):
        self.path = path
        self.stat = os.stat
        self.hanging = threading.Event()
        self.released = threading.Event()

    def __call__(self, path, *args, **kwargs):
        if os.fspath(path) == self.path and not self.released.is_set():
            self.hanging.set()
            self.released.wait()
        return self.stat(path, *args, **kwargs)


@pytest.fixture
def served_in_process(tmp_path):
    """A service in a thread of the tests, with a tokens file: its
    ``(url, tokens file, write token)``."""
    path = str(tmp_path / "tokens")
    token = create_token(path, "pusher", "write")
    store = Store("sqlite:///%s" % (tmp_path / "t.db"))
    store.check_schema(create=True)
    application = create_app(store, Tokens.load(path))
    listening = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(application, lifespan="off", log_level="error")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]})
    thread.start()
    try:
        # The socket listens already: requests wait for uvicorn to take them.
        yield "http://localhost:%d" % listening.getsockname()[1], path, token
    finally:
        server.should_exit = True
        thread.join()
        listening.close()
        store.close()


def test_a_tokens_file_that_hangs_never_holds_the_service(
    served_in_process, monkeypatch
):
    url, path, token = served_in_process
    hanging = HangingStat(path)
    monkeypatch.setattr(os, "stat", hanging)
    monkeypatch.setattr(tokens_module, "CHECK_TIMEOUT", 0.2, raising=False)
    bearer = {"Authorization": "Bearer " + token}

    try:
        waiting = requests.get(url + "/api/runs", headers=bearer, timeout=30)
        assert hanging.hanging.is_set()
        # While the file still hangs, requests without a token are answered
        # as ever, and those with one told to retry.
        without = requests.get(url + "/api/runs", timeout=30)
        page = requests.get(url + "/", headers=bearer, timeout=30)
        stylesheet = requests.get(url + "/static/pushcollector.css", timeout=30)
    finally:
        hanging.released.set()
    after = requests.get(url + "/api/runs", headers=bearer, timeout=30)

    assert waiting.status_code == 503
    assert waiting.headers["retry-after"] == "1"
    assert waiting.json() == {
        "error": "the tokens file did not answer within 0.2 s, try again"
    }
    assert without.status_code == 401
    assert page.status_code == 503
    assert "The tokens file did not answer within 0.2 s" in page.text
    assert stylesheet.status_code == 200
    assert after.status_code == 200


def test_a_change_of_the_tokens_file_counts_from_the_next_request(
    served_in_process,
):
    url, path, token = served_in_process
    added = create_token(path, "added", "read")

    first = requests.get(
        url + "/api/runs", headers={"Authorization": "Bearer " + added}, timeout=30
    )
    with open(path) as stream:
        kept = [line for line in stream if not line.startswith("pusher ")]
    with open(path, "w") as stream:
        stream.writelines(kept)
    revoked = requests.get(
        url + "/api/runs", headers={"Authorization": "Bearer " + token}, timeout=30
    )

    assert (first.status_code, revoked.status_code) == (200, 401)
