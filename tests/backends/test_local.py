import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from pushcollector import Collector, LocalCollector, open_run

from ..fakes import FakePushItem

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
RUN_NAME = re.compile(r"\d{14}(-\d{6})?")


def run_dir(collector):
    return collector._backend.run_dir


def latest(base):
    return base / "artifacts" / "latest"


def item(name, **extra):
    return dict(filename=name, state="PUSHED", **extra)


def test_run_dir_is_a_timestamp_under_cwd_artifacts(in_tmp_dir):
    collector = Collector.get("local")
    assert run_dir(collector) is None
    collector.update_push_items([]).result()

    path = run_dir(collector)
    assert os.path.dirname(path) == str(in_tmp_dir / "artifacts")
    assert re.fullmatch(r"\d{14}", os.path.basename(path))


def test_nothing_is_created_before_the_first_write(in_tmp_dir):
    Collector.get("local")
    assert list(in_tmp_dir.iterdir()) == []


def test_first_write_creates_run_dir_and_latest(in_tmp_dir):
    collector = Collector.get("local")
    collector.update_push_items([]).result()

    assert os.readlink(latest(in_tmp_dir)) == os.path.basename(run_dir(collector))
    assert (latest(in_tmp_dir) / "pushitems.jsonl").read_bytes() == b""


def test_push_items_are_sorted_json_lines(in_tmp_dir):
    items = [
        {"state": "PENDING", "filename": "b.rpm", "dest": None, "zzz": [1, "é"]},
        {"filename": "a.rpm", "state": "PUSHED", "checksums": {"md5": MD5}},
    ]
    collector = Collector.get("local")
    collector.update_push_items(items[:1]).result()
    collector.update_push_items(items[1:]).result()

    data = (latest(in_tmp_dir) / "pushitems.jsonl").read_bytes()
    assert data == (
        b'{"dest": null, "filename": "b.rpm", "state": "PENDING", "zzz": [1, "\\u00e9"]}\n'
        b'{"checksums": {"md5": "'
        + MD5.encode()
        + b'"}, "filename": "a.rpm", "state": "PUSHED"}\n'
    )
    assert data == b"".join(
        (json.dumps(item, sort_keys=True) + "\n").encode() for item in items
    )


def test_large_batch_is_written_whole_and_in_order(in_tmp_dir):
    items = [item(str(i), seq=i) for i in range(10_000)]
    Collector.get("local").update_push_items(items).result()
    lines = (latest(in_tmp_dir) / "pushitems.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(10_000))


def test_push_items_from_push_item_objects(in_tmp_dir):
    collector = Collector.get("local")
    collector.update_push_items([FakePushItem(name="x", dest=["a", "b"])]).result()
    lines = (latest(in_tmp_dir) / "pushitems.jsonl").read_text()
    assert [json.loads(line)["dest"] for line in lines.splitlines()] == ["a", "b"]


@pytest.mark.parametrize("unencodable", [{1, 2}, object(), b"bytes"])
def test_unencodable_item_writes_nothing(in_tmp_dir, unencodable):
    collector = Collector.get("local")
    items = [item("ok"), item("bad", extra=unencodable), item("ok2")]
    with pytest.raises(TypeError):
        collector.update_push_items(items)
    assert list(in_tmp_dir.iterdir()) == []

    collector.update_push_items([item("first")]).result()
    with pytest.raises(TypeError):
        collector.update_push_items(items)
    lines = (latest(in_tmp_dir) / "pushitems.jsonl").read_text()
    assert lines == '{"filename": "first", "state": "PUSHED"}\n'


def test_attach_overwrites_and_append_extends(in_tmp_dir):
    collector = Collector.get("local")
    collector.attach_file("report.txt", "first version, longer").result()
    collector.attach_file("report.txt", b"second").result()
    collector.append_file("log.txt", "line 1\n").result()
    collector.append_file("log.txt", b"line 2\n").result()

    assert (latest(in_tmp_dir) / "report.txt").read_bytes() == b"second"
    assert (latest(in_tmp_dir) / "log.txt").read_bytes() == b"line 1\nline 2\n"
    # No staging file is left behind.
    assert sorted(os.listdir(latest(in_tmp_dir))) == ["log.txt", "report.txt"]


def test_filenames_with_subdirectories(in_tmp_dir):
    collector = Collector.get("local")
    collector.attach_file("a/b/c.txt", "deep").result()
    collector.append_file("a/log", "x").result()

    assert (latest(in_tmp_dir) / "a" / "b" / "c.txt").read_text() == "deep"
    assert (latest(in_tmp_dir) / "a" / "log").read_text() == "x"


def test_logs_each_new_file_once(in_tmp_dir, caplog):
    caplog.set_level(logging.INFO, logger="pushcollector")
    collector = Collector.get("local")
    collector.update_push_items([]).result()
    collector.update_push_items([]).result()
    collector.append_file("log", "a").result()
    collector.append_file("log", "b").result()
    collector.attach_file("sub/report", "a").result()
    collector.attach_file("sub/report", "b").result()

    base = run_dir(collector)
    assert os.path.isabs(base)
    assert [r.getMessage() for r in caplog.records] == [
        "Logging to %s" % os.path.join(base, name)
        for name in ("pushitems.jsonl", "log", "sub/report")
    ]
    assert all(r.name == "pushcollector" for r in caplog.records)


@pytest.mark.parametrize(
    "filename",
    [
        "pushitems.jsonl",
        # The same file on a case-insensitive filesystem.
        "PUSHITEMS.JSONL",
        "PushItems.jsonl",
        "pu\u017fhitems.jsonl",
        # A directory of that name would stop every later update_push_items.
        "pushitems.jsonl/x",
        "PUSHITEMS.JSONL/sub/x",
    ],
)
@pytest.mark.parametrize("method", ["attach_file", "append_file"])
def test_push_items_file_is_reserved(in_tmp_dir, method, filename):
    collector = Collector.get("local")
    collector.update_push_items([item("x")]).result()
    with pytest.raises(ValueError, match="reserved for push items") as error:
        getattr(collector, method)(filename, "oops")
    assert repr(filename) in str(error.value)
    assert os.listdir(latest(in_tmp_dir)) == ["pushitems.jsonl"]
    collector.update_push_items([item("y")]).result()
    lines = (latest(in_tmp_dir) / "pushitems.jsonl").read_text().splitlines()
    assert [json.loads(line)["filename"] for line in lines] == ["x", "y"]


@pytest.mark.parametrize(
    "filename",
    [".pushcollector-upload", ".PushCollector-Upload", ".pushcollector-upload/x"],
)
def test_the_upload_marker_is_reserved(in_tmp_dir, filename):
    collector = Collector.get("local")
    collector.update_push_items([item("x")]).result()

    with pytest.raises(ValueError, match="reserved for pushcollector upload"):
        collector.attach_file(filename, "not a run id")

    assert os.listdir(latest(in_tmp_dir)) == ["pushitems.jsonl"]


@pytest.mark.parametrize(
    "filename",
    [
        "pushitems.json",
        "pushitems.jsonl.bak",
        "sub/pushitems.jsonl",
        "sub/.pushcollector-upload",
    ],
)
def test_names_like_the_push_items_file_are_not_reserved(in_tmp_dir, filename):
    Collector.get("local").attach_file(filename, "fine").result()


def test_latest_moves_to_the_newest_run(in_tmp_dir):
    old_run = in_tmp_dir / "artifacts" / "20000101000000"
    old_run.mkdir(parents=True)
    latest(in_tmp_dir).symlink_to(old_run.name)

    collector = Collector.get("local")
    collector.append_file("log", "x").result()

    assert os.readlink(latest(in_tmp_dir)) == os.path.basename(run_dir(collector))
    assert sorted(os.listdir(in_tmp_dir / "artifacts")) == sorted(
        [
            "20000101000000",
            "latest",
            ".pushcollector.lock",
            os.path.basename(run_dir(collector)),
        ]
    )


def test_cwd_is_taken_at_construction(in_tmp_dir):
    collector = LocalCollector()
    elsewhere = in_tmp_dir / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    collector.append_file("log", b"x")
    assert (latest(in_tmp_dir) / "log").read_bytes() == b"x"


def test_directory_argument(in_tmp_dir):
    absolute = LocalCollector(directory=in_tmp_dir / "abs" / "runs")
    relative = LocalCollector(directory="rel")
    assert absolute.directory == str(in_tmp_dir / "abs" / "runs")
    assert relative.directory == str(in_tmp_dir / "rel")

    absolute.append_file("log", b"a")
    relative.append_file("log", b"r")
    assert (in_tmp_dir / "abs" / "runs" / "latest" / "log").read_bytes() == b"a"
    assert (in_tmp_dir / "rel" / "latest" / "log").read_bytes() == b"r"
    assert not (in_tmp_dir / "artifacts").exists()


def test_artifacts_dir_from_environment(in_tmp_dir, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_ARTIFACTS_DIR", str(in_tmp_dir / "from-env"))
    Collector.get("local").append_file("log", "x").result()
    assert (in_tmp_dir / "from-env" / "latest" / "log").read_text() == "x"

    monkeypatch.setenv("PUSHCOLLECTOR_ARTIFACTS_DIR", "")
    Collector.get().append_file("log", "y").result()
    assert (latest(in_tmp_dir) / "log").read_text() == "y"


def test_repr_shows_directories(in_tmp_dir):
    collector = LocalCollector()
    assert str(in_tmp_dir / "artifacts") in repr(collector)
    collector.append_file("x", b"")
    assert collector.run_dir in repr(collector)


def test_run_started_in_a_taken_second_gets_a_suffix(in_tmp_dir, monkeypatch):
    # The second the collector sees is fixed: a loaded machine may take
    # seconds between any two lines.
    stamp = time.strftime("%Y%m%d%H%M%S")
    monkeypatch.setattr(LocalCollector, "timestamp", classmethod(lambda cls: stamp))
    (in_tmp_dir / "artifacts" / stamp).mkdir(parents=True)

    collector = LocalCollector()
    collector.append_file("log", b"x")

    name = os.path.basename(collector.run_dir)
    assert name == stamp + "-000001"
    assert sorted([name, stamp]) == [stamp, name]


def test_collectors_of_one_process_share_one_run(in_tmp_dir):
    # A push: the source library and the push tool each get a collector.
    source = Collector.get()
    source.attach_file("staged.yaml", "staged").result()
    tool = Collector.get("local")
    tool.update_push_items([item("a.rpm")]).result()
    direct = LocalCollector(directory="artifacts")
    direct.append_file("push.log", b"done\n")

    assert run_dir(source) == run_dir(tool) == direct.run_dir
    runs = [name for name in os.listdir("artifacts") if RUN_NAME.fullmatch(name)]
    assert runs == [os.path.basename(direct.run_dir)]
    assert os.readlink(latest(in_tmp_dir)) == runs[0]
    assert sorted(os.listdir(latest(in_tmp_dir))) == [
        "push.log",
        "pushitems.jsonl",
        "staged.yaml",
    ]


def test_collectors_share_a_run_whatever_the_directory_is_called(in_tmp_dir):
    (in_tmp_dir / "real").mkdir()
    (in_tmp_dir / "alias").symlink_to("real")
    first = LocalCollector(directory="real")
    second = LocalCollector(directory=in_tmp_dir / "alias")
    first.append_file("one", b"1")
    second.append_file("two", b"2")
    assert sorted(os.listdir(in_tmp_dir / "real" / "latest")) == ["one", "two"]


def test_each_directory_has_its_own_run(in_tmp_dir):
    first = LocalCollector(directory="first")
    second = LocalCollector(directory="second")
    first.append_file("log", b"1")
    second.append_file("log", b"2")
    assert (in_tmp_dir / "first" / "latest" / "log").read_bytes() == b"1"
    assert (in_tmp_dir / "second" / "latest" / "log").read_bytes() == b"2"


def test_new_run_starts_a_run_for_collectors_got_afterwards(in_tmp_dir):
    names = []
    earlier = Collector.get("local")
    for index in range(30):
        Collector.new_run()
        collector = Collector.get("local")
        collector.update_push_items([item(str(index))]).result()
        names.append(os.path.basename(run_dir(collector)))
    # Collectors got before keep recording into their own run.
    earlier.update_push_items([item("earlier")]).result()

    assert len(set(names + [os.path.basename(run_dir(earlier))])) == 31
    assert all(RUN_NAME.fullmatch(name) for name in names)
    # Creation order is name order, and latest is the last one created.
    assert sorted(names) == names
    assert os.readlink(latest(in_tmp_dir)) == os.path.basename(run_dir(earlier))
    for index, name in enumerate(names):
        content = (in_tmp_dir / "artifacts" / name / "pushitems.jsonl").read_text()
        assert json.loads(content)["filename"] == str(index)


def test_a_removed_run_dir_is_replaced_by_a_new_run(in_tmp_dir):
    collector = Collector.get("local")
    collector.append_file("log", "first push\n").result()
    shutil.rmtree(in_tmp_dir / "artifacts")

    collector.append_file("log", "second push\n").result()
    other = Collector.get("local")
    other.update_push_items([item("x")]).result()

    assert run_dir(collector) == run_dir(other)
    assert os.path.realpath(latest(in_tmp_dir)) == run_dir(other)
    assert (latest(in_tmp_dir) / "log").read_text() == "second push\n"


def test_timestamp_hook_of_1_3_0_names_runs(in_tmp_dir, monkeypatch):
    for stamp in ("time1", "time2", "time3"):
        Collector.new_run()
        monkeypatch.setattr(LocalCollector, "timestamp", lambda cls: stamp)
        Collector.get("local").update_push_items([item(stamp)]).result()

    for stamp in ("time1", "time2", "time3"):
        assert (in_tmp_dir / "artifacts" / stamp / "pushitems.jsonl").exists()
    assert os.readlink(latest(in_tmp_dir)) == "time3"


def test_timestamp_is_the_local_time():
    before = time.strftime("%Y%m%d%H%M%S")
    stamp = LocalCollector.timestamp()
    assert stamp in (before, time.strftime("%Y%m%d%H%M%S"))


@pytest.mark.parametrize(
    "newest, expected",
    [
        ("20991231235959", "20991231235959-000001"),
        ("20991231235959-000041", "20991231235959-000042"),
    ],
)
def test_runs_sort_in_creation_order_after_the_clock_is_set_back(
    in_tmp_dir, newest, expected
):
    # A run made before the clock was set back (NTP, the end of DST) is
    # "in the future" now.
    (in_tmp_dir / "artifacts" / newest).mkdir(parents=True)
    latest(in_tmp_dir).symlink_to(newest)

    collector = LocalCollector()
    collector.append_file("log", b"x")

    assert os.path.basename(collector.run_dir) == expected
    assert sorted(os.listdir(in_tmp_dir / "artifacts"))[-3:-1] == [newest, expected]


def test_threads_never_interleave_or_tear_lines(in_tmp_dir):
    collector = Collector.get("local")
    threads_count, calls, per_call = 8, 20, 100

    def record(thread):
        for call in range(calls):
            batch = [
                item("t%d" % thread, thread=thread, call=call, seq=seq, pad="x" * seq)
                for seq in range(per_call)
            ]
            collector.update_push_items(batch).result()

    threads = [threading.Thread(target=record, args=(t,)) for t in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = [
        json.loads(line)
        for line in (latest(in_tmp_dir) / "pushitems.jsonl").read_text().splitlines()
    ]
    assert len(records) == threads_count * calls * per_call == 16_000
    # Each call's lines are contiguous and in order.
    for start in range(0, len(records), per_call):
        block = records[start : start + per_call]
        assert [(r["thread"], r["call"]) for r in block] == [
            (block[0]["thread"], block[0]["call"])
        ] * per_call
        assert [r["seq"] for r in block] == list(range(per_call))
    assert {(r["thread"], r["call"]) for r in records} == {
        (t, c) for t in range(threads_count) for c in range(calls)
    }


def test_appends_from_threads_never_interleave(in_tmp_dir):
    collector = Collector.get("local")

    def append(thread):
        for count in range(100):
            chunk = ("%d:%d;" % (thread, count)).ljust(4096, "#") + "\n"
            collector.append_file("log", chunk).result()

    threads = [threading.Thread(target=append, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    chunks = (latest(in_tmp_dir) / "log").read_text().splitlines()
    assert len(chunks) == 800
    assert all(
        re.fullmatch(r"\d:\d+;#+", chunk) and len(chunk) == 4096 for chunk in chunks
    )
    assert sorted(chunk.split(";")[0] for chunk in chunks) == sorted(
        "%d:%d" % (t, c) for t in range(8) for c in range(100)
    )


def _record_in_another_process(directory, barrier, index):
    barrier.wait()
    collector = LocalCollector(directory=directory)
    collector.update_push_items([item("process-%d" % index)])
    collector.append_file("log", b"from process %d\n" % index)


def test_processes_started_together_get_distinct_runs(in_tmp_dir):
    base = in_tmp_dir / "artifacts"
    LocalCollector(directory=base).append_file("log", b"earlier run")

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(5)
    processes = [
        context.Process(target=_record_in_another_process, args=(str(base), barrier, i))
        for i in range(4)
    ]
    for process in processes:
        process.start()
    barrier.wait()

    # Poll "latest" while the processes start their runs.
    observations = 0
    while any(p.is_alive() for p in processes) or observations < 1000:
        assert os.path.isdir(base / "latest"), "latest missing or dangling"
        observations += 1
    for process in processes:
        process.join()
        assert process.exitcode == 0

    runs = sorted(name for name in os.listdir(base) if RUN_NAME.fullmatch(name))
    assert len(runs) == 5
    found = {}
    for run in runs[1:]:
        record = json.loads((base / run / "pushitems.jsonl").read_text())
        found[record["filename"]] = (base / run / "log").read_text()
    assert found == {"process-%d" % i: "from process %d\n" % i for i in range(4)}
    assert os.readlink(base / "latest") == runs[-1]


@pytest.mark.parametrize("method", ["attach_file", "append_file"])
@pytest.mark.parametrize("filename", ["link/file", "link", "sub/link/file"])
def test_symlinks_in_run_dir_are_refused(in_tmp_dir, method, filename):
    outside = in_tmp_dir / "outside"
    outside.mkdir()
    (outside / "file").write_text("untouched")

    collector = Collector.get("local")
    collector.append_file("sub/keep", "x").result()
    run = in_tmp_dir / "artifacts" / "latest"
    target = outside / "file" if filename == "link" else outside
    (run / "link").symlink_to(target)
    (run / "sub" / "link").symlink_to(target)

    with pytest.raises(ValueError, match="is a symbolic link"):
        getattr(collector, method)(filename, "evil")
    assert os.listdir(outside) == ["file"]
    assert (outside / "file").read_text() == "untouched"


def test_writes_through_a_symlinked_base_dir_are_fine(in_tmp_dir):
    (in_tmp_dir / "real").mkdir()
    (in_tmp_dir / "artifacts").symlink_to("real")
    Collector.get("local").attach_file("a/b", "ok").result()
    assert (in_tmp_dir / "real" / "latest" / "a" / "b").read_text() == "ok"


def test_attach_over_a_directory_fails_and_leaves_nothing(in_tmp_dir):
    collector = Collector.get("local")
    collector.attach_file("dir/file", "x").result()
    with pytest.raises(IsADirectoryError) as error:
        collector.attach_file("dir", "y")
    assert error.value.filename == os.path.join(run_dir(collector), "dir")
    assert sorted(os.listdir(latest(in_tmp_dir))) == ["dir"]


def test_component_that_is_a_file_fails_with_full_path(in_tmp_dir):
    collector = Collector.get("local")
    collector.append_file("log", "x").result()
    with pytest.raises(NotADirectoryError) as error:
        collector.append_file("log/inner", "y")
    assert str(error.value).endswith(
        repr(os.path.join(run_dir(collector), "log/inner"))
    )


def test_unwritable_base_dir_fails_loudly(in_tmp_dir):
    (in_tmp_dir / "plain-file").write_text("")
    collector = LocalCollector(directory=in_tmp_dir / "plain-file" / "artifacts")
    with pytest.raises(OSError) as error:
        collector.update_push_items([item("x")])
    assert str(in_tmp_dir / "plain-file") in str(error.value)


def test_latest_that_is_a_directory_fails_loudly(in_tmp_dir):
    (in_tmp_dir / "artifacts" / "latest" / "something").mkdir(parents=True)
    with pytest.raises(OSError) as error:
        LocalCollector().append_file("log", b"x")
    assert str(in_tmp_dir / "artifacts" / "latest") in str(error.value)
    assert sorted(os.listdir(in_tmp_dir / "artifacts")) == [
        ".pushcollector.lock",
        "latest",
    ]


def run_python(code, cwd, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_disk_full_fails_with_the_path(in_tmp_dir):
    # A file size limit makes write() fail the way a full disk does.
    code = """
import resource, signal
from pushcollector import LocalCollector
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
collector = LocalCollector()
collector.append_file("small", b"fits")
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
for method in (collector.append_file, collector.attach_file):
    try:
        method("big", b"x" * 1_000_000)
    except OSError as error:
        print(type(error).__name__, error)
"""
    process = run_python(code, in_tmp_dir)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    run = os.path.realpath(latest(in_tmp_dir))
    assert (
        out.splitlines()
        == ["OSError [Errno 27] File too large: %r" % os.path.join(run, "big")] * 2
    )
    assert (latest(in_tmp_dir) / "small").read_bytes() == b"fits"


def test_attach_killed_midway_leaves_old_or_new_content(in_tmp_dir):
    old, new = b"o" * 50_000_000, b"n" * 50_000_000
    code = """
import sys
from pushcollector import LocalCollector
collector = LocalCollector()
collector.attach_file("big", b"o" * 50_000_000)
print("attaching", flush=True)
while True:
    collector.attach_file("big", b"n" * 50_000_000)
"""
    process = run_python(code, in_tmp_dir)
    assert process.stdout.readline() == "attaching\n"
    process.kill()
    process.communicate(timeout=60)

    assert (latest(in_tmp_dir) / "big").read_bytes() in (old, new)


def test_completed_append_survives_kill(in_tmp_dir):
    code = """
from pushcollector import Collector
collector = Collector.get("local")
collector.update_push_items([{"filename": "f", "state": "PUSHED"}]).result()
collector.append_file("log", "recorded\\n").result()
print("done", flush=True)
input()
"""
    process = run_python(code, in_tmp_dir, stdin=subprocess.PIPE)
    assert process.stdout.readline() == "done\n"
    process.kill()
    process.communicate(timeout=60)

    assert (latest(in_tmp_dir) / "log").read_text() == "recorded\n"
    assert (latest(in_tmp_dir) / "pushitems.jsonl").read_text() == (
        '{"filename": "f", "state": "PUSHED"}\n'
    )


def items_file(base):
    return latest(base) / "pushitems.jsonl"


def test_a_record_never_lands_on_a_partial_line(in_tmp_dir):
    collector = Collector.get("local")
    collector.update_push_items([item("first.rpm")]).result()
    # What a write that stopped part-way leaves behind.
    with open(items_file(in_tmp_dir), "ab") as torn:
        torn.write(b'{"filename": "second.rpm", "sta')

    collector.update_push_items([{"filename": "third.rpm", "state": "UPLOADFAILED"}])

    lines = items_file(in_tmp_dir).read_bytes().split(b"\n")
    assert lines[1] == b'{"filename": "second.rpm", "sta'
    assert json.loads(lines[2]) == {"filename": "third.rpm", "state": "UPLOADFAILED"}


def test_records_after_a_full_disk_are_readable(in_tmp_dir):
    # A file size limit makes write() stop part-way, as a full disk does.
    code = """
import os, resource, signal
from pushcollector import Collector
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
collector = Collector.get("local")
collector.update_push_items([{"filename": "first.rpm", "state": "PUSHED"}]).result()
size = os.path.getsize("artifacts/latest/pushitems.jsonl")
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
batch = [{"filename": "second-%d.rpm" % i, "state": "PUSHED"} for i in range(100)]
try:
    collector.update_push_items(batch)
except OSError as error:
    print("full:", error.strerror)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
collector.update_push_items(
    [{"filename": "third.rpm", "state": "UPLOADFAILED"}]
).result()
"""
    process = run_python(code, in_tmp_dir)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out == "full: File too large\n"

    summary = open_run(in_tmp_dir / "artifacts").summary()
    assert summary.final_states[("third.rpm", None)] == "UPLOADFAILED"
    # The torn line alone is lost: the line of the call that failed.
    assert len(summary.bad_lines) == 1
    assert summary.bad_lines[0].line_number == summary.record_count
    assert not summary.passed()


def _record_in_a_loop(collector, started):
    """Record until killed; a child process's target."""
    batch = [item("loop-%d.rpm" % i, pad="x" * 200) for i in range(5000)]
    collector.update_push_items(batch[:1])
    os.write(started, b"x")
    while True:
        collector.update_push_items(batch)


def test_records_after_a_writer_was_killed_are_readable(in_tmp_dir):
    collector = LocalCollector()
    collector.update_push_items([item("before.rpm")])
    read_end, write_end = os.pipe()
    child = multiprocessing.get_context("fork").Process(
        target=_record_in_a_loop, args=(collector, write_end)
    )
    child.start()
    assert os.read(read_end, 1) == b"x"
    os.kill(child.pid, signal.SIGKILL)
    child.join()

    collector.update_push_items([{"filename": "after.rpm", "state": "UPLOADFAILED"}])

    summary = open_run(in_tmp_dir / "artifacts").summary()
    assert summary.final_states[("before.rpm", None)] == "PUSHED"
    assert summary.final_states[("after.rpm", None)] == "UPLOADFAILED"
    # Only the killed writer's last line may be torn.
    assert len(summary.bad_lines) <= 1


def _record_calls(collector, worker, calls, per_call):
    for call in range(calls):
        collector.update_push_items(
            [
                item("w%d" % worker, worker=worker, call=call, seq=seq)
                for seq in range(per_call)
            ]
        )


def test_forked_processes_sharing_a_collector_never_interleave_calls(in_tmp_dir):
    collector = LocalCollector()
    collector.update_push_items([item("parent", worker=-1, call=0, seq=0)])
    workers, calls = 4, 6
    # Several chunks per call: each call is more than one write.
    per_call = 2 * 2048 + 7
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=_record_calls, args=(collector, w, calls, per_call))
        for w in range(workers)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
        assert child.exitcode == 0

    records = [json.loads(line) for line in items_file(in_tmp_dir).open()]
    assert records[0]["worker"] == -1
    records = records[1:]
    assert len(records) == workers * calls * per_call
    for start in range(0, len(records), per_call):
        block = records[start : start + per_call]
        first = block[0]
        assert [(r["worker"], r["call"], r["seq"]) for r in block] == [
            (first["worker"], first["call"], seq) for seq in range(per_call)
        ]


def _get_and_record(name):
    Collector.get("local").append_file(name, b"from a child")


def test_a_forked_child_records_into_the_run_of_its_parent(in_tmp_dir):
    Collector.get("local").append_file("parent.log", "from the parent").result()
    child = multiprocessing.get_context("fork").Process(
        target=_get_and_record, args=("child.log",)
    )
    child.start()
    child.join()
    assert child.exitcode == 0
    assert sorted(os.listdir(latest(in_tmp_dir))) == ["child.log", "parent.log"]


@pytest.mark.parametrize(
    "method, planted",
    [
        ("update_push_items", "pushitems.jsonl"),
        ("append_file", "log"),
        ("append_file", "sub/log"),
    ],
)
def test_a_fifo_in_the_run_dir_is_refused_not_waited_on(in_tmp_dir, method, planted):
    collector = Collector.get("local")
    collector.append_file("sub/other", "x").result()
    os.mkfifo(latest(in_tmp_dir) / planted)

    call = getattr(collector, method)
    with pytest.raises(ValueError, match="is not a regular file"):
        if method == "update_push_items":
            call([item("x")])
        else:
            call(planted, "appended")


def test_a_fifo_as_the_lock_file_is_refused(in_tmp_dir):
    (in_tmp_dir / "artifacts").mkdir()
    os.mkfifo(in_tmp_dir / "artifacts" / ".pushcollector.lock")
    with pytest.raises(ValueError, match="lock: not a regular file"):
        LocalCollector().append_file("log", b"x")


@pytest.mark.parametrize("planted", ["log", "pushitems.jsonl"])
def test_hard_links_in_the_run_dir_are_refused(in_tmp_dir, planted):
    outside = in_tmp_dir / "outside"
    outside.write_text("untouched")
    collector = Collector.get("local")
    collector.append_file("keep", "x").result()
    os.link(outside, latest(in_tmp_dir) / planted)

    with pytest.raises(ValueError, match="has other hard links"):
        if planted == "log":
            collector.append_file("log", "evil")
        else:
            collector.update_push_items([item("evil")])
    assert outside.read_text() == "untouched"


def test_attach_replaces_a_hard_link_without_writing_through(in_tmp_dir):
    outside = in_tmp_dir / "outside"
    outside.write_text("untouched")
    collector = Collector.get("local")
    collector.append_file("keep", "x").result()
    os.link(outside, latest(in_tmp_dir) / "report")

    collector.attach_file("report", "attached").result()
    assert outside.read_text() == "untouched"
    assert (latest(in_tmp_dir) / "report").read_text() == "attached"


def test_names_as_long_as_the_filesystem_allows_can_be_attached(in_tmp_dir):
    collector = Collector.get("local")
    name = "n" * 255
    collector.attach_file(name, "long").result()
    collector.attach_file("d" * 255 + "/" + name, "longer").result()
    assert (latest(in_tmp_dir) / name).read_text() == "long"
    assert sorted(os.listdir(latest(in_tmp_dir))) == sorted([name, "d" * 255])


@pytest.mark.parametrize(
    "filename",
    ["PUSHITEMS.JSONL", "PushItems.jsonl", ".pushcollector-tmp-" + "0" * 32],
)
def test_names_the_backend_uses_itself_are_refused(in_tmp_dir, filename):
    collector = Collector.get("local")
    with pytest.raises(ValueError, match="reserved"):
        collector.attach_file(filename, "x")
    with pytest.raises(ValueError, match="reserved"):
        collector.append_file("sub/" + filename if "tmp" in filename else filename, "x")
    assert not (in_tmp_dir / "artifacts").exists()


def _record_as_nobody(shared):
    os.setgid(65534)
    os.setuid(65534)
    Collector.new_run()
    LocalCollector(directory=shared).append_file("log", b"nobody")


def test_another_user_can_record_in_a_shared_artifacts_dir():
    # A directory all users can reach: tmp_path is private to its owner.
    shared = tempfile.mkdtemp(prefix="pushcollector-shared-")
    try:
        os.chmod(shared, 0o777)
        LocalCollector(directory=shared).append_file("log", b"root's run")
        lock = os.path.join(shared, ".pushcollector.lock")
        os.chmod(lock, 0o644)

        child = multiprocessing.get_context("fork").Process(
            target=_record_as_nobody, args=(shared,)
        )
        child.start()
        child.join()
        assert child.exitcode == 0
        with open(os.path.join(shared, "latest", "log"), "rb") as log:
            assert log.read() == b"nobody"
    finally:
        shutil.rmtree(shared)


def test_a_thread_outliving_the_main_thread_records(in_tmp_dir):
    code = """
import threading
from pushcollector import Collector

def record_after_main():
    threading.main_thread().join()
    collector = Collector.get("local")
    collector.update_push_items([{"filename": "late.rpm", "state": "PUSHED"}]).result()
    collector.append_file("log", "after main\\n").result()

threading.Thread(target=record_after_main).start()
"""
    process = run_python(code, in_tmp_dir)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (0, "")
    assert (latest(in_tmp_dir) / "log").read_text() == "after main\n"
    assert json.loads(items_file(in_tmp_dir).read_text())["filename"] == "late.rpm"
