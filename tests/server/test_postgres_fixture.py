import os
import select
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from . import postgres
from .postgres import PostgresServer, PostgresServerError

REPOSITORY = Path(__file__).resolve().parents[2]


def engine_for(url):
    """An engine for a URL as users write it, PostgreSQL through psycopg."""
    url = make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sqlalchemy.create_engine(url)


def public_tables(url):
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        ).fetchall()
    return [name for (name,) in rows]


def refuses_connections(host, port):
    try:
        socket.create_connection((host, port), timeout=10).close()
    except ConnectionRefusedError:
        return True
    return False


def test_database_url_is_an_empty_database_to_write_to(database_url):
    engine = engine_for(database_url)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE t (x INTEGER)"))
            connection.execute(sqlalchemy.text("INSERT INTO t VALUES (1), (2)"))
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text("SELECT x FROM t ORDER BY x"))
            assert rows.scalars().all() == [1, 2]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_database_is_a_new_file_in_tmp_path(database_url, tmp_path):
    url = make_url(database_url)

    assert url.get_backend_name() == "sqlite"
    assert Path(url.database) == tmp_path / "test.db"
    assert not Path(url.database).exists()


def test_postgres_url_logs_in_with_a_password(postgres_server, postgres_url):
    url = make_url(postgres_url)

    assert postgres_url.startswith("postgresql://")
    assert (url.username, url.password) == (
        postgres_server.user,
        postgres_server.password,
    )
    assert (url.host, url.port) == ("127.0.0.1", postgres_server.port)
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT current_user").fetchone() == (url.username,)
    wrong = url.set(password="not" + url.password)
    with pytest.raises(psycopg.OperationalError, match="password authentication"):
        psycopg.connect(wrong.render_as_string(hide_password=False)).close()


def test_postgres_url_is_a_database_to_write_to(postgres_url):
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE t (x INTEGER, name TEXT)")
        connection.execute("INSERT INTO t VALUES (%s, %s)", (1, "one"))
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT * FROM t").fetchall() == [(1, "one")]


def test_committed_data_survives_restart_fast(postgres_server, postgres_url):
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
        connection.execute("INSERT INTO t VALUES (42)")
    connected = psycopg.connect(postgres_url)

    postgres_server.restart_fast()

    with pytest.raises(psycopg.OperationalError):
        connected.execute("SELECT 1")
    connected.close()
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT x FROM t").fetchall() == [(42,)]


def test_each_database_is_a_new_empty_one(postgres_server):
    first = postgres_server.create_database()
    second = postgres_server.create_database()
    try:
        assert first != second
        with psycopg.connect(first) as connection:
            connection.execute("CREATE TABLE only_in_first (x INTEGER)")

        assert public_tables(first) == ["only_in_first"]
        assert public_tables(second) == []
    finally:
        postgres_server.drop_database(first)
        postgres_server.drop_database(second)


def test_create_database_by_name(postgres_server):
    url = postgres_server.create_database("named by the test")
    try:
        assert make_url(url).database == "named by the test"
        with psycopg.connect(url) as connection:
            name = connection.execute("SELECT current_database()").fetchone()
        assert name == ("named by the test",)
    finally:
        postgres_server.drop_database("named by the test")


def test_drop_database_disconnects_its_clients(postgres_server):
    url = postgres_server.create_database()
    connected = psycopg.connect(url)

    postgres_server.drop_database(url)

    with pytest.raises(psycopg.OperationalError):
        connected.execute("SELECT 1")
    connected.close()
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(url).close()


def test_server_listens_on_127_0_0_1_only(postgres_server):
    with psycopg.connect(postgres_server.url) as connection:
        setting = connection.execute("SHOW listen_addresses").fetchone()

    assert setting == ("127.0.0.1",)
    assert refuses_connections("127.0.0.2", postgres_server.port)


def test_server_keeps_durability_settings_on(postgres_server):
    with psycopg.connect(postgres_server.url) as connection:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            assert connection.execute("SHOW " + setting).fetchone() == ("on",)


@pytest.mark.postgres
def test_start_skips_a_taken_port_and_stop_removes_everything(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [taken.getsockname()[1], postgres.free_port()]
        monkeypatch.setattr(postgres, "free_port", lambda: ports.pop(0))
        server = PostgresServer().start()
        try:
            directory = server.directory
            port = server.port
            assert ports == []
            with psycopg.connect(server.url) as connection:
                connection.execute("SELECT 1")
        finally:
            server.stop()

    assert not directory.exists()
    assert refuses_connections("127.0.0.1", port)
    server.stop()


@pytest.mark.postgres
def test_failed_start_says_why_and_leaves_nothing(monkeypatch):
    directories = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(**arguments):
        directories.append(real_mkdtemp(**arguments))
        return directories[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    server = PostgresServer(settings={"shared_buffers": "plenty"})

    with pytest.raises(PostgresServerError) as failure:
        server.start()

    message = str(failure.value)
    assert "pg_ctl start" in message
    assert 'invalid value for parameter "shared_buffers": "plenty"' in message
    assert not Path(directories[0]).exists()
    assert server.directory is None


def test_stop_without_start_does_nothing():
    server = PostgresServer()
    server.stop()
    with pytest.raises(PostgresServerError, match="not started"):
        server.url


@pytest.mark.postgres
def test_server_stops_when_its_process_is_killed():
    if not hasattr(os, "pidfd_open"):
        pytest.skip("waiting for another process's watchdog needs pidfd_open")
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
                import sys
                from tests.server.postgres import PostgresServer
                server = PostgresServer().start()
                print(server.directory, server.port, server._watchdog.pid, flush=True)
                sys.stdin.read()
            """),
        ],
        cwd=REPOSITORY,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with owner:
        line = owner.stdout.readline()
        directory, port, watchdog = line.split()
        watchdog_exit = os.pidfd_open(int(watchdog))
        try:
            owner.kill()
            assert select.select([watchdog_exit], [], [], 120)[0] == [watchdog_exit]
        finally:
            os.close(watchdog_exit)

    assert not Path(directory).exists()
    assert refuses_connections("127.0.0.1", int(port))


def test_find_bindir_takes_the_newest_debian_version(tmp_path, monkeypatch):
    for version in ("9.6", "10", "15", "notaversion"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").touch()
    (tmp_path / "16" / "bin").mkdir(parents=True)
    monkeypatch.setattr(postgres, "DEBIAN_ROOT", tmp_path)
    monkeypatch.delenv("PG_BINDIR", raising=False)

    assert postgres.find_bindir() == tmp_path / "15" / "bin"

    monkeypatch.setenv("PG_BINDIR", "/somewhere/else")
    assert postgres.find_bindir() == Path("/somewhere/else")


@pytest.fixture
def without_postgres(pytester, monkeypatch, tmp_path):
    """A pytester project with these fixtures, where PostgreSQL is missing."""
    monkeypatch.setenv("PG_BINDIR", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("PUSHCOLLECTOR_REQUIRE_POSTGRES", raising=False)
    pytester.makeconftest('pytest_plugins = ["tests.server.conftest"]\n')
    pytester.makepyfile(test_needs=textwrap.dedent("""
        def test_postgres(postgres_server):
            pass

        def test_any_database(database_url):
            pass
    """))
    return pytester


def test_missing_postgres_skips(without_postgres):
    result = without_postgres.runpytest_inprocess("-p", "no:cacheprovider", "-v", "-rs")

    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*test_any_database?sqlite? PASSED*"])
    result.stdout.fnmatch_lines(["*PostgreSQL cannot run: *has no executable initdb*"])


def test_missing_postgres_fails_where_required(without_postgres, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_REQUIRE_POSTGRES", "1")

    result = without_postgres.runpytest_inprocess("-p", "no:cacheprovider", "-v")

    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*test_any_database?sqlite? PASSED*"])
    result.stdout.fnmatch_lines(
        ["*PUSHCOLLECTOR_REQUIRE_POSTGRES=1, but PostgreSQL cannot run: *"]
    )
