import json
import logging
import os
import re

import pytest

from pushcollector import Collector, LocalCollector

from ..fakes import FakePushItem

MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def run_dir(collector):
    return collector._backend._run_dir


def test_run_dir_is_a_timestamp_under_cwd_artifacts(in_tmp_dir):
    collector = Collector.get("local")
    path = run_dir(collector)
    assert os.path.dirname(path) == str(in_tmp_dir / "artifacts")
    assert re.fullmatch(r"\d{14}", os.path.basename(path))


def test_nothing_is_created_before_the_first_write(in_tmp_dir):
    Collector.get("local")
    assert list(in_tmp_dir.iterdir()) == []


def test_first_write_creates_run_dir_and_latest(in_tmp_dir):
    collector = Collector.get("local")
    collector.update_push_items([]).result()

    latest = in_tmp_dir / "artifacts" / "latest"
    assert os.readlink(latest) == os.path.basename(run_dir(collector))
    assert (latest / "pushitems.jsonl").read_bytes() == b""


def test_push_items_are_sorted_json_lines(in_tmp_dir):
    items = [
        {"state": "PENDING", "filename": "b.rpm", "dest": None, "zzz": [1, "é"]},
        {"filename": "a.rpm", "state": "PUSHED", "checksums": {"md5": MD5}},
    ]
    collector = Collector.get("local")
    collector.update_push_items(items[:1]).result()
    collector.update_push_items(items[1:]).result()

    data = (in_tmp_dir / "artifacts" / "latest" / "pushitems.jsonl").read_bytes()
    assert data == (
        b'{"dest": null, "filename": "b.rpm", "state": "PENDING", "zzz": [1, "\\u00e9"]}\n'
        b'{"checksums": {"md5": "'
        + MD5.encode()
        + b'"}, "filename": "a.rpm", "state": "PUSHED"}\n'
    )
    assert data == b"".join(
        (json.dumps(item, sort_keys=True) + "\n").encode() for item in items
    )


def test_push_items_from_push_item_objects(in_tmp_dir):
    collector = Collector.get("local")
    collector.update_push_items([FakePushItem(name="x", dest=["a", "b"])]).result()
    lines = (in_tmp_dir / "artifacts" / "latest" / "pushitems.jsonl").read_text()
    assert [json.loads(line)["dest"] for line in lines.splitlines()] == ["a", "b"]


@pytest.mark.parametrize("unencodable", [{1, 2}, object(), b"bytes"])
def test_unencodable_item_writes_nothing(in_tmp_dir, unencodable):
    collector = Collector.get("local")
    collector.update_push_items([{"filename": "first", "state": "PUSHED"}]).result()

    items = [
        {"filename": "ok", "state": "PUSHED"},
        {"filename": "bad", "state": "PUSHED", "extra": unencodable},
        {"filename": "ok2", "state": "PUSHED"},
    ]
    with pytest.raises(TypeError):
        collector.update_push_items(items)

    lines = (in_tmp_dir / "artifacts" / "latest" / "pushitems.jsonl").read_text()
    assert lines == '{"filename": "first", "state": "PUSHED"}\n'


def test_attach_overwrites_and_append_extends(in_tmp_dir):
    collector = Collector.get("local")
    collector.attach_file("report.txt", "first version, longer").result()
    collector.attach_file("report.txt", b"second").result()
    collector.append_file("log.txt", "line 1\n").result()
    collector.append_file("log.txt", b"line 2\n").result()

    latest = in_tmp_dir / "artifacts" / "latest"
    assert (latest / "report.txt").read_bytes() == b"second"
    assert (latest / "log.txt").read_bytes() == b"line 1\nline 2\n"


def test_filenames_with_subdirectories(in_tmp_dir):
    collector = Collector.get("local")
    collector.attach_file("a/b/c.txt", "deep").result()
    collector.append_file("a/log", "x").result()

    latest = in_tmp_dir / "artifacts" / "latest"
    assert (latest / "a" / "b" / "c.txt").read_text() == "deep"
    assert (latest / "a" / "log").read_text() == "x"


def test_logs_each_new_file_once(in_tmp_dir, caplog):
    caplog.set_level(logging.INFO, logger="pushcollector")
    collector = Collector.get("local")
    collector.update_push_items([]).result()
    collector.update_push_items([]).result()
    collector.append_file("log", "a").result()
    collector.append_file("log", "b").result()

    base = run_dir(collector)
    assert [r.getMessage() for r in caplog.records] == [
        "Logging to %s" % os.path.join(base, "pushitems.jsonl"),
        "Logging to %s" % os.path.join(base, "log"),
    ]
    assert all(r.name == "pushcollector" for r in caplog.records)
    assert os.path.isabs(base)


def test_latest_moves_to_the_newest_run(in_tmp_dir):
    old_run = in_tmp_dir / "artifacts" / "20000101000000"
    old_run.mkdir(parents=True)
    (in_tmp_dir / "artifacts" / "latest").symlink_to(old_run.name)

    collector = Collector.get("local")
    collector.append_file("log", "x").result()

    latest = in_tmp_dir / "artifacts" / "latest"
    assert os.readlink(latest) == os.path.basename(run_dir(collector))
    assert sorted(os.listdir(in_tmp_dir / "artifacts")) == sorted(
        ["20000101000000", "latest", os.path.basename(run_dir(collector))]
    )


def test_cwd_is_taken_at_construction(in_tmp_dir):
    collector = LocalCollector()
    elsewhere = in_tmp_dir / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    collector.append_file("log", b"x")
    assert (in_tmp_dir / "artifacts" / "latest" / "log").read_bytes() == b"x"


def test_repr_shows_run_dir(in_tmp_dir):
    collector = LocalCollector()
    assert str(in_tmp_dir / "artifacts") in repr(collector)
