"""Databases, and a browser, for the tests of the collection service.

PostgreSQL is a real server, started by the first test that needs it and
stopped at the end of the session. Where it cannot run, its tests are
skipped; with PUSHCOLLECTOR_REQUIRE_POSTGRES=1 (as in CI) they fail instead.
The browser is headless Chromium: where it is missing, the tests of the web
view in a browser are skipped; with PUSHCOLLECTOR_REQUIRE_BROWSER=1 (as in
CI) they fail instead. The rules are tests/prerequisites.py's, which also
marks the tests using these fixtures ``postgres`` and ``browser``; the
fixtures apply them too, so that they work where that plugin is not loaded.
"""

import subprocess
import sys
import uuid

import pytest

from ..prerequisites import BROWSER, POSTGRES
from .browser import Browser, find_chromium
from .postgres import PostgresServer
from .service import ServiceProcess

# The PostgreSQL parameter of the fixtures that give SQLite, then
# PostgreSQL, marked by hand: they ask for postgres_server only while
# running (getfixturevalue), where collection cannot see it.
ON_POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server():
    """A started PostgresServer, shared by the whole session."""
    POSTGRES.require()
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", ON_POSTGRESQL], ids=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """The URL of a fresh, empty database, SQLite then PostgreSQL.

    The SQLite database is a file in tmp_path, not yet created. The
    PostgreSQL server is only started when a test asks for this one.
    """
    if request.param == "sqlite":
        yield "sqlite:///%s" % (tmp_path / "test.db")
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module", params=["sqlite", ON_POSTGRESQL])
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
    BROWSER.require()
    return Browser(find_chromium())


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
