"""The engine: database URLs, and connections on SQLite and a real PostgreSQL."""

import contextlib
import json
import os
import sqlite3
import subprocess
import sys

import psycopg
import pytest
import sqlalchemy as sa

from pushcollector._impl.store.engine import (
    Limits,
    configured_database_url,
    database_url,
)
from pushcollector._impl.store.queries import Store

# -- URLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, driver",
    [
        ("postgresql://u:p@db:5432/pushes", "postgresql+psycopg"),
        ("postgres://u:p@db/pushes", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/pushes", "postgresql+psycopg"),
        ("sqlite:///pushes.db", "sqlite"),
        ("sqlite:////var/lib/pushes.db", "sqlite"),
    ],
)
def test_urls_as_users_write_them(text, driver):
    assert database_url(text).drivername == driver


@pytest.mark.parametrize(
    "text, message",
    [
        ("not a url", "invalid database URL 'not a url'"),
        (
            "postgresql://me:s3cret@db:port/x",
            "invalid database URL 'postgresql://me:***@db:port/x'",
        ),
        (
            "mysql://me:s3cret@db/x",
            "unsupported database 'mysql' in mysql://me:***@db/x",
        ),
        ("postgresql+asyncpg://db/x", "unsupported database 'postgresql+asyncpg'"),
        ("sqlite://", "names no file"),
        ("sqlite:///:memory:", "names no file"),
        (
            "sqlite://me:s3cret@/x.db",
            "invalid database URL 'sqlite://me:***@/x.db': a SQLite database"
            " is a file, named without user, password or host",
        ),
        ("sqlite://db.example.com/x.db", "named without user, password or host"),
        (
            "postgresql://me:s3c@ret@db/x",
            "invalid database URL 'postgresql://me:***@db/x': an '@' in the user"
            " or password must be written %40",
        ),
        ("me:s3c@ret@db", "invalid database URL 'me:***@db'"),
        ("postgresql://me:s3://cret@db:port/x", "'postgresql://me:***@db:port/x'"),
    ],
)
def test_bad_urls_are_refused_without_their_password(text, message):
    with pytest.raises(ValueError) as raised:
        database_url(text)
    assert message in str(raised.value)
    assert "s3" not in str(raised.value) and "ret" not in str(raised.value)


def test_the_url_comes_from_the_environment_else_the_default(monkeypatch):
    monkeypatch.delenv("PUSHCOLLECTOR_DATABASE_URL", raising=False)
    assert configured_database_url("sqlite:///d.db") == "sqlite:///d.db"
    with pytest.raises(ValueError, match="set PUSHCOLLECTOR_DATABASE_URL"):
        configured_database_url()
    monkeypatch.setenv("PUSHCOLLECTOR_DATABASE_URL", "sqlite:///e.db")
    assert configured_database_url("sqlite:///d.db") == "sqlite:///e.db"


# -- Connections -------------------------------------------------------------


def test_a_forked_child_writes_with_connections_of_its_own(store):
    store.add_push_items("parent", [{"filename": "a", "state": "PUSHED"}])

    pid = os.fork()
    if pid == 0:
        try:
            store.add_push_items("child", [{"filename": "b", "state": "PUSHED"}])
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    store.add_push_items("parent", [{"filename": "c", "state": "PUSHED"}])
    assert store.run("parent").record_count == 2
    assert store.run("child").record_count == 1


def test_a_child_forked_while_its_parent_writes_can_write(database_url):
    # On SQLite the child would wait the busy timeout, 60 s, then fail.
    done = subprocess.run(
        [sys.executable, "-m", "tests.store.fork_mid_write", database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"child": 0, "runs": {"parent": 1, "child": 1}}


ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)


def test_a_write_finding_no_free_connection_fails_in_time_and_reads_go_on(
    database_url,
):
    store = Store(database_url, Limits(wait=0.1))
    store.check_schema(create=True)
    store.add_push_items("r", [{"filename": "a", "state": "PUSHED"}])
    with contextlib.ExitStack() as held:
        # Every connection the pool of writes may open, held, as by writes
        # waiting for a lock.
        with pytest.raises(sa.exc.TimeoutError):
            while True:
                held.enter_context(store.engine.connect())
        with pytest.raises(sa.exc.TimeoutError):
            store.add_push_items("r", [{"filename": "b", "state": "PUSHED"}])
        assert store.run("r").record_count == 1
        assert [run.name for run in store.list_runs()] == ["r"]
    assert store.add_push_items("r", [{"filename": "b", "state": "PUSHED"}])
    store.close()


def test_a_write_waiting_past_the_statement_timeout_fails_as_sqlalchemy_says(
    database_url,
):
    store = Store(database_url, Limits(wait=5, statement_timeout=0.2))
    store.check_schema(create=True)
    store.add_push_items("r", [{"filename": "a", "state": "PUSHED"}])
    # The lock the next write needs, held from a connection of our own.
    if store.is_sqlite:
        holder = sqlite3.connect(store.url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:
        holder = psycopg.connect(database_url)
        holder.execute("SELECT id FROM runs FOR UPDATE")
    with contextlib.closing(holder):
        # On PostgreSQL from the driver's own cursor, which writes use:
        # raised as SQLAlchemy raises the driver's errors all the same.
        with pytest.raises(sa.exc.OperationalError):
            store.add_push_items("r", [{"filename": "b", "state": "PUSHED"}])
        assert store.run("r").record_count == 1
        holder.rollback()
    assert store.add_push_items("r", [{"filename": "b", "state": "PUSHED"}])
    store.close()


def test_after_a_restart_of_postgresql_no_call_fails_on_a_stale_connection(
    postgres_server, postgres_url
):
    store = Store(postgres_url)
    store.check_schema(create=True)
    calls = 6
    # Fill the pools with as many connections as calls follow, half writes
    # and half reads: each call would draw one that the restart left dead.
    for engine in (store.engine, store.read_engine):
        with contextlib.ExitStack() as held:
            for _ in range(calls // 2):
                held.enter_context(engine.connect()).exec_driver_sql("SELECT 1")
        assert engine.pool.checkedin() == calls // 2

    postgres_server.restart_fast()

    try:
        for number in range(calls // 2):
            item = {"filename": "f%d" % number, "state": "PUSHED"}
            assert store.add_push_items("r", [item]) is True
            assert store.run("r").record_count == number + 1
        assert [run.name for run in store.list_runs()] == ["r"]
    finally:
        store.close()
