"""Databases, and a browser, for the tests of the collection service.

PostgreSQL is a real server, started by the first test that needs it and
stopped at the end of the session. Where it cannot run, its tests are
skipped; with PUSHCOLLECTOR_REQUIRE_POSTGRES=1 (as in CI) they fail instead.
The browser is headless Chromium: where it is missing, the tests of the web
view in a browser are skipped; with PUSHCOLLECTOR_REQUIRE_BROWSER=1 (as in
CI) they fail instead.
"""

import os
import subprocess
import sys
import uuid

import pytest

from .browser import Browser, find_chromium
from .postgres import PostgresServer, unavailable_reason
from .service import ServiceProcess

REQUIRE_POSTGRES = "PUSHCOLLECTOR_REQUIRE_POSTGRES"
REQUIRE_BROWSER = "PUSHCOLLECTOR_REQUIRE_BROWSER"


@pytest.fixture(scope="session")
def postgres_server():
    """A started PostgresServer, shared by the whole session."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get(REQUIRE_POSTGRES) == "1":
            pytest.fail(
                "%s=1, but PostgreSQL cannot run: %s" % (REQUIRE_POSTGRES, reason),
                pytrace=False,
            )
        pytest.skip("PostgreSQL cannot run: %s" % reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """The URL of a fresh, empty database, SQLite then PostgreSQL.

    The SQLite database is a file in tmp_path, not yet created. The
    PostgreSQL server is only started when a test asks for this one.
    """
    if request.param == "sqlite":
        yield "sqlite:///%s" % (tmp_path / "test.db")
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory):
    """A running ``pushcollector serve``, shared by the tests of a module,
    on SQLite then on PostgreSQL: tests keep apart by their run ids."""
    if request.param == "sqlite":
        db = "sqlite:///%s" % (tmp_path_factory.mktemp("service") / "service.db")
    else:
        db = request.getfixturevalue("postgres_server").create_database()
    with ServiceProcess(db) as running:
        yield running


@pytest.fixture
def run_id():
    """A run id of this test's own."""
    return "test-%s" % uuid.uuid4().hex


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, as a :class:`tests.server.browser.Browser`."""
    executable = find_chromium()
    if executable is None:
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(
                "%s=1, but Chromium is missing: apt-get install chromium"
                % REQUIRE_BROWSER,
                pytrace=False,
            )
        pytest.skip("Chromium is missing: apt-get install chromium")
    return Browser(executable)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    """A tokens file made by ``token create``, with a write and a read
    token: ``{"write": ..., "read": ..., "path": ...}``."""
    path = tmp_path_factory.mktemp("tokens") / "tokens"
    made = {"path": str(path)}
    for name, scope in (("pusher", "write"), ("viewer", "read")):
        made[scope] = subprocess.run(
            [sys.executable, "-m", "pushcollector", "token", "create", name]
            + ["--scope", scope, "--tokens", str(path)],
            stdout=subprocess.PIPE,
            check=True,
            text=True,
        ).stdout.strip()
    return made
