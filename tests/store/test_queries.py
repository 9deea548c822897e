"""The store: tables, migrations and queries, on SQLite and a real PostgreSQL."""

import datetime
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import hypothesis
import hypothesis.strategies as st
import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from pushcollector._impl.store import queries as store_module
from pushcollector._impl.reading.report import RunReport
from pushcollector._impl.store.queries import (
    DatabaseError,
    KeyReused,
    Store,
    item_key,
)

# The revision this version's migrations end at.
HEAD = store_module._migrations().get_current_head()


def lines_of(store, run):
    return [line for page in store.record_lines(run) for line in page]


def test_a_store_shows_its_url_without_the_password():
    shown = repr(Store("postgresql://me:s3cret@localhost/x"))
    assert shown == "Store('postgresql+psycopg://me:***@localhost/x')"


# -- Schema -------------------------------------------------------------------


def test_an_empty_database_gets_the_schema_only_when_asked(database_url):
    store = Store(database_url)

    with pytest.raises(DatabaseError, match="run 'pushcollector db upgrade"):
        store.check_schema()
    assert store.schema_revision() is None
    store.check_schema(create=True)

    assert store.schema_revision() == HEAD
    store.check_schema()
    assert store.upgrade() == (HEAD, HEAD)


def test_a_database_of_other_tables_is_refused(database_url):
    store = Store(database_url)
    with store.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE accounts (id integer)"))

    with pytest.raises(DatabaseError, match=r"holds tables \(accounts\) but no"):
        store.check_schema(create=True)


def test_a_schema_newer_than_this_version_is_refused(store):
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(DatabaseError, match="revision 9999.* upgrade pushcollector"):
        store.check_schema(create=True)


@pytest.fixture
def next_version(tmp_path, monkeypatch):
    """This version's migrations and one more, as the next version will ship."""
    migrations = tmp_path / "migrations"
    shutil.copytree(store_module._MIGRATIONS_DIR, migrations)
    (migrations / "versions" / "9000_next.py").write_text(
        '"""Revision ID: 9000"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        "revision = '9000'\n"
        "down_revision = %r\n"
        "def upgrade():\n"
        "    op.add_column('runs', sa.Column('note', sa.Text))\n" % HEAD
    )
    monkeypatch.setattr(store_module, "_MIGRATIONS_DIR", str(migrations))
    store_module._migrations.cache_clear()
    yield
    store_module._migrations.cache_clear()


def test_an_outdated_schema_is_refused_until_upgraded(store, next_version):
    with pytest.raises(DatabaseError, match="outdated .*pushcollector db upgrade"):
        store.check_schema(create=True)

    assert store.upgrade() == (HEAD, "9000")
    store.check_schema()
    with store.engine.connect() as connection:
        columns = sa.inspect(connection).get_columns("runs")
    assert "note" in [column["name"] for column in columns]


def test_the_migrations_can_be_undone_and_done_again(store):
    store.add_push_items("r", [{"filename": "a", "state": "PUSHED"}])
    config = store_module._alembic_config()
    with store._writing() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    with store.engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == ["alembic_version"]

    assert store.upgrade() == (None, HEAD)
    assert store.run("r") is None


def test_an_upgrade_from_the_first_schema_keeps_and_orders_its_items(database_url):
    store = Store(database_url)
    config = store_module._alembic_config()
    with store._writing() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    # Final states as the first schema kept them: names as JSON text only.
    names = ["foo", "foo bar", "foo!", "a\\b", "a\x01", "nul\x00", "É", "😀"]
    old_item_states = sa.table(
        "item_states",
        *(sa.column(name) for name in ("run_id", "item_key", "filename_json")),
        *(sa.column(name) for name in ("dest_json", "state", "first_seq")),
    )
    with store.engine.begin() as connection:
        connection.execute(
            store_module.runs.insert().values(
                id=1,
                name="old",
                created_at=datetime.datetime.now(datetime.timezone.utc),
                updated_at=datetime.datetime.now(datetime.timezone.utc),
                record_count=len(names),
            )
        )
        connection.execute(
            old_item_states.insert(),
            [
                {
                    "run_id": 1,
                    "item_key": item_key(name, None if seq % 2 else name),
                    "filename_json": json.dumps(name),
                    "dest_json": None if seq % 2 else json.dumps(name),
                    "state": "NOTFOUND",
                    "first_seq": seq,
                }
                for seq, name in enumerate(names, 1)
            ],
        )

    assert store.upgrade() == ("0001", HEAD)

    run = store.run("old")
    rows, total = store.item_page(run, ["NOTFOUND"], sort="filename", limit=100)
    assert [row[0] for row in rows] == sorted(names)
    assert store.item_page(run, ["NOTFOUND"], contains="FOO")[1] == 3
    assert store.item_page(run, ["NOTFOUND"], contains="u000")[1] == 0
    rows, _ = store.item_page(run, ["NOTFOUND"], sort="dest", limit=100)
    assert [row[1] for row in rows] == [None] * 4 + sorted(names[1::2])
    # The upgraded run takes new items, and orders them with the old.
    store.add_push_items("old", [{"filename": "foo ", "state": "NOTFOUND"}])
    rows, total = store.item_page(run, ["NOTFOUND"], sort="filename", limit=100)
    assert [row[0] for row in rows] == sorted(names + ["foo "])


def test_concurrent_upgrades_from_several_processes_create_one_schema(database_url):
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-m", "pushcollector", "db", "upgrade"],
            env=dict(os.environ, PUSHCOLLECTOR_DATABASE_URL=database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [upgrade.communicate(timeout=120)[0] for upgrade in upgrades]

    assert [upgrade.returncode for upgrade in upgrades] == [0] * 4, outputs
    assert sum("Created the schema" in output for output in outputs) == 1
    assert (
        sum("is up to date (revision %s)" % HEAD in output for output in outputs) == 3
    )
    Store(database_url).check_schema()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_replicas_starting_together_on_an_empty_database_all_start(
    request, tmp_path, database
):
    # The race of two processes is decided in milliseconds: several rounds,
    # each on an empty database of its own.
    for round_number in range(ROUNDS):
        if database == "sqlite":
            url = "sqlite:///%s" % (tmp_path / ("start-%d.db" % round_number))
        else:
            server = request.getfixturevalue("postgres_server")
            url = server.create_database()
        try:
            outputs = start_together(url, REPLICAS)
            revision = Store(url).schema_revision()
        finally:
            if database != "sqlite":
                server.drop_database(url)

        assert outputs == ["ok\n"] * REPLICAS
        assert revision == HEAD


ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
ROUNDS = 6
REPLICAS = 8


def start_together(url, count):
    """What each of ``count`` processes checking the schema of ``url`` at
    one moment printed (tests/store/start_together.py)."""
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.store.start_together", url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]
    # All ready, then all released.
    assert [start.stdout.readline() for start in starts] == ["ready\n"] * count
    for start in starts:
        start.stdin.write("go\n")
        start.stdin.flush()
    return [start.communicate(timeout=120)[0] for start in starts]


# -- Writing and reading ------------------------------------------------------


def test_records_are_numbered_in_order_and_read_back_as_lines(store):
    items = [{"filename": "f%d" % n, "state": "PENDING"} for n in range(12_000)]

    assert store.add_push_items("r", items[:7_000], "r.s.1") is True
    assert store.add_push_items("r", items[7_000:], "r.s.2") is True

    run = store.run("r")
    assert run.record_count == 12_000
    pages = list(store.record_lines(run))
    assert len(pages) > 1
    assert [json.loads(line) for line in lines_of(store, run)] == items


def test_a_repeated_key_stores_nothing(store):
    item = {"filename": "a", "state": "PUSHED"}
    assert store.add_push_items("r", [item], "k") is True
    assert store.add_push_items("r", [item], "k") is False
    assert store.put_file("r", "log", b"x", "p") is True
    assert store.put_file("r", "log", b"x", "p") is False
    assert store.append_file("r", "log", b"y", "a") is True
    assert store.append_file("r", "log", b"y", "a") is False
    # Keys belong to their run.
    assert store.add_push_items("other", [item], "k") is True

    run = store.run("r")
    assert run.record_count == 1
    assert b"".join(store.file_pieces(store.file_id(run, "log"))) == b"xy"


ITEM = {"filename": "a", "state": "PUSHED"}


@pytest.mark.parametrize(
    "reuse, message",
    [
        (
            lambda store: store.add_push_items("r", [ITEM, ITEM], "items"),
            "items of run r was applied to a POST of push items with another body",
        ),
        (
            lambda store: store.put_file("r", "log", b"x", "items"),
            "items of run r was applied to another request (a POST of push"
            " items), not a PUT of file 'log'",
        ),
        (
            lambda store: store.append_file("r", "log", b"x", "items"),
            "(a POST of push items), not a POST to file 'log'",
        ),
        (
            lambda store: store.put_file("r", "log", b"other", "put"),
            "put of run r was applied to a PUT of file 'log' with another body",
        ),
        (
            lambda store: store.put_file("r", "log2", b"put", "put"),
            "(a PUT of file 'log'), not a PUT of file 'log2'",
        ),
        (
            lambda store: store.append_file("r", "log", b"put", "put"),
            "(a PUT of file 'log'), not a POST to file 'log'",
        ),
        (
            lambda store: store.add_push_items("r", [ITEM], "put"),
            "(a PUT of file 'log'), not a POST of push items",
        ),
        (
            lambda store: store.append_file("r", "log", b"other", "append"),
            "append of run r was applied to a POST to file 'log' with another body",
        ),
        (
            lambda store: store.append_file("r", "log2", b"append", "append"),
            "(a POST to file 'log'), not a POST to file 'log2'",
        ),
        (
            lambda store: store.put_file("r", "log", b"append", "append"),
            "(a POST to file 'log'), not a PUT of file 'log'",
        ),
    ],
)
def test_a_key_reused_for_another_request_is_refused_with_nothing_stored(
    store, reuse, message
):
    store.add_push_items("r", [ITEM], "items")
    store.put_file("r", "log", b"put", "put")
    store.append_file("r", "log", b"append", "append")
    before = store.run("r")

    with pytest.raises(KeyReused) as refused:
        reuse(store)

    assert message in str(refused.value)
    assert str(refused.value).endswith("nothing stored; a key names one request")
    run = store.run("r")
    assert run == before
    assert [file.name for file in store.files(run)] == ["log"]
    assert b"".join(store.file_pieces(store.file_id(run, "log"))) == b"putappend"


def test_the_same_push_items_are_the_same_request_however_sent(store):
    """The digest is of the records as stored: a body that decodes to the
    same push items is a repeat."""
    assert store.add_push_items("r", [{"state": "PUSHED", "filename": "a"}], "k")

    assert (
        store.add_push_items("r", [{"filename": "a", "state": "PUSHED"}], "k") is False
    )
    with pytest.raises(KeyReused, match="another body"):
        store.add_push_items("r", [{"filename": "a", "state": "EXISTS"}], "k")


@pytest.mark.parametrize("kind", ["push-items", "append", "put"])
def test_concurrent_uses_of_a_key_apply_one_request(database_url, kind):
    """Writers of one key at once, half of them with another body: one is
    applied, its repeats say so, and the others are refused."""
    writers = 8
    barrier = threading.Barrier(writers)
    stores = [Store(database_url) for _ in range(writers)]
    stores[0].check_schema(create=True)
    # The run is new: the writers contend for creating it, then its lock.
    bodies = [b"first" if n % 2 else b"second" for n in range(writers)]

    def write(n):
        barrier.wait(timeout=60)
        try:
            if kind == "push-items":
                items = [{"filename": bodies[n].decode(), "state": "PUSHED"}]
                return stores[n].add_push_items("r", items, "k")
            if kind == "append":
                return stores[n].append_file("r", "log", bodies[n], "k")
            return stores[n].put_file("r", "log", bodies[n], "k")
        except KeyReused:
            return "refused"

    with ThreadPoolExecutor(writers) as pool:
        outcomes = list(pool.map(write, range(writers)))

    assert outcomes.count(True) == 1, outcomes
    winner = bodies[outcomes.index(True)]
    for body, outcome in zip(bodies, outcomes):
        if outcome is not True:
            assert outcome == (False if body == winner else "refused"), outcomes
    store = stores[0]
    run = store.run("r")
    if kind == "push-items":
        assert [json.loads(line)["filename"] for line in lines_of(store, run)] == [
            winner.decode()
        ]
    else:
        assert b"".join(store.file_pieces(store.file_id(run, "log"))) == winner
    for each in stores:
        each.close()


def test_keys_applied_before_the_store_kept_their_requests_are_repeats(
    database_url,
):
    """A database of revision 0001, with a run, records, a file and an
    applied key, upgraded: all is kept, and the key is a repeat of any
    request (what it was applied to is not known)."""
    store = Store(database_url)
    config = store_module._alembic_config()
    with store._writing() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    now = datetime.datetime.now(datetime.timezone.utc)
    with store._writing() as connection, connection.begin():
        connection.execute(
            sa.text(
                "INSERT INTO runs (id, name, created_at, updated_at, record_count)"
                " VALUES (1, 'old', :now, :now, 1)"
            ),
            {"now": now},
        )
        connection.execute(
            sa.text(
                "INSERT INTO push_items (run_id, seq, record) VALUES"
                ' (1, 1, \'{"filename": "a", "state": "PUSHED"}\')'
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO item_states VALUES"
                " (1, :item, '\"a\"', NULL, 'PUSHED', 1)"
            ),
            {"item": item_key("a", None)},
        )
        connection.execute(
            sa.text(
                "INSERT INTO applied_requests (run_id, key, applied_at)"
                " VALUES (1, 'old-key', :now)"
            ),
            {"now": now},
        )

    assert store.upgrade() == ("0001", HEAD)

    store.check_schema()
    # The run was declared no bad lines.
    assert store.run("old").bad_line_count == 0
    assert store.bad_lines(store.run("old")) == []
    assert store.add_push_items("old", [ITEM, ITEM], "old-key") is False
    assert store.put_file("old", "log", b"x", "old-key") is False
    run = store.run("old")
    assert run.record_count == 1
    assert [json.loads(line) for line in lines_of(store, run)] == [ITEM]
    assert store.files(run) == []
    # New keys keep what they were applied to.
    assert store.put_file("old", "log", b"x", "new-key") is True
    with pytest.raises(KeyReused):
        store.put_file("old", "log", b"y", "new-key")
    store.close()


def test_bad_lines_declared_are_the_run_s_and_fail_its_verdict(store):
    store.add_push_items("r", [ITEM])
    lines = [(2, "not valid JSON"), (7, "any text: \0 \udcff \U0001f600")]

    assert store.set_bad_lines("r", lines, "k") is True
    assert store.set_bad_lines("r", lines, "k") is False

    run = store.run("r")
    assert run.bad_line_count == 2
    assert store.bad_lines(run) == lines
    (counts,) = store.counts([run])
    report = RunReport.of_counts(counts)
    assert (report.bad_line_count, report.passed) == (2, False)
    # Declared again, in place of those before.
    assert store.set_bad_lines("r", lines[1:]) is True
    assert store.bad_lines(store.run("r")) == lines[1:]
    assert store.set_bad_lines("r", []) is True
    assert RunReport.of_counts(store.counts([store.run("r")])[0]).passed is True
    # A run is created by its bad lines alone, as by any write.
    store.set_bad_lines("new", lines)
    assert store.run("new").record_count == 0


def test_final_states_are_the_last_of_each_item(store):
    store.add_push_items(
        "r",
        [
            {"filename": "a", "state": "PENDING"},
            {"filename": "a", "state": "PENDING", "dest": "d1"},
            {"filename": "a", "state": "PENDING", "dest": ""},
            {"filename": "b", "state": "PENDING"},
        ],
    )
    store.add_push_items(
        "r",
        [
            {"filename": "b", "state": "NOTFOUND"},
            {"filename": "a", "state": "PUSHED", "dest": "d1"},
            {"filename": "c", "state": "PENDING"},
            {"filename": "c", "state": "UPLOADFAILED"},
            {"filename": "a", "state": "UNKNOWN"},
        ],
    )

    run = store.run("r")
    (counts,) = store.counts([run])
    assert counts.states == {
        "PENDING": 1,
        "NOTFOUND": 1,
        "PUSHED": 1,
        "UNKNOWN": 1,
        "UPLOADFAILED": 1,
    }
    report = RunReport.of_counts(counts)
    assert report.push_item_count == 5
    assert report.unsuccessful_count == 3
    assert report.unfinished_count == 1
    # In the order each item was first recorded.
    assert list(store.items_in_states(run, report.unsuccessful_states)) == [
        ("a", None, "UNKNOWN"),
        ("b", None, "NOTFOUND"),
        ("c", None, "UPLOADFAILED"),
    ]
    assert list(store.items_in_states(run, ["PENDING"])) == [("a", "", "PENDING")]
    assert list(store.items_in_states(run, [])) == []


def test_items_in_states_are_read_a_page_at_a_time_in_recorded_order(
    store, monkeypatch
):
    monkeypatch.setattr(store_module, "_ITEMS_PER_FETCH", 3)
    states = ["NOTFOUND", "CHECKSUM", "PUSHED", "NOTFOUND", "UNSIGNED"] * 5
    store.add_push_items(
        "r", [{"filename": "f%02d" % n, "state": s} for n, s in enumerate(states)]
    )
    wanted = ["UNSIGNED", "NOTFOUND", "CHECKSUM", "NOTFOUND"]

    items = store.items_in_states(store.run("r"), wanted)

    assert list(items) == [
        ("f%02d" % n, None, state) for n, state in enumerate(states) if state in wanted
    ]


def test_names_of_any_length_and_characters_are_kept(store):
    names = ["nul\u0000", "back\\slash", "tab\tnew\nline", "ü" * 5000, "x" * 20_000]
    store.add_push_items(
        "r", [{"filename": name, "dest": name, "state": "NOTFOUND"} for name in names]
    )

    run = store.run("r")
    assert list(store.items_in_states(run, ["NOTFOUND"])) == [
        (name, name, "NOTFOUND") for name in names
    ]
    assert [json.loads(line)["filename"] for line in lines_of(store, run)] == names


def test_item_keys_tell_every_pair_apart():
    pairs = [("a", None), ("a", ""), ("", "a"), ("a:", "b"), ("a", ":b"), ("1:a", "")]
    assert len({item_key(filename, dest) for filename, dest in pairs}) == len(pairs)


def test_files_are_put_appended_and_read_piece_by_piece(store):
    store.append_file("r", "log", b"one\n")
    store.append_file("r", "log", b"")
    store.append_file("r", "log", b"two\n")
    store.put_file("r", "report", b"old")
    store.put_file("r", "report", b"new")
    store.append_file("r", "empty", b"")

    run = store.run("r")
    assert [(row.name, row.size) for row in store.files(run)] == [
        ("empty", 0),
        ("log", 8),
        ("report", 3),
    ]
    assert list(store.file_pieces(store.file_id(run, "log"))) == [b"one\n", b"two\n"]
    assert list(store.file_pieces(store.file_id(run, "report"))) == [b"new"]
    assert list(store.file_pieces(store.file_id(run, "empty"))) == [b""]
    assert store.file_id(run, "missing") is None
    assert store.counts([run])[0].file_count == 3


def test_a_file_is_read_back_in_batches_of_pieces(store, monkeypatch):
    monkeypatch.setattr(store_module, "_PIECES_PER_FETCH", 3)
    monkeypatch.setattr(store_module, "_BYTES_PER_FETCH", 10)
    pieces = [b"a" * 4, b"b" * 4, b"c" * 20, b"d", b"e", b"f", b"g" * 9, b"h"]
    for piece in pieces:
        store.append_file("r", "log", piece)

    file_id = store.file_id(store.run("r"), "log")
    # Small pieces in batches of 10 bytes at most; the larger one in slices.
    assert list(store.file_pieces(file_id)) == [
        b"a" * 4,
        b"b" * 4,
        b"c" * 10,
        b"c" * 10,
        b"d",
        b"e",
        b"f",
        b"g" * 9,
        b"h",
    ]


@pytest.mark.parametrize("as_file", [False, True], ids=["bytes", "file"])
def test_a_large_write_is_stored_in_pieces_in_one_transaction(
    store, monkeypatch, as_file, tmp_path
):
    monkeypatch.setattr(store_module, "MAX_PIECE_BYTES", 4)

    def content(data):
        if not as_file:
            return data
        handle = open(tmp_path / "body", "w+b")
        handle.write(b"skipped" + data)
        handle.seek(len(b"skipped"))
        return handle

    store.append_file("r", "log", content(b"0123456789"))
    store.append_file("r", "log", content(b"abcde"), key="k")
    # A repeat: its content, read from a file in pieces, digests as the first.
    assert not store.append_file("r", "log", content(b"abcde"), key="k")
    with pytest.raises(store_module.KeyReused):
        store.append_file("r", "log", content(b"abcdf"), key="k")
    store.append_file("r", "log", content(b""))
    store.put_file("r", "report", content(b"first version"))
    store.put_file("r", "report", content(b"second"))

    run = store.run("r")
    with store.engine.connect() as connection:
        pieces = connection.execute(
            sa.select(store_module.file_pieces.c.piece, store_module.file_pieces.c.data)
            .where(store_module.file_pieces.c.file_id == store.file_id(run, "log"))
            .order_by(store_module.file_pieces.c.piece)
        ).all()
    assert [(number, bytes(data)) for number, data in pieces] == [
        (1, b"0123"),
        (2, b"4567"),
        (3, b"89"),
        (4, b"abcd"),
        (5, b"e"),
    ]
    assert [(row.name, row.size) for row in store.files(run)] == [
        ("log", 15),
        ("report", 6),
    ]
    assert b"".join(store.file_pieces(store.file_id(run, "report"))) == b"second"
    assert store.file_tail(run, "log", 6) == (store.files(run)[0], b"9abcde")


def test_a_piece_larger_than_a_batch_is_read_in_slices(store, monkeypatch):
    monkeypatch.setattr(store_module, "_BYTES_PER_FETCH", 4)
    store.put_file("r", "f", b"0123456789")
    file_id = store.file_id(store.run("r"), "f")
    sliced = store.file_pieces(file_id)
    assert next(sliced) == b"0123"

    # Replaced meanwhile by a shorter file: what was read stays.
    monkeypatch.setattr(store_module, "MAX_PIECE_BYTES", 100)
    store.put_file("r", "f", b"abc")
    assert list(sliced) == []


def test_files_are_listed_a_page_at_a_time(store, monkeypatch):
    monkeypatch.setattr(store_module, "_FILES_PER_FETCH", 2)
    names = ["a", "b", "c", "d", "e"]
    for name in reversed(names):
        store.append_file("r", name, b"x")
    run = store.run("r")

    assert [row.name for row in store.iter_files(run)] == names
    assert [row.name for row in store.files(run, 2, 1)] == ["b", "c"]
    assert [row.name for row in store.files(run)] == names
    store.append_file("r", "f", b"x")
    assert [row.name for row in store.iter_files(run)] == names + ["f"]


def test_runs_are_listed_newest_first(store):
    for name in ("first", "second", "third"):
        store.add_push_items(name, [{"filename": "a", "state": "PUSHED"}])

    assert [run.name for run in store.list_runs()] == ["third", "second", "first"]
    assert [run.name for run in store.list_runs(limit=1, offset=1)] == ["second"]
    assert store.newest_run().name == "third"
    assert store.run_count() == 3
    assert store.run("missing") is None


def test_an_empty_store_has_no_newest_run(store):
    assert store.newest_run() is None
    assert store.list_runs() == []


def test_a_snapshot_reads_everything_as_it_was_at_one_moment(store):
    store.add_push_items("r", [{"filename": "a", "state": "NOTFOUND"}])
    with store.snapshot() as reader:
        run = reader.run("r")
        # Written after the snapshot's first read: none of it is seen in it.
        store.add_push_items("r", [{"filename": "b", "state": "NOTFOUND"}])
        store.put_file("r", "log", b"x")
        store.add_push_items("s", [{"filename": "a", "state": "PUSHED"}])
        (counts,) = reader.counts([run])
        with reader.snapshot() as same:
            page = same.item_page(run, ["NOTFOUND"])
        seen = (
            counts.run.record_count,
            counts.states,
            counts.file_count,
            list(reader.items_in_states(run, ["NOTFOUND"])),
            page,
            reader.files(run),
            [run.name for run in reader.list_runs()],
            reader.run_count(),
        )

    assert seen == (
        1,
        {"NOTFOUND": 1},
        0,
        [("a", None, "NOTFOUND")],
        ([("a", None, "NOTFOUND")], 1),
        [],
        ["r"],
        1,
    )
    # Outside a snapshot, each read sees what was committed before it; the
    # counts of a run come with the run as it is read with them.
    (counts,) = store.counts([run])
    assert (counts.run.record_count, counts.states, counts.file_count) == (
        2,
        {"NOTFOUND": 2},
        1,
    )


def moments_of(store, run_name):
    """Every moment the store gives back of a run: when it was created and
    last written, when its file was last written."""
    run = store.run(run_name)
    (listed,) = store.list_runs()
    (file_row,) = store.files(run)
    tail_row, _ = store.file_tail(run, file_row.name, 1)
    return [
        run.created_at,
        run.updated_at,
        listed.created_at,
        file_row.updated_at,
        tail_row.updated_at,
    ]


def write_a_run(store, run_name):
    """Write a run; the moments between which it was written."""
    before = datetime.datetime.now(datetime.timezone.utc)
    store.add_push_items(run_name, [{"filename": "a", "state": "PUSHED"}])
    store.append_file(run_name, "log", b"line\n")
    return before, datetime.datetime.now(datetime.timezone.utc)


def test_moments_are_given_back_in_utc(store):
    before, after = write_a_run(store, "r")

    for moment in moments_of(store, "r"):
        assert moment.tzinfo is datetime.timezone.utc
        assert before <= moment <= after


def test_moments_are_given_back_in_utc_whatever_the_time_zone_of_postgresql(
    postgres_server, postgres_url
):
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server.url, autocommit=True) as connection:
        connection.execute("ALTER DATABASE %s SET timezone = 'Asia/Tokyo'" % name)
    store = Store(postgres_url)
    try:
        store.check_schema(create=True)
        with store.engine.connect() as connection:
            zone = connection.exec_driver_sql("SHOW timezone").scalar_one()
        before, after = write_a_run(store, "r")

        assert zone == "Asia/Tokyo"
        for moment in moments_of(store, "r"):
            assert moment.tzinfo is datetime.timezone.utc
            assert before <= moment <= after
    finally:
        store.close()


# -- Pages of items, tails of files -------------------------------------------


def page_items(store, run, states, **options):
    return store.item_page(run, states, **options)


def test_a_page_of_items_is_sorted_filtered_and_counted(store):
    store.add_push_items(
        "r",
        [
            {"filename": "b.rpm", "state": "NOTFOUND", "dest": "repo-2"},
            {"filename": "a.rpm", "state": "UPLOADFAILED", "dest": "repo-1"},
            {"filename": "C.rpm", "state": "NOTFOUND"},
            {"filename": "d.rpm", "state": "PUSHED", "dest": "repo-1"},
            {"filename": 'é"%_.rpm', "state": "NOTFOUND", "dest": "x"},
        ],
    )
    run = store.run("r")
    failed = ["NOTFOUND", "UPLOADFAILED"]

    def names(**options):
        rows, total = store.item_page(run, failed, **options)
        return [row[0] for row in rows], total

    assert store.item_page(run, failed, limit=2) == (
        [("b.rpm", "repo-2", "NOTFOUND"), ("a.rpm", "repo-1", "UPLOADFAILED")],
        4,
    )
    assert names(offset=2) == (["C.rpm", 'é"%_.rpm'], 4)
    assert names(descending=True) == (['é"%_.rpm', "C.rpm", "a.rpm", "b.rpm"], 4)
    # By code point: upper case before lower case, é last.
    assert names(sort="filename") == (["C.rpm", "a.rpm", "b.rpm", 'é"%_.rpm'], 4)
    assert names(sort="filename", descending=True, limit=1) == (['é"%_.rpm'], 4)
    assert names(sort="dest") == (["C.rpm", "a.rpm", "b.rpm", 'é"%_.rpm'], 4)
    assert names(sort="state") == (["b.rpm", "C.rpm", 'é"%_.rpm', "a.rpm"], 4)
    assert store.item_page(run, ["NOTFOUND"], contains="RPM")[1] == 3
    assert names(contains="REPO-") == (["b.rpm", "a.rpm"], 2)
    # Characters that are special to LIKE, or escaped in JSON, are text.
    assert names(contains='"%_') == (['é"%_.rpm'], 1)
    assert names(contains="%") == (['é"%_.rpm'], 1)
    assert names(contains="nothing") == ([], 0)
    assert store.item_page(run, []) == ([], 0)
    with pytest.raises(ValueError):
        store.item_page(run, failed, sort="size")


# Names JSON writes with escapes or quotes, names that are prefixes of one
# another, control characters, NUL, and characters beyond ASCII.
HOSTILE_NAMES = [
    "foo",
    "foo bar",
    "foo!",
    'foo"',
    "foo\\",
    "foo/",
    "FOO",
    "Foo",
    "a\\b",
    "a\x01",
    "a\x00",
    "a\x00b",
    "\x00",
    "a\u001f",
    "a\x7f",
    "tab\there",
    "line\nbreak",
    "é",
    "É",
    "e\u0301",
    "ÿ",
    "\u0100",
    "\u2028",
    "\uffff",
    "😀",
    "😀x",
    "u0000",
    "\\u0000",
    "%_",
    "",
]

NEEDLES = ["foo", "FOO", "o ", "!", '"', "\\", "\x00", "u000", "\\u", "x0", "é", "É"]
NEEDLES += ["😀", "\x01", "%", "_", "\n", "a", "e"]


def ascii_folded(text):
    # Only ASCII letters are folded: bytes.lower() folds nothing else.
    return text.encode("utf-8").lower()


def check_sorted_and_searched(store, run_name, names, needles):
    """A run of one item per name, filename and dest alike, sorted and
    searched as Python does."""
    store.add_push_items(
        run_name,
        [{"filename": name, "dest": name, "state": "NOTFOUND"} for name in names]
        + [{"filename": "\x00no dest", "state": "NOTFOUND"}],
    )
    run = store.run(run_name)
    everything = len(names) + 1

    def page(**options):
        rows, total = store.item_page(run, ["NOTFOUND"], limit=everything, **options)
        return [row[0] for row in rows], total

    with_dest = sorted(names)
    assert page(sort="filename") == (
        sorted(names + ["\x00no dest"]),
        everything,
    )
    assert page(sort="filename", descending=True)[0] == sorted(
        names + ["\x00no dest"], reverse=True
    )
    assert page(sort="dest")[0] == ["\x00no dest"] + with_dest
    for needle in needles:
        expected = [
            name
            for name in names + ["\x00no dest"]
            if ascii_folded(needle) in ascii_folded(name)
        ]
        assert page(contains=needle) == (expected, len(expected)), repr(needle)


def test_names_are_sorted_by_code_point_and_searched_as_text(store):
    check_sorted_and_searched(store, "r", HOSTILE_NAMES, NEEDLES)


@hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(
    names=st.lists(st.text(max_size=6), min_size=1, max_size=8, unique=True),
    needles=st.lists(st.text(min_size=1, max_size=3), max_size=4),
)
def test_any_names_are_sorted_by_code_point_and_searched_as_text(store, names, needles):
    names = [name for name in names if name != "\x00no dest"]
    needles += [name[1:3] for name in names if name[1:3]]
    check_sorted_and_searched(store, "r-%s" % uuid.uuid4().hex, names, needles)


def test_the_tail_of_a_file_reads_only_its_last_pieces(store, monkeypatch):
    monkeypatch.setattr(store_module, "_PIECES_PER_FETCH", 2)
    for number in range(10):
        store.append_file("r", "log", b"%d" % number * 3)
    store.put_file("r", "small", b"whole")
    run = store.run("r")

    row, data = store.file_tail(run, "log", 7)
    assert (row.name, row.size, data) == ("log", 30, b"7888999")
    assert store.file_tail(run, "log", 30)[1] == b"".join(
        b"%d" % number * 3 for number in range(10)
    )
    assert store.file_tail(run, "log", 1000)[1] == store.file_tail(run, "log", 30)[1]
    assert store.file_tail(run, "small", 1000)[1] == b"whole"
    assert store.file_tail(run, "missing", 10) is None
