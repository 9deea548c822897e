"""The store: tables, migrations and queries, on SQLite and a real PostgreSQL."""

import datetime
import json
import os
import shutil
import subprocess
import sys

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from pushcollector._impl.store import queries as store_module
from pushcollector._impl.reading.report import RunReport
from pushcollector._impl.store.queries import DatabaseError, Store, item_key


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

    assert store.schema_revision() == "0001"
    store.check_schema()
    assert store.upgrade() == ("0001", "0001")


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
    (migrations / "versions" / "0002_next.py").write_text(
        '"""Revision ID: 0002"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        "revision = '0002'\n"
        "down_revision = '0001'\n"
        "def upgrade():\n"
        "    op.add_column('runs', sa.Column('note', sa.Text))\n"
    )
    monkeypatch.setattr(store_module, "_MIGRATIONS_DIR", str(migrations))
    store_module._migrations.cache_clear()
    yield
    store_module._migrations.cache_clear()


def test_an_outdated_schema_is_refused_until_upgraded(store, next_version):
    with pytest.raises(DatabaseError, match="outdated .*pushcollector db upgrade"):
        store.check_schema(create=True)

    assert store.upgrade() == ("0001", "0002")
    store.check_schema()
    with store.engine.connect() as connection:
        columns = sa.inspect(connection).get_columns("runs")
    assert "note" in [column["name"] for column in columns]


def test_the_first_migration_can_be_undone_and_done_again(store):
    store.add_push_items("r", [{"filename": "a", "state": "PUSHED"}])
    config = store_module._alembic_config()
    with store._writing() as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    with store.engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == ["alembic_version"]

    assert store.upgrade() == (None, "0001")
    assert store.run("r") is None


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
    assert sum("is up to date (revision 0001)" in output for output in outputs) == 3
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
        assert revision == "0001"


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
    assert store.add_push_items("r", [item, item], "k") is False
    assert store.put_file("r", "log", b"x", "k") is False
    assert store.append_file("r", "log", b"x", "k") is False
    # Keys belong to their run.
    assert store.add_push_items("other", [item], "k") is True

    run = store.run("r")
    assert run.record_count == 1
    assert store.files(run) == []


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
    assert store.items_in_states(run, report.unsuccessful_states) == [
        ("a", None, "UNKNOWN"),
        ("b", None, "NOTFOUND"),
        ("c", None, "UPLOADFAILED"),
    ]
    assert store.items_in_states(run, ["PENDING"]) == [("a", "", "PENDING")]
    assert store.items_in_states(run, []) == []


def test_names_of_any_length_and_characters_are_kept(store):
    names = ["nul\u0000", "back\\slash", "tab\tnew\nline", "ü" * 5000, "x" * 20_000]
    store.add_push_items(
        "r", [{"filename": name, "dest": name, "state": "NOTFOUND"} for name in names]
    )

    run = store.run("r")
    assert store.items_in_states(run, ["NOTFOUND"]) == [
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
    assert list(store.file_pieces(file_id)) == pieces


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
            reader.items_in_states(run, ["NOTFOUND"]),
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
