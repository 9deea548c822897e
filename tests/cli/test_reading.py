"""``pushcollector summary`` and ``pushcollector runs`` on local runs.

Every test that takes the ``pushcollector`` fixture runs both as the
installed console script and in process (see conftest.py).
"""

import json
import os
import resource
import subprocess

import pytest

from ..special_files import REFUSALS, make_special
from ..trees import remove_deep_tree, write_file

from .conftest import SCRIPT, TIMEOUT, items, record

# summary: exit codes and output ---------------------------------------------


def test_a_run_that_passed_exits_0(pushcollector, tmp_path):
    name = record(
        tmp_path,
        items(("a.rpm", "PENDING"), ("b.rpm", "PENDING")),
        items(("a.rpm", "PUSHED"), ("b.rpm", "EXISTS")),
    )

    result = pushcollector("summary", tmp_path / "artifacts" / name)

    assert result.status == 0
    assert result.stderr == ""
    assert (
        result.stdout.splitlines()[-1] == "PASSED: all 2 push items ended successfully"
    )


def test_a_run_with_unsuccessful_items_exits_1_and_lists_them(pushcollector, tmp_path):
    name = record(
        tmp_path,
        items(("app-1.0.tar.gz", "PENDING"), ("app.sig", "PENDING"), dest="/srv/a"),
        items(("app-1.0.tar.gz", "UPLOADFAILED"), dest="/srv/a")
        + items(("app.sig", "PUSHED"), dest="/srv/a")
        + items(("notes.txt", "CHECKSUM")),
    )
    run_dir = tmp_path / "artifacts" / name

    result = pushcollector("summary", cwd=tmp_path)

    assert result.status == 1
    assert result.stdout == (
        "Run:        %s (latest)\n"
        "Path:       %s\n"
        "Records:    5\n"
        "Push items: 3\n"
        "\n"
        "STATE         PUSH ITEMS\n"
        "CHECKSUM               1\n"
        "PUSHED                 1\n"
        "UPLOADFAILED           1\n"
        "\n"
        "Unsuccessful (2):\n"
        "  FILENAME        DEST    STATE\n"
        "  app-1.0.tar.gz  /srv/a  UPLOADFAILED\n"
        "  notes.txt       -       CHECKSUM\n"
        "\n"
        "FAILED: 2 unsuccessful\n"
    ) % (name, run_dir)
    assert result.stderr == ""


def test_items_left_pending_fail_unless_allowed(pushcollector, tmp_path):
    record(tmp_path, items(("a", "PUSHED"), ("b", "PENDING")))

    failed = pushcollector("summary", tmp_path / "artifacts")
    allowed = pushcollector("summary", "--allow-pending", tmp_path / "artifacts")

    assert failed.status == 1
    assert "Unfinished, left PENDING (1):\n  FILENAME  DEST  STATE\n" in failed.stdout
    assert failed.stdout.endswith("FAILED: 1 unfinished (PENDING)\n")
    assert allowed.status == 0
    assert "Left PENDING (allowed) (1):" in allowed.stdout
    assert allowed.stdout.endswith("PASSED: all 2 push items ended successfully\n")


def test_json_output_is_one_object_with_everything(pushcollector, tmp_path):
    name = record(
        tmp_path,
        items(("a", "PENDING"), ("b", "PENDING"), ("c", "PENDING"), dest="/d"),
        items(("a", "PUSHED"), ("b", "NOTFOUND"), dest="/d"),
    )
    run_dir = str(tmp_path / "artifacts" / name)

    result = pushcollector("summary", "--json", tmp_path / "artifacts")

    assert result.status == 1
    assert json.loads(result.stdout) == {
        "run": name,
        "directory": run_dir,
        "items_file": os.path.join(run_dir, "pushitems.jsonl"),
        "latest": True,
        "records": 5,
        "push_items": 3,
        "states": {"NOTFOUND": 1, "PENDING": 1, "PUSHED": 1},
        "unsuccessful": [{"filename": "b", "dest": "/d", "state": "NOTFOUND"}],
        "unfinished": [{"filename": "c", "dest": "/d", "state": "PENDING"}],
        "bad_lines": [],
        "allow_pending": False,
        "allow_bad_lines": False,
        "strict": True,
        "passed": False,
    }


def test_json_output_of_a_passing_run(pushcollector, tmp_path):
    record(tmp_path, items(("a", "PENDING")))

    result = pushcollector(
        "summary", "--json", "--allow-pending", tmp_path / "artifacts"
    )

    assert result.status == 0
    document = json.loads(result.stdout)
    assert (document["passed"], document["allow_pending"]) == (True, True)


def test_an_empty_run_passes(pushcollector, tmp_path):
    empty = tmp_path / "20261125000000"
    empty.mkdir()

    text = pushcollector("summary", empty)
    as_json = pushcollector("summary", "--json", empty)

    assert text.status == 0
    assert text.stdout.endswith(
        "Push items: 0\n\nPASSED: no push items were recorded\n"
    )
    assert as_json.status == 0
    document = json.loads(as_json.stdout)
    assert (document["records"], document["states"], document["passed"]) == (
        0,
        {},
        True,
    )


def test_a_skipped_line_fails_the_run_unless_allowed(pushcollector, tmp_path):
    name = record(tmp_path, items(("a", "PUSHED")))
    items_file = tmp_path / "artifacts" / name / "pushitems.jsonl"
    with open(items_file, "ab") as torn:
        torn.write(b'{"filename": "b", "sta')

    result = pushcollector("summary", tmp_path / "artifacts")
    allowed = pushcollector("summary", "--allow-bad-lines", tmp_path / "artifacts")
    as_json = pushcollector("summary", "--json", tmp_path / "artifacts")

    # The torn line may have been b's only record: b's state is unknown.
    assert result.status == 1
    assert "Skipped:    1 line\n" in result.stdout
    assert result.stdout.endswith("\nFAILED: 1 skipped line\n")
    [warning] = result.stderr.splitlines()
    assert warning.startswith("pushcollector: warning: %s:2: skipped: " % items_file)
    assert warning.endswith("(the last line is incomplete: was the push interrupted?)")
    assert allowed.status == 0
    assert allowed.stderr == result.stderr
    assert allowed.stdout.endswith(
        "\nPASSED: 1 push item ended successfully (1 skipped line allowed)\n"
    )
    assert as_json.status == 1
    document = json.loads(as_json.stdout)
    assert [bad["line"] for bad in document["bad_lines"]] == [2]
    assert (document["allow_bad_lines"], document["strict"]) == (False, True)
    assert document["passed"] is False


def test_strict_is_accepted_and_changes_nothing(pushcollector, tmp_path):
    run_dir = tmp_path / "20261125000000"
    run_dir.mkdir()
    (run_dir / "pushitems.jsonl").write_bytes(b"garbage\n")

    default = pushcollector("summary", "--json", run_dir)
    strict = pushcollector("summary", "--json", "--strict", run_dir)
    both = pushcollector("summary", "--strict", "--allow-bad-lines", run_dir)

    assert (default.status, strict.status) == (1, 1)
    assert json.loads(strict.stdout) == json.loads(default.stdout)
    # Whoever asked for strictness must not get leniency.
    assert both.status == 2
    assert "not allowed with argument" in both.stderr
    assert both.stdout == ""


def test_allowed_bad_lines_in_a_run_without_records(pushcollector, tmp_path):
    run_dir = tmp_path / "20261125000000"
    run_dir.mkdir()
    (run_dir / "pushitems.jsonl").write_bytes(b"garbage\n" * 2)

    result = pushcollector("summary", "--allow-bad-lines", run_dir)
    as_json = pushcollector("summary", "--json", "--allow-bad-lines", run_dir)

    assert result.status == 0
    assert result.stdout.endswith(
        "\nPASSED: no push items were recorded (2 skipped lines allowed)\n"
    )
    assert as_json.status == 0
    document = json.loads(as_json.stdout)
    assert (document["allow_bad_lines"], document["strict"], document["passed"]) == (
        True,
        False,
        True,
    )


def huge_number_run(base):
    """A run whose last record holds a 5,001-digit integer, as 1.4.0 wrote it
    in a process that lifted Python's limit on converting such integers."""
    name = record(
        base, items(("big", "UPLOADFAILED")) + [{"filename": "n", "state": "PUSHED"}]
    )
    with open(base / "artifacts" / name / "pushitems.jsonl", "a") as items_file:
        items_file.write(
            '{"filename": "big", "size": 1%s, "state": "PUSHED"}\n' % ("0" * 5000)
        )
    return name


@pytest.mark.parametrize("command", [["summary"], ["summary", "--json"], ["runs"]])
def test_an_integer_python_will_not_read_is_a_skipped_line(
    pushcollector, tmp_path, command
):
    name = huge_number_run(tmp_path)
    items_file = tmp_path / "artifacts" / name / "pushitems.jsonl"

    result = pushcollector(*command, tmp_path / "artifacts")

    assert "Traceback" not in result.stderr
    if command == ["runs"]:
        assert result.status == 0
        assert result.stdout.splitlines()[1].endswith("1 unsuccessful, 1 skipped line")
        return
    assert result.status == 1
    assert result.stderr == (
        "pushcollector: warning: %s:3: skipped: not readable JSON (Exceeds the"
        " limit (4300 digits) for integer string conversion)\n" % items_file
    )


def test_only_the_first_bad_lines_are_warned_about_one_by_one(pushcollector, tmp_path):
    run_dir = tmp_path / "20261125000000"
    run_dir.mkdir()
    (run_dir / "pushitems.jsonl").write_bytes(b"garbage\n" * 25)

    result = pushcollector("summary", run_dir)

    warnings = result.stderr.splitlines()
    assert len(warnings) == 11
    assert warnings[9].startswith(
        "pushcollector: warning: %s:10: " % (run_dir / "pushitems.jsonl")
    )
    assert warnings[10] == (
        "pushcollector: warning: %s: 15 more lines skipped"
        % (run_dir / "pushitems.jsonl")
    )
    assert "Skipped:    25 lines\n" in result.stdout


def test_control_characters_in_names_are_escaped(pushcollector, tmp_path):
    record(tmp_path, items(("evil\x1b[2J\n.rpm", "UPLOADFAILED")))

    result = pushcollector("summary", tmp_path / "artifacts")

    assert result.status == 1
    assert "  evil\\x1b[2J\\n.rpm  -     UPLOADFAILED\n" in result.stdout
    assert "\x1b" not in result.stdout


# summary: where the run is found ---------------------------------------------


def test_the_default_is_the_latest_run_under_artifacts_in_cwd(pushcollector, tmp_path):
    record(tmp_path, items(("old", "UPLOADFAILED")))
    name = record(tmp_path, items(("new", "PUSHED")))

    result = pushcollector("summary", "--json", cwd=tmp_path)

    assert result.status == 0
    assert json.loads(result.stdout)["run"] == name


def test_the_artifacts_dir_variable_sets_the_default(
    pushcollector, tmp_path, tmp_path_factory
):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    record(tmp_path, items(("here", "PUSHED")))
    name = record(elsewhere, items(("there", "UNSIGNED")))

    result = pushcollector(
        "summary", "--json", cwd=tmp_path, artifacts_dir=elsewhere / "artifacts"
    )

    assert result.status == 1
    assert json.loads(result.stdout)["run"] == name


def test_a_pushitems_file_can_be_summarised_on_its_own(pushcollector, tmp_path):
    saved = tmp_path / "saved.jsonl"
    saved.write_text('{"filename": "a", "state": "PUSHED"}\n')

    result = pushcollector("summary", "--json", saved)

    assert result.status == 0
    document = json.loads(result.stdout)
    assert (document["run"], document["directory"], document["push_items"]) == (
        "saved.jsonl",
        None,
        1,
    )


def test_a_missing_path_exits_2_with_one_line(pushcollector, tmp_path):
    result = pushcollector("summary", tmp_path / "nope")

    assert result.status == 2
    assert result.stdout == ""
    assert result.stderr == (
        "pushcollector: error: %s: No such file or directory\n" % (tmp_path / "nope")
    )


def test_a_missing_default_says_the_default_was_used(pushcollector, tmp_path):
    result = pushcollector("summary", cwd=tmp_path)

    assert result.status == 2
    assert result.stderr == (
        "pushcollector: error: %s: No such file or directory"
        " (no path given, so the default was used; see --help)\n"
        % (tmp_path / "artifacts")
    )


def test_an_error_is_one_line_whatever_the_path_holds(pushcollector, tmp_path):
    evil = tmp_path / "evil\x1b[2J\nname"

    result = pushcollector("summary", evil)
    runs = pushcollector("runs", evil)

    assert result.status == runs.status == 2
    assert (
        result.stderr
        == runs.stderr
        == (
            "pushcollector: error: %s/evil\\x1b[2J\\nname: No such file or directory\n"
            % tmp_path
        )
    )


def test_a_path_that_is_not_a_run_exits_2(pushcollector, tmp_path):
    (tmp_path / "plain").mkdir()

    result = pushcollector("summary", tmp_path / "plain")

    assert result.status == 2
    assert result.stderr.startswith(
        "pushcollector: error: %s: not a run" % (tmp_path / "plain")
    )
    assert len(result.stderr.splitlines()) == 1


def test_an_unreadable_items_file_exits_2(pushcollector, tmp_path):
    run_dir = tmp_path / "20261125000000"
    run_dir.mkdir()
    # A directory where the file should be: open() fails even for root.
    (run_dir / "pushitems.jsonl").mkdir()

    result = pushcollector("summary", run_dir)

    assert result.status == 2
    assert result.stderr == "pushcollector: error: %s: Is a directory\n" % (
        run_dir / "pushitems.jsonl"
    )


@pytest.mark.parametrize("kind", REFUSALS)
def test_an_items_file_that_is_not_a_regular_file_exits_2(
    pushcollector, tmp_path, no_hang, kind
):
    name = record(tmp_path, files=["log"])
    items_file = tmp_path / "artifacts" / name / "pushitems.jsonl"
    make_special(items_file, kind)

    for path in (tmp_path / "artifacts" / name, tmp_path / "artifacts"):
        result = pushcollector("summary", path)

        assert result.status == 2
        assert result.stdout == ""
        assert result.stderr == "pushcollector: error: %s: %s\n" % (
            items_file,
            REFUSALS[kind],
        )


def test_latest_at_a_fifo_exits_2(pushcollector, tmp_path, no_hang):
    base = tmp_path / "artifacts"
    base.mkdir()
    os.mkfifo(base / "fifo")
    (base / "latest").symlink_to("fifo")

    result = pushcollector("summary", base)

    assert result.status == 2
    assert result.stderr == (
        "pushcollector: error: %s: 'latest' points at 'fifo', which is not a"
        " directory\n" % base
    )


def test_a_fifo_as_path_exits_2(pushcollector, tmp_path, no_hang):
    os.mkfifo(tmp_path / "fifo")

    result = pushcollector("summary", tmp_path / "fifo")
    runs = pushcollector("runs", tmp_path / "fifo")

    assert result.status == 2
    assert result.stderr == (
        "pushcollector: error: %s: not a run: neither a directory nor a file\n"
        % (tmp_path / "fifo")
    )
    assert runs.status == 2
    assert runs.stderr == (
        "pushcollector: error: %s: Not a directory\n" % (tmp_path / "fifo")
    )


def test_special_files_attached_in_a_run_are_not_counted(
    pushcollector, tmp_path, no_hang
):
    name = record(tmp_path, items(("a", "PUSHED")), files=["log", "sub/log"])
    run_dir = tmp_path / "artifacts" / name
    os.mkfifo(run_dir / "fifo")
    os.mkfifo(run_dir / "sub" / "fifo")
    (run_dir / "link").symlink_to("log")

    summary = pushcollector("summary", tmp_path / "artifacts")
    runs = pushcollector("runs", "--json", tmp_path / "artifacts")

    assert summary.status == 0
    assert runs.status == 0
    assert json.loads(runs.stdout)["runs"][0]["files"] == 2


def test_a_large_run_is_summarised(pushcollector, tmp_path):
    run_dir = tmp_path / "20261125000000"
    run_dir.mkdir()
    lines = []
    for number in range(50_000):
        for state in ("PENDING", "PENDING", "PENDING", "PUSHED"):
            lines.append(
                '{"dest": "/srv/%d", "filename": "pkg-%d.rpm", "state": "%s"}'
                % (number % 7, number, state if number % 1000 else "UPLOADFAILED")
            )
    (run_dir / "pushitems.jsonl").write_text("\n".join(lines) + "\n")

    result = pushcollector("summary", "--json", run_dir)

    assert result.status == 1
    document = json.loads(result.stdout)
    assert document["records"] == 200_000
    assert document["push_items"] == 50_000
    assert document["states"] == {"PUSHED": 49_950, "UPLOADFAILED": 50}
    assert [item["filename"] for item in document["unsuccessful"]] == [
        "pkg-%d.rpm" % number for number in range(0, 50_000, 1000)
    ]


# runs ----------------------------------------------------------------------


def test_runs_lists_newest_first_and_marks_latest(pushcollector, tmp_path):
    first = record(tmp_path, items(("a", "PUSHED"), ("b", "PUSHED")), files=["log"])
    second = record(
        tmp_path,
        items(("a", "PENDING"), ("b", "UPLOADFAILED")),
        files=["x/1", "x/2"],
    )
    with open(tmp_path / "artifacts" / second / "pushitems.jsonl", "a") as torn:
        torn.write("torn")

    result = pushcollector("runs", cwd=tmp_path)

    assert result.status == 0
    assert result.stdout == (
        "  RUN%s  RECORDS  PUSH ITEMS  FILES  RESULT\n"
        "* %s        2           2      2  1 unsuccessful,"
        " 1 unfinished (PENDING), 1 skipped line\n"
        "  %s%s        2           2      1  passed\n"
    ) % (" " * (len(second) - 3), second, first, " " * (len(second) - len(first)))


def test_runs_json(pushcollector, tmp_path):
    first = record(tmp_path, items(("a", "PUSHED")), files=["log"])
    second = record(tmp_path, items(("a", "PENDING")))
    base = tmp_path / "artifacts"

    result = pushcollector("runs", "--json", base)

    assert result.status == 0
    assert json.loads(result.stdout) == {
        "base": str(base),
        "runs": [
            {
                "name": second,
                "directory": str(base / second),
                "latest": True,
                "records": 1,
                "push_items": 1,
                "files": 0,
                "unsuccessful": 0,
                "unfinished": 1,
                "bad_lines": 0,
                "passed": False,
                "error": None,
            },
            {
                "name": first,
                "directory": str(base / first),
                "latest": False,
                "records": 1,
                "push_items": 1,
                "files": 1,
                "unsuccessful": 0,
                "unfinished": 0,
                "bad_lines": 0,
                "passed": True,
                "error": None,
            },
        ],
    }


def test_runs_judges_each_run_as_summary_does(pushcollector, tmp_path):
    name = record(tmp_path, items(("a", "PUSHED")))
    with open(tmp_path / "artifacts" / name / "pushitems.jsonl", "a") as torn:
        torn.write("torn")

    result = pushcollector("runs", tmp_path / "artifacts")
    as_json = pushcollector("runs", "--json", tmp_path / "artifacts")
    summary = pushcollector("summary", tmp_path / "artifacts")

    assert result.status == 0
    assert result.stdout.splitlines()[1].endswith("  1 skipped line")
    [figures] = json.loads(as_json.stdout)["runs"]
    assert (figures["bad_lines"], figures["passed"]) == (1, False)
    assert summary.status == 1


def test_runs_lists_a_run_it_cannot_read_with_its_error(
    pushcollector, tmp_path, no_hang
):
    first = record(tmp_path, items(("a", "PUSHED")))
    second = record(tmp_path, items(("a", "PUSHED")))
    third = record(tmp_path, items(("a", "PUSHED")))
    items_file = tmp_path / "artifacts" / second / "pushitems.jsonl"
    items_file.unlink()
    os.mkfifo(items_file)
    error = "%s: a FIFO, not a regular file" % items_file

    result = pushcollector("runs", tmp_path / "artifacts")
    as_json = pushcollector("runs", "--json", tmp_path / "artifacts")

    assert result.status == 0
    assert result.stderr == ""
    assert [
        line[:2] + " ".join(line[2:].split(None, 4))
        for line in result.stdout.splitlines()[1:]
    ] == [
        "* %s 1 1 0 passed" % third,
        "  %s - - - error: %s" % (second, error),
        "  %s 1 1 0 passed" % first,
    ]
    assert as_json.status == 0
    listed = json.loads(as_json.stdout)["runs"]
    assert [run["error"] for run in listed] == [None, error, None]
    assert listed[1] == {
        "name": second,
        "directory": str(tmp_path / "artifacts" / second),
        "latest": False,
        "records": None,
        "push_items": None,
        "files": None,
        "unsuccessful": None,
        "unfinished": None,
        "bad_lines": None,
        "passed": False,
        "error": error,
    }


def test_runs_lists_runs_with_names_longer_than_the_kernel_takes(
    pushcollector, tmp_path
):
    # 5,030 characters in 25 names: the local backend writes it one name at
    # a time, but the kernel refuses the whole path (PATH_MAX is 4,096).
    long_name = ("d" * 200 + "/") * 24 + "f" * 206
    first = record(tmp_path, items(("a", "PUSHED")))
    second = record(tmp_path, items(("a", "PUSHED")), files=["log"])
    # Longer than this version's writer accepts, as older writers wrote.
    write_file(tmp_path / "artifacts" / second, long_name, b"x")

    result = pushcollector("runs", "--json", tmp_path / "artifacts")

    assert result.status == 0
    assert [
        (run["name"], run["files"], run["error"])
        for run in json.loads(result.stdout)["runs"]
    ] == [(second, 2, None), (first, 0, None)]


def test_runs_reads_deep_trees_with_few_descriptors(tmp_path):
    # 1,200 directories deep, deeper than Python's recursion limit, read by
    # a process allowed 40 open files: one per level would not do.
    name = record(tmp_path, [])
    try:
        for deep in ("a/" * 1200 + "f", "a/a/g"):
            write_file(tmp_path / "artifacts" / name, deep, b"x")
        done = subprocess.run(
            [SCRIPT, "runs", "--json", tmp_path / "artifacts"],
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40)),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        remove_deep_tree(tmp_path / "artifacts" / name)

    assert (done.returncode, done.stderr) == (0, "")
    [run] = json.loads(done.stdout)["runs"]
    assert (run["name"], run["files"], run["error"]) == (name, 2, None)


def test_runs_of_an_empty_base(pushcollector, tmp_path):
    (tmp_path / "artifacts").mkdir()

    result = pushcollector("runs", artifacts_dir=tmp_path / "artifacts")
    as_json = pushcollector("runs", "--json", artifacts_dir=tmp_path / "artifacts")

    assert (result.status, result.stdout) == (
        0,
        "No runs in %s\n" % (tmp_path / "artifacts"),
    )
    assert json.loads(as_json.stdout) == {
        "base": str(tmp_path / "artifacts"),
        "runs": [],
    }


def test_runs_of_a_missing_base_exits_2(pushcollector, tmp_path):
    result = pushcollector("runs", tmp_path / "nope")

    assert result.status == 2
    assert result.stderr == (
        "pushcollector: error: %s: No such file or directory\n" % (tmp_path / "nope")
    )
