import errno
import json
import logging
import os
import resource
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushcollector import (
    SUCCESSFUL_STATES,
    BadLine,
    Collector,
    FinalState,
    LocalCollector,
    NotARunError,
    list_runs,
    open_run,
)
from pushcollector._impl.facade import CollectorFacade
from pushcollector._impl.schema import SCHEMA_PATH, push_item_schema

from ..special_files import REFUSALS, make_special
from ..trees import remove_deep_tree, write_file


def record(tmp_path, *batches):
    """Record the batches through the local backend; return its run directory."""
    Collector.new_run()
    backend = LocalCollector(tmp_path / "artifacts")
    collector = CollectorFacade(backend)
    for batch in batches:
        collector.update_push_items(batch).result()
    return backend.run_dir


def write_run(tmp_path, name, content, latest=True):
    """A run directory whose pushitems.jsonl holds exactly ``content``."""
    run = tmp_path / "artifacts" / name
    run.mkdir(parents=True)
    (run / "pushitems.jsonl").write_bytes(content)
    if latest:
        link = tmp_path / "artifacts" / "latest"
        if os.path.lexists(link):
            link.unlink()
        link.symlink_to(name)
    return run


def line(**fields):
    return json.dumps(fields).encode() + b"\n"


# The split of states -------------------------------------------------------


def test_successful_states_are_the_schema_states_listed_as_successful():
    # The YAML lists successful states first and marks legacy ones: the
    # constant and the commented schema must tell the same story.
    listed = {}
    group = None
    with open(SCHEMA_PATH, encoding="utf-8") as schema:
        for text in schema:
            stripped = text.strip()
            if stripped.startswith("# Successful states"):
                group = True
            elif stripped.startswith("# Unsuccessful states"):
                group = False
            elif group is not None and stripped.startswith("- "):
                state, _, comment = stripped[2:].partition("#")
                if "unsuccessful" in comment:
                    listed[state.strip()] = False
                elif "successful" in comment:
                    listed[state.strip()] = True
                else:
                    listed[state.strip()] = group
            elif group is not None and not stripped.startswith("#") and stripped:
                group = None

    assert set(listed) == set(push_item_schema()["properties"]["state"]["enum"])
    assert {state for state, ok in listed.items() if ok} == SUCCESSFUL_STATES
    assert "PENDING" in SUCCESSFUL_STATES
    assert "DOCKERTAGMISMATCH" not in SUCCESSFUL_STATES


# Reading records -----------------------------------------------------------


def test_records_stream_in_the_order_recorded(tmp_path):
    run_dir = record(
        tmp_path,
        [{"filename": "a", "state": "PENDING"}, {"filename": "b", "state": "PENDING"}],
        [{"filename": "a", "state": "PUSHED", "dest": "/srv", "extra": [1, 2]}],
    )

    records = list(open_run(run_dir).records())

    assert records == [
        {"filename": "a", "state": "PENDING"},
        {"filename": "b", "state": "PENDING"},
        {"filename": "a", "state": "PUSHED", "dest": "/srv", "extra": [1, 2]},
    ]


BAD_LINES = [
    (b"not json\n", "not valid JSON (Expecting value, column 1)"),
    (b"\n", "empty line"),
    (b"[1, 2]\n", "not a push item: a JSON array, not an object"),
    (b'"text"\n', "not a push item: a JSON string, not an object"),
    (b'{"state": "PUSHED"}\n', "not a push item: 'filename' is missing, not a string"),
    (
        b'{"filename": 1, "state": "PUSHED"}\n',
        "not a push item: 'filename' is number, not a string",
    ),
    (
        b'{"filename": "a", "state": null}\n',
        "not a push item: 'state' is null, not a string",
    ),
    (
        b'{"filename": "a", "state": "PUSHED", "dest": ["/a", "/b"]}\n',
        "not a push item: 'dest' is array, not a string or null",
    ),
    (
        b'{"filename": "a", "state": "PUSHED", "dest": {"x": true}}\n',
        "not a push item: 'dest' is object, not a string or null",
    ),
    (
        b'{"filename": "a", "state": "PUSHED", "dest": 1.5}\n',
        "not a push item: 'dest' is number, not a string or null",
    ),
    (
        b'{"filename": "a", "state": "PUSHED", "dest": false}\n',
        "not a push item: 'dest' is boolean, not a string or null",
    ),
    (b'{"filename": "caf\xe9", "state": "PUSHED"}\n', "not UTF-8 text"),
    (b"[" * 100_000 + b"\n", "not valid JSON (nested too deeply)"),
]


@pytest.mark.parametrize("bad, reason", BAD_LINES)
def test_a_bad_line_is_reported_with_its_number_and_skipped(tmp_path, bad, reason):
    before = line(filename="before", state="PUSHED")
    after = line(filename="after", state="PUSHED")
    run_dir = write_run(tmp_path, "20261125000000", before + bad + after)
    bad_lines = []

    records = list(open_run(run_dir).records(on_bad_line=bad_lines.append))

    assert [r["filename"] for r in records] == ["before", "after"]
    assert bad_lines == [BadLine(2, reason)]


def huge_number_run(tmp_path):
    """A run whose first record holds a 5,001-digit integer, as 1.4.0 wrote it
    in a process that lifted Python's limit on converting such integers."""
    big = b'{"filename": "big", "size": 1%s, "state": "UPLOADFAILED"}\n' % (b"0" * 5000)
    return write_run(
        tmp_path, "20261125000000", big + line(filename="after", state="PUSHED")
    )


def test_an_integer_python_will_not_read_is_a_bad_line(tmp_path):
    run_dir = huge_number_run(tmp_path)

    summary = open_run(run_dir).summary()

    assert summary.final_states == {("after", None): "PUSHED"}
    assert summary.bad_lines == [
        BadLine(
            1,
            "not readable JSON (Exceeds the limit (4300 digits) for integer"
            " string conversion)",
        )
    ]


def test_a_torn_last_line_is_reported_as_incomplete(tmp_path):
    whole = line(filename="a", state="PENDING")
    torn = line(filename="a", state="UPLOADFAILED")[:20]
    run_dir = write_run(tmp_path, "20261125000000", whole + torn)

    summary = open_run(run_dir).summary()

    assert summary.record_count == 1
    assert summary.final_states == {("a", None): "PENDING"}
    [bad] = summary.bad_lines
    assert bad.line_number == 2
    assert bad.reason.startswith("not valid JSON (")
    assert bad.reason.endswith(
        "(the last line is incomplete: was the push interrupted?)"
    )


def test_non_utf8_bytes_spoil_only_their_own_line(tmp_path):
    content = (
        b'{"filename": "\xff\xfe", "state": "PUSHED"}\n'
        + '{"filename": "ok \u00e9\u4e2d", "state": "PUSHED"}\n'.encode()
    )
    run_dir = write_run(tmp_path, "20261125000000", content)
    bad_lines = []

    records = list(open_run(run_dir).records(on_bad_line=bad_lines.append))

    assert records == [{"filename": "ok \u00e9\u4e2d", "state": "PUSHED"}]
    assert bad_lines == [BadLine(1, "not UTF-8 text")]


def test_a_carriage_return_does_not_split_a_line(tmp_path):
    content = b'{"filename": "a", "state": "PUSHED"}\r\n' + b'{"x": 1\r}\n'
    run_dir = write_run(tmp_path, "20261125000000", content)
    bad_lines = []

    records = list(open_run(run_dir).records(on_bad_line=bad_lines.append))

    assert records == [{"filename": "a", "state": "PUSHED"}]
    assert [bad.line_number for bad in bad_lines] == [2]


def test_bad_lines_are_logged_by_default(tmp_path, caplog):
    run_dir = write_run(tmp_path, "20261125000000", b"oops\n")

    with caplog.at_level(logging.WARNING, logger="pushcollector"):
        assert list(open_run(run_dir).records()) == []

    [message] = caplog.messages
    assert message.startswith(str(run_dir / "pushitems.jsonl") + ":1: skipped: ")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_file_cut_anywhere_loses_at_most_its_last_line(tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("cut")
    items = data.draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "filename": st.text(min_size=1, max_size=8),
                    "state": st.sampled_from(sorted(SUCCESSFUL_STATES)),
                }
            ),
            min_size=1,
            max_size=20,
        )
    )
    whole = b"".join(json.dumps(item).encode() + b"\n" for item in items)
    cut = data.draw(st.integers(min_value=0, max_value=len(whole)))
    run_dir = write_run(tmp_path, "20261125000000", whole[:cut])
    bad_lines = []

    records = list(open_run(run_dir).records(on_bad_line=bad_lines.append))

    kept = whole[:cut]
    complete = kept.count(b"\n")
    # A line cut just before its newline is whole: JSON objects end in "}".
    if whole[cut : cut + 1] == b"\n" and not kept.endswith(b"\n") and cut:
        complete += 1
        kept += b"\n"
    assert records == items[:complete]
    if kept.endswith(b"\n") or cut == 0:
        assert bad_lines == []
    else:
        assert [bad.line_number for bad in bad_lines] == [complete + 1]


NASTY_LINES = [
    b"1" * 5000,
    b'{"filename": "a", "state": "PUSHED", "n": -' + b"9" * 4301 + b"}",
    b"[" * 100_000,
    b'{"filename": "\\ud800", "state": "PUSHED"}',
    b'{"filename": "a", "state": "PUSHED", "dest": NaN}',
    b'{"filename": "a", "state": "PUSHED", "n": 1e999999}',
    b"\xef\xbb\xbf{}",
    b"\x00",
    b"\r",
    b"\xff\xfe",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(["filename", "state", "dest", "x"]) | st.text(), children
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.binary(max_size=40)
        | st.sampled_from(NASTY_LINES)
        | json_values.map(lambda value: json.dumps(value).encode()),
        max_size=12,
    ),
    last_newline=st.booleans(),
)
def test_records_accounts_for_every_line_of_any_bytes(
    tmp_path_factory, lines, last_newline
):
    content = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    run_dir = write_run(
        tmp_path_factory.mktemp("fuzz"), "20261125000000", content, latest=False
    )
    bad_lines = []

    # Nothing but OSError may leave records(), and the file is readable.
    records = list(open_run(run_dir).records(on_bad_line=bad_lines.append))

    # Each line is either a record or a bad line, in file order.
    line_count = content.count(b"\n") + (not content.endswith(b"\n") and bool(content))
    assert len(records) + len(bad_lines) == line_count
    assert [bad.line_number for bad in bad_lines] == sorted(
        {bad.line_number for bad in bad_lines}
    )
    assert all(bad.reason for bad in bad_lines)


# Final states and summaries ------------------------------------------------


def test_the_last_record_of_each_filename_and_dest_wins(tmp_path):
    run_dir = record(
        tmp_path,
        [
            {"filename": "a", "state": "PENDING", "dest": "/one"},
            {"filename": "a", "state": "PENDING", "dest": "/two"},
            {"filename": "b", "state": "PENDING"},
        ],
        [
            {"filename": "a", "state": "UPLOADFAILED", "dest": "/two"},
            {"filename": "b", "state": "PUSHED", "dest": None},
            {"filename": "a", "state": "PUSHED", "dest": "/one"},
        ],
    )

    summary = open_run(run_dir).summary()

    assert summary.record_count == 6
    assert list(summary.final_states.items()) == [
        (("a", "/one"), "PUSHED"),
        (("a", "/two"), "UPLOADFAILED"),
        (("b", None), "PUSHED"),
    ]
    assert summary.unsuccessful() == [FinalState("a", "/two", "UPLOADFAILED")]
    assert summary.unfinished() == []
    assert not summary.passed()


@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([None, "/x", "/y"]),
            st.sampled_from(push_item_schema()["properties"]["state"]["enum"]),
        ),
        max_size=40,
    )
)
@settings(max_examples=100, deadline=None)
def test_summary_agrees_with_a_simple_model(tmp_path_factory, records):
    run_dir = record(
        tmp_path_factory.mktemp("model"),
        [{"filename": f, "dest": d, "state": s} for f, d, s in records],
    )
    model = {}
    for filename, dest, state in records:
        model[(filename, dest)] = state

    summary = open_run(run_dir).summary()

    assert summary.final_states == model
    assert sum(summary.state_counts().values()) == len(model)
    assert {i.filename for i in summary.unsuccessful()} == {
        f for (f, d), s in model.items() if s not in SUCCESSFUL_STATES
    }
    pending = any(s == "PENDING" for s in model.values())
    failed = any(s not in SUCCESSFUL_STATES for s in model.values())
    assert summary.passed(allow_pending=True) == (not failed)
    assert summary.passed() == (not failed and not pending)


def test_state_counts_are_most_frequent_first_then_by_name(tmp_path):
    states = ["PUSHED", "EXISTS", "PUSHED", "SKIPPED", "EXISTS", "PUSHED", "CHECKSUM"]
    run_dir = record(
        tmp_path,
        [{"filename": str(i), "state": state} for i, state in enumerate(states)],
    )

    counts = open_run(run_dir).summary().state_counts()

    assert list(counts.items()) == [
        ("PUSHED", 3),
        ("EXISTS", 2),
        ("CHECKSUM", 1),
        ("SKIPPED", 1),
    ]


def test_unknown_and_legacy_states_are_classified(tmp_path):
    content = (
        line(filename="a", state="INVENTED")
        + line(filename="b", state="DOCKERTAGMISMATCH")
        + line(filename="c", state="PUBLISHED")
        + line(filename="d", state="EXPORTED")
    )
    run_dir = write_run(tmp_path, "20261125000000", content)

    summary = open_run(run_dir).summary()

    assert [i.filename for i in summary.unsuccessful()] == ["a", "b"]


def test_pending_passes_only_when_allowed(tmp_path):
    run_dir = record(
        tmp_path,
        [{"filename": "a", "state": "PUSHED"}, {"filename": "b", "state": "PENDING"}],
    )

    summary = open_run(run_dir).summary()

    assert summary.unfinished() == [FinalState("b", None, "PENDING")]
    assert summary.unsuccessful() == []
    assert not summary.passed()
    assert summary.passed(allow_pending=True)


def test_bad_lines_fail_the_run_unless_allowed(tmp_path):
    content = line(filename="a", state="PENDING") + b"torn"
    run_dir = write_run(tmp_path, "20261125000000", content)

    summary = open_run(run_dir).summary()

    assert len(summary.bad_lines) == 1
    assert not summary.passed()
    assert not summary.passed(allow_bad_lines=True)
    assert not summary.passed(allow_pending=True)
    assert summary.passed(allow_pending=True, allow_bad_lines=True)


def test_a_run_of_bad_lines_only_fails_unless_they_are_allowed(tmp_path):
    run_dir = write_run(tmp_path, "20261125000000", b"{}\n[]\n")

    summary = open_run(run_dir).summary()

    assert summary.final_states == {}
    assert not summary.passed()
    assert summary.passed(allow_bad_lines=True)


def test_a_run_with_files_but_no_push_items_is_empty_and_passes(tmp_path):
    backend = LocalCollector(tmp_path / "artifacts")
    CollectorFacade(backend).attach_file("log.txt", "hello").result()

    run = open_run(tmp_path / "artifacts")
    summary = run.summary()

    assert run.name == os.path.basename(backend.run_dir)
    assert summary.record_count == 0
    assert summary.final_states == {}
    assert summary.passed()
    assert run.files() == ["log.txt"]


def test_summary_repr_names_run_and_counts(tmp_path):
    run_dir = record(tmp_path, [{"filename": "a", "state": "PUSHED"}] * 2)

    summary = open_run(run_dir).summary()

    assert repr(summary) == "<RunSummary of Run(%r): 2 records, 1 push items>" % (
        run_dir
    )


# Opening runs --------------------------------------------------------------


def test_open_run_accepts_a_run_an_artifacts_directory_or_the_items_file(tmp_path):
    run_dir = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    name = os.path.basename(run_dir)
    artifacts = tmp_path / "artifacts"

    for path in (
        run_dir,
        artifacts,
        artifacts / "latest",
        os.path.join(run_dir, "pushitems.jsonl"),
        artifacts / "latest" / "pushitems.jsonl",
    ):
        run = open_run(path)
        assert (run.name, run.directory) == (name, run_dir), path
        assert run.items_path == os.path.join(run_dir, "pushitems.jsonl")
        assert run.is_latest
        assert repr(run) == "Run(%r)" % run_dir


def test_open_run_defaults_to_artifacts_in_cwd(in_tmp_dir, monkeypatch):
    monkeypatch.delenv("PUSHCOLLECTOR_ARTIFACTS_DIR", raising=False)
    run_dir = record(in_tmp_dir, [{"filename": "a", "state": "PUSHED"}])

    assert open_run().directory == run_dir


def test_open_run_defaults_to_the_configured_artifacts_dir(
    in_tmp_dir, tmp_path_factory, monkeypatch
):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    record(in_tmp_dir, [{"filename": "here", "state": "PUSHED"}])
    run_dir = record(elsewhere, [{"filename": "there", "state": "PUSHED"}])
    monkeypatch.setenv("PUSHCOLLECTOR_ARTIFACTS_DIR", str(elsewhere / "artifacts"))

    assert open_run().directory == run_dir


def test_a_copied_items_file_is_a_run_without_directory(tmp_path):
    copy = tmp_path / "saved.jsonl"
    copy.write_bytes(line(filename="a", state="PUSHED"))

    run = open_run(copy)

    assert (run.name, run.directory, run.items_path) == (
        "saved.jsonl",
        None,
        str(copy),
    )
    assert not run.is_latest
    assert run.files() == []
    assert run.summary().final_states == {("a", None): "PUSHED"}

    copy.unlink()
    with pytest.raises(FileNotFoundError):
        run.summary()


def test_a_run_says_where_it_is_held(tmp_path):
    run_dir = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    copy = tmp_path / "saved.jsonl"
    shutil.copy(os.path.join(run_dir, "pushitems.jsonl"), copy)

    in_directory = open_run(run_dir)
    alone = open_run(copy)

    assert in_directory.location() == {
        "directory": run_dir,
        "items_file": os.path.join(run_dir, "pushitems.jsonl"),
    }
    assert in_directory.shown_location() == [("Path", run_dir)]
    assert alone.location() == {"directory": None, "items_file": str(copy)}
    assert alone.shown_location() == [("Path", str(copy))]


def test_a_run_directory_named_like_a_run_needs_no_items_file(tmp_path):
    empty = tmp_path / "20261125000000-000001"
    empty.mkdir()

    run = open_run(empty)

    assert run.summary().record_count == 0
    assert not run.is_latest


def test_open_run_refuses_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        open_run(tmp_path / "nope")

    assert error.value.filename == str(tmp_path / "nope")


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda path: path.mkdir(),
            "not a run: it has no pushitems.jsonl, no 'latest' link, and is not"
            " named like a run directory",
        ),
        (
            lambda path: (path.mkdir(), (path / "latest").symlink_to("gone")),
            "'latest' points at 'gone', which is not a directory",
        ),
        (
            lambda path: (
                path.mkdir(),
                (path / "file").write_text(""),
                (path / "latest").symlink_to("file"),
            ),
            "'latest' points at 'file', which is not a directory",
        ),
        (
            lambda path: (path.mkdir(), (path / "latest").write_text("")),
            "'latest' is not a link to a run directory",
        ),
        (
            lambda path: os.mkfifo(path),
            "not a run: neither a directory nor a file",
        ),
    ],
    ids=[
        "plain directory",
        "dangling latest",
        "latest at a file",
        "latest is a file",
        "fifo",
    ],
)
def test_open_run_refuses_what_is_not_a_run(tmp_path, make, message):
    path = tmp_path / "thing"
    make(path)

    with pytest.raises(NotARunError) as error:
        open_run(path)

    assert str(error.value) == "%s: %s" % (path, message)
    assert isinstance(error.value, ValueError)


# Listing runs --------------------------------------------------------------


def test_list_runs_is_newest_first_and_skips_what_is_not_a_run(tmp_path):
    artifacts = tmp_path / "artifacts"
    first = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    second = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    third = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    (artifacts / "notes").mkdir()
    (artifacts / "readme.txt").write_text("")
    (artifacts / "20991231000000").symlink_to(first)
    imported = artifacts / "imported-from-elsewhere"
    imported.mkdir()
    (imported / "pushitems.jsonl").write_bytes(b"")

    runs = list_runs(artifacts)

    assert [run.directory for run in runs] == [
        str(imported),
        third,
        second,
        first,
    ]
    assert [run.is_latest for run in runs] == [False, True, False, False]


def test_list_runs_defaults_to_artifacts_in_cwd(in_tmp_dir, monkeypatch):
    monkeypatch.delenv("PUSHCOLLECTOR_ARTIFACTS_DIR", raising=False)
    run_dir = record(in_tmp_dir, [{"filename": "a", "state": "PUSHED"}])

    assert [run.directory for run in list_runs()] == [run_dir]


def test_list_runs_refuses_a_missing_or_file_base(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_runs(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        list_runs(tmp_path / "file")


def test_files_lists_attachments_without_internal_files(tmp_path):
    Collector.new_run()
    backend = LocalCollector(tmp_path / "artifacts")
    collector = CollectorFacade(backend)
    collector.update_push_items([{"filename": "a", "state": "PUSHED"}]).result()
    collector.attach_file("z.txt", "z").result()
    collector.append_file("logs/b/push.log", "x").result()
    collector.attach_file("logs/a.txt", "a").result()
    run_dir = backend.run_dir
    # Left by attaches interrupted before their rename, in the directory of
    # the file being attached.
    for directory in ("", "logs/b"):
        staging = ".pushcollector-tmp-" + "0123456789abcdef" * 2
        open(os.path.join(run_dir, directory, staging), "w").close()
    os.symlink("/etc", os.path.join(run_dir, "logs", "link"))

    # A link to a directory is not walked into, nor listed.
    assert open_run(run_dir).files() == ["logs/a.txt", "logs/b/push.log", "z.txt"]


def test_files_leaves_out_the_upload_marker_at_the_top_only(tmp_path):
    backend = LocalCollector(tmp_path / "artifacts")
    CollectorFacade(backend).attach_file("logs/.pushcollector-upload", "x").result()
    with open(os.path.join(backend.run_dir, ".pushcollector-upload"), "w") as marker:
        marker.write("run-0123456789abcdef\n")

    assert open_run(backend.run_dir).files() == ["logs/.pushcollector-upload"]


@pytest.mark.parametrize(
    "name",
    [
        ".notes.tmp-cafe",
        ".z.txt.tmp-0123abcd",
        ".pushcollector-tmp-" + "0" * 31,
        ".pushcollector-tmp-" + "0" * 33,
        ".pushcollector-tmp-" + "A" * 32,
        "pushcollector-tmp-" + "0" * 32,
        ".pushcollector-tmp-" + "0" * 32 + ".txt",
        "logs/.pushcollector.lock",
        ".pushcollector.lock",
        "logs/pushitems.jsonl",
    ],
)
def test_files_lists_whatever_was_attached(tmp_path, name):
    # Only the writer's staging files, .pushcollector-tmp- and 32 lowercase
    # hex digits, are not attachments: no user name is ever taken for one.
    backend = LocalCollector(tmp_path / "artifacts")
    CollectorFacade(backend).attach_file(name, "x").result()

    assert open_run(backend.run_dir).files() == [name]


def test_what_the_writer_keeps_beside_runs_is_not_a_run(tmp_path):
    run_dir = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    artifacts = tmp_path / "artifacts"
    # The lock lives beside the runs, never in one.
    assert (artifacts / ".pushcollector.lock").is_file()
    (artifacts / ("latest.tmp-" + "0" * 16)).symlink_to(os.path.basename(run_dir))
    (artifacts / (".pushcollector-tmp-" + "0" * 32)).symlink_to(
        os.path.basename(run_dir)
    )

    assert [run.directory for run in list_runs(artifacts)] == [run_dir]


def test_files_raises_if_the_run_is_gone(tmp_path):
    run_dir = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    run = open_run(run_dir)
    shutil.rmtree(run_dir)

    with pytest.raises(FileNotFoundError) as error:
        run.files()
    assert error.value.filename == run_dir
    # The run's push items went with it: nothing to read, nothing to fail.
    assert run.summary().record_count == 0


def test_a_run_that_cannot_be_read_is_listed_with_its_error(tmp_path):
    run_dir = record(tmp_path, [{"filename": "a", "state": "NOTFOUND"}])
    (run,) = list_runs(tmp_path / "artifacts")
    listed, report = run.listing()
    assert report == run.report()
    shutil.rmtree(run_dir)

    figures, no_report = run.listing()

    assert (listed["unsuccessful"], listed["passed"], listed["error"]) == (
        1,
        False,
        None,
    )
    assert no_report is None
    assert figures == {
        "name": run.name,
        "directory": run_dir,
        "latest": False,
        "records": None,
        "push_items": None,
        "files": None,
        "unsuccessful": None,
        "unfinished": None,
        "bad_lines": None,
        "passed": False,
        "error": "%s: No such file or directory" % run_dir,
    }


def test_bad_line_equality_and_repr():
    assert BadLine(3, "x") == BadLine(3, "x")
    assert BadLine(3, "x") != BadLine(4, "x")
    assert BadLine(3, "x") != (3, "x")
    assert repr(BadLine(3, "x")) == "BadLine(3, 'x')"


# Only regular files are read -------------------------------------------------


@pytest.mark.parametrize("kind", REFUSALS)
def test_an_items_file_that_is_not_a_regular_file_is_refused(tmp_path, no_hang, kind):
    run_dir = tmp_path / "artifacts" / "20261125000000"
    run_dir.mkdir(parents=True)
    (tmp_path / "artifacts" / "latest").symlink_to(run_dir.name)
    items_file = run_dir / "pushitems.jsonl"
    make_special(items_file, kind)

    for path in (run_dir, tmp_path / "artifacts"):
        run = open_run(path)
        assert run.items_path == str(items_file)
        for read in (run.summary, lambda: list(run.records())):
            with pytest.raises(OSError) as error:
                read()
            assert (error.value.filename, error.value.strerror) == (
                str(items_file),
                REFUSALS[kind],
            )


@pytest.mark.parametrize("kind", REFUSALS)
def test_a_directory_with_any_items_file_is_a_run(tmp_path, no_hang, kind):
    # Not named like a run: the items file makes it one, whatever it is, so
    # that reading says what is wrong with it instead of "not a run".
    run_dir = tmp_path / "artifacts" / "imported"
    run_dir.mkdir(parents=True)
    make_special(run_dir / "pushitems.jsonl", kind)

    assert open_run(run_dir).directory == str(run_dir)
    assert [run.directory for run in list_runs(tmp_path / "artifacts")] == [
        str(run_dir)
    ]


def test_an_items_file_named_by_the_caller_is_read_through_links(tmp_path):
    run_dir = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    saved = tmp_path / "saved.jsonl"
    saved.write_bytes(line(filename="saved", state="PUSHED"))
    (tmp_path / "link.jsonl").symlink_to(saved)
    (tmp_path / "pushitems.jsonl").symlink_to(saved)
    (tmp_path / "to-run.jsonl").symlink_to(os.path.join(run_dir, "pushitems.jsonl"))

    # The caller chose the link: it leads to a copy, or into a run.
    for name in ("link.jsonl", "pushitems.jsonl"):
        run = open_run(tmp_path / name)
        assert (run.name, run.directory, run.items_path) == (name, None, str(saved))
        assert [r["filename"] for r in run.records()] == ["saved"]
    run = open_run(tmp_path / "to-run.jsonl")
    assert run.directory == run_dir
    assert [r["filename"] for r in run.records()] == ["a"]


def test_a_hard_linked_items_file_is_read(tmp_path):
    original = record(tmp_path, [{"filename": "a", "state": "PUSHED"}])
    run_dir = tmp_path / "artifacts" / "imported"
    run_dir.mkdir()
    os.link(os.path.join(original, "pushitems.jsonl"), run_dir / "pushitems.jsonl")

    assert open_run(run_dir).summary().final_states == {("a", None): "PUSHED"}


def test_latest_at_a_fifo_is_not_a_run(tmp_path, no_hang):
    base = tmp_path / "artifacts"
    base.mkdir()
    os.mkfifo(base / "fifo")
    (base / "latest").symlink_to("fifo")

    with pytest.raises(NotARunError) as error:
        open_run(base)

    assert str(error.value) == (
        "%s: 'latest' points at 'fifo', which is not a directory" % base
    )
    assert list_runs(base) == []


FILES_OPENED = """
import json, sys
from pushcollector import open_run

run = open_run(sys.argv[1])
opened = []
sys.addaudithook(lambda event, args: event == "open" and opened.append(args))
names = run.files()
print(json.dumps({"names": names, "flags": [flags for _, _, flags in opened]}))
"""


def test_files_lists_only_regular_files_and_opens_only_directories(tmp_path):
    backend = LocalCollector(tmp_path / "artifacts")
    collector = CollectorFacade(backend)
    collector.attach_file("log.txt", "x").result()
    collector.attach_file("sub/deeper/log.txt", "x").result()
    run_dir = backend.run_dir
    for directory in (run_dir, os.path.join(run_dir, "sub", "deeper")):
        for kind in ("fifo", "socket", "symlink", "symlink to a fifo"):
            make_special(os.path.join(directory, kind.replace(" ", "-")), kind)
        os.symlink("/etc", os.path.join(directory, "to-a-directory"))
        os.symlink("gone", os.path.join(directory, "dangling"))

    # In a process of its own, so that its audit hook ends with it.
    done = subprocess.run(
        [sys.executable, "-c", FILES_OPENED, run_dir],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    listed = json.loads(done.stdout)
    # The link's target is a regular file, listed; the link is not.
    assert listed["names"] == [
        "log.txt",
        "sub/deeper/log.txt",
        "sub/deeper/symlink.target",
        "symlink.target",
    ]
    assert listed["flags"]
    assert all(flags & os.O_DIRECTORY for flags in listed["flags"])


# Long names and deep trees -----------------------------------------------------

# 5,030 characters in 25 names of at most 206: a path the kernel refuses
# whole (PATH_MAX is 4,096) but the local backend writes one name at a time.
LONG_NAME = ("d" * 200 + "/") * 24 + "f" * 206
# 1,200 directories deep: deeper than Python's recursion limit.
DEEP_NAME = "a/" * 1200 + "f"


def test_files_lists_a_name_longer_than_the_kernel_takes(tmp_path):
    # Longer than this version's writer accepts, as older writers wrote.
    assert len(LONG_NAME) == 5030
    run_dir = record(tmp_path, [])
    write_file(run_dir, LONG_NAME, b"x")
    assert len(os.path.join(run_dir, LONG_NAME)) > os.pathconf("/", "PC_PATH_MAX")

    assert open_run(run_dir).files() == [LONG_NAME]


def test_files_lists_a_file_deeper_than_the_recursion_limit(tmp_path):
    run_dir = record(tmp_path, [])
    try:
        write_file(run_dir, DEEP_NAME, b"x")
        write_file(run_dir, "a/a/g", b"x")

        assert open_run(run_dir).files() == [DEEP_NAME, "a/a/g"]
    finally:
        remove_deep_tree(run_dir)


def test_files_closes_every_descriptor_when_it_fails(tmp_path):
    backend = LocalCollector(tmp_path / "artifacts")
    collector = CollectorFacade(backend)
    # Each level has a directory besides the one leading on: the walk must
    # keep each level's descriptor open, six of them at the bottom.
    for depth in range(1, 7):
        collector.attach_file("d/" * depth + "leaf/f", "x").result()
    run = open_run(backend.run_dir)
    assert len(run.files()) == 6
    before = sorted(os.listdir("/proc/self/fd"))
    open_fds = {int(fd) for fd in before}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # A limit that leaves three descriptors free: too few for the walk.
    limit = next(
        limit
        for limit in range(hard)
        if len([fd for fd in range(limit) if fd not in open_fds]) == 3
    )

    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        with pytest.raises(OSError) as error:
            run.files()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    assert error.value.errno == errno.EMFILE
    assert error.value.filename.startswith(os.path.join(backend.run_dir, "d/d/"))
    assert sorted(os.listdir("/proc/self/fd")) == before
