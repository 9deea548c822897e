"""What one request of the service holds in memory, whatever the size of the
file, body or run it concerns: measured with tracemalloc, against the
service's application in this process, on SQLite and PostgreSQL."""

import hashlib
import json
import os

import pytest
import sqlalchemy as sa

from pushcollector._impl.reading.report import RunReport
from pushcollector._impl.server.app import create_app
from pushcollector._impl.store import queries as store_module
from pushcollector._impl.store.tables import file_pieces, files

from ..store.conftest import store  # noqa: F401
from .asgi import peak_allocation, request

# The media type of a file's body, which the service requires.
BYTES = [("Content-Type", "application/octet-stream")]
MIB = 1024 * 1024

# The size of the file, body or document of each test, and the most a
# request may allocate at once while it concerns one: well under it.
LARGE = 32 * MIB
BOUND = 12 * MIB

CHUNK = b"0123456789abcdef" * 4096  # 64 KiB


def chunks(size):
    """A body of ``size`` bytes, made as it is sent: never held whole."""
    for _ in range(size // len(CHUNK)):
        yield CHUNK


@pytest.fixture
def app(store):
    return create_app(store)


def write_large_file(store, how):
    """A file of LARGE bytes in run ``r``: written by this version, or as one
    piece, as earlier versions stored every attached file."""
    if how == "written":
        store.put_file("r", "big.log", b"".join(chunks(LARGE)))
        return
    store.put_file("r", "big.log", b"")
    with store.engine.begin() as connection:
        file_id = connection.execute(
            sa.select(files.c.id).where(files.c.name == "big.log")
        ).scalar_one()
        connection.execute(files.update().values(size=LARGE))
        connection.execute(
            file_pieces.update()
            .where(file_pieces.c.file_id == file_id)
            .values(data=b"".join(chunks(LARGE)))
        )


def digest_of(content_chunks):
    digest = hashlib.sha256()
    for chunk in content_chunks:
        digest.update(chunk)
    return digest.hexdigest()


LARGE_DIGEST = digest_of(chunks(LARGE))


@pytest.mark.parametrize("how", ["written", "one piece"])
@pytest.mark.parametrize(
    "path",
    [
        "/runs/r/files/big.log",
        "/runs/r/files/big.log?raw=1",
        "/api/runs/r/files/big.log",
    ],
)
def test_reading_a_large_file_holds_a_bounded_part_of_it(store, app, how, path):
    write_large_file(store, how)

    peak, answer = peak_allocation(lambda: request(app, "GET", path, keep_body=False))

    assert answer.status == 200
    if "?raw" in path or "/api/" in path:
        assert answer.size == LARGE
    assert peak < BOUND, "%d MiB" % (peak // MIB)


@pytest.mark.parametrize("how", ["written", "one piece"])
def test_the_tail_of_a_large_file_is_its_last_bytes(store, how):
    write_large_file(store, how)

    row, data = store.file_tail(store.run("r"), "big.log", 100_000)

    assert row.size == LARGE
    assert data == b"".join(chunks(LARGE))[-100_000:]


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_large_file_body_is_not_held_whole(store, app, method):
    request(app, "PUT", "/api/runs/r/files/big.log", [b"before\n"], headers=BYTES)

    peak, answer = peak_allocation(
        lambda: request(
            app, method, "/api/runs/r/files/big.log", chunks(LARGE), headers=BYTES
        )
    )

    assert answer.status == 200
    assert json.loads(answer.body) == {"applied": True, "bytes": LARGE}
    assert peak < BOUND, "%d MiB" % (peak // MIB)
    run = store.run("r")
    file_id = store.file_id(run, "big.log")
    content = store.file_pieces(file_id)
    if method == "POST":
        assert next(content) == b"before\n"
    assert digest_of(content) == LARGE_DIGEST
    assert store.files(run)[0].size == LARGE + (7 if method == "POST" else 0)


def unsuccessful_items(count):
    # Names long enough that the summary of the run is over LARGE bytes.
    return [
        {
            "filename": "%06d-%s.rpm" % (number, "n" * 180),
            "dest": "repo-%s" % ("d" * 180),
            "state": ("NOTFOUND", "CHECKSUM", "PENDING")[number % 3],
        }
        for number in range(count)
    ]


def test_a_summary_the_database_fails_part_way_is_a_503_not_a_torn_answer(
    store, app, monkeypatch
):
    # The summary is written whole before its first byte is sent: a failure
    # of the database half-way through its items is an answer of its own.
    store.add_push_items("r", unsuccessful_items(10))
    read_items = store_module.Store.items_in_states

    def failing_part_way(self, run, states):
        items = read_items(self, run, states)
        yield next(items)
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection lost"))

    monkeypatch.setattr(store_module.Store, "items_in_states", failing_part_way)

    answer = request(app, "GET", "/api/runs/r/summary")

    assert answer.status == 503
    assert answer.headers["retry-after"] == "1"
    assert json.loads(answer.body) == {"error": "database unavailable, try again"}


def test_a_summary_of_many_items_is_streamed(store, app):
    items = unsuccessful_items(90_000)
    for start in range(0, len(items), 10_000):
        store.add_push_items("r", items[start : start + 10_000])
    run = store.run("r")

    peak, answer = peak_allocation(
        lambda: request(app, "GET", "/api/runs/r/summary", keep_body=False)
    )
    whole = request(app, "GET", "/api/runs/r/summary")

    assert answer.status == 200
    assert answer.size > LARGE
    assert peak < BOUND, "%d MiB" % (peak // MIB)
    assert whole.headers["content-type"] == "application/json"
    (counts,) = store.counts([run])
    expected = RunReport.of_counts(
        counts,
        unsuccessful=[
            (item["filename"], item["dest"], item["state"])
            for item in items
            if item["state"] != "PENDING"
        ],
        unfinished=[
            (item["filename"], item["dest"], item["state"])
            for item in items
            if item["state"] == "PENDING"
        ],
    ).document("r", {"directory": None, "items_file": None}, True)
    assert json.loads(whole.body) == expected


def test_the_list_of_many_files_is_streamed(store, app, monkeypatch):
    monkeypatch.setattr(store_module, "_FILES_PER_FETCH", 100)
    names = ["f%05d-%s" % (number, "x" * 200) for number in range(10_000)]
    store.append_file("r", "first", b"")
    with store.engine.begin() as connection:
        run_id, updated_at = connection.execute(
            sa.select(files.c.run_id, files.c.updated_at)
        ).one()
        connection.execute(file_pieces.delete())
        connection.execute(files.delete())
        connection.execute(
            files.insert(),
            [
                {
                    "run_id": run_id,
                    "name": name,
                    "size": 0,
                    "piece_count": 0,
                    "updated_at": updated_at,
                }
                for name in names
            ],
        )

    peak, answer = peak_allocation(
        lambda: request(app, "GET", "/api/runs/r/files", keep_body=False)
    )
    whole = request(app, "GET", "/api/runs/r/files")

    assert answer.status == 200
    listed = json.loads(whole.body)["files"]
    assert [entry["name"] for entry in listed] == names
    assert {entry["size"] for entry in listed} == {0}
    # Of the list's own size, a part.
    assert peak < answer.size / 2


def open_files():
    return len(os.listdir("/proc/self/fd"))


def test_a_large_body_refused_part_way_leaves_no_temporary_file(store):
    app = create_app(store, max_body=3 * MIB)
    request(app, "PUT", "/api/runs/r/files/big.log", [b"kept"], headers=BYTES)
    before = open_files()

    answer = request(
        app, "POST", "/api/runs/r/files/big.log", chunks(4 * MIB), headers=BYTES
    )

    assert answer.status == 413
    assert open_files() == before
    assert b"".join(store.file_pieces(store.file_id(store.run("r"), "big.log"))) == (
        b"kept"
    )
