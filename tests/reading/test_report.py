"""The run report: one outcome of a run, whoever read it, and its document."""

import json

import pytest

from pushcollector import BadLine, FinalState, open_run
from pushcollector._impl.cli import main
from pushcollector._impl.reading.report import RunReport, verdict
from pushcollector._impl.store.queries import Store

# Records of each kind of outcome: a line per record, bytes as written.
PASSING = [
    {"filename": "a.rpm", "state": "PENDING", "dest": "/repo/1"},
    {"filename": "a.rpm", "state": "PUSHED", "dest": "/repo/1"},
    {"filename": "d.iso", "state": "EXISTS", "dest": "/repo/2"},
]
UNFINISHED = PASSING + [{"filename": "c.rpm", "state": "PENDING"}]
UNSUCCESSFUL = UNFINISHED + [{"filename": "b.rpm", "state": "NOTFOUND", "dest": None}]
TORN = b'{"filename": "e.rpm", "st'

OPTIONS = {
    "no options": [],
    "--allow-pending": ["--allow-pending"],
    "--allow-bad-lines": ["--allow-bad-lines"],
    "both": ["--allow-pending", "--allow-bad-lines"],
}


def write_run(tmp_path, records, torn=False):
    """A run directory holding records, and a torn last line if asked."""
    run_dir = tmp_path / "artifacts" / "20261125143000"
    run_dir.mkdir(parents=True)
    content = b"".join(json.dumps(record).encode() + b"\n" for record in records)
    (run_dir / "pushitems.jsonl").write_bytes(content + (TORN if torn else b""))
    return run_dir


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
@pytest.mark.parametrize(
    "records, torn",
    [(PASSING, False), (PASSING, True), (UNFINISHED, False), (UNSUCCESSFUL, True)],
    ids=["passing", "a bad line", "unfinished", "unsuccessful"],
)
def test_the_document_of_a_report_is_what_summary_json_prints(
    tmp_path, capsys, records, torn, options
):
    run_dir = write_run(tmp_path, records, torn)

    status = main(["summary", "--json", *options, str(run_dir)])

    run = open_run(run_dir)
    report = RunReport.of_summary(
        run.summary(), "--allow-pending" in options, "--allow-bad-lines" in options
    )
    location = {"directory": run.directory, "items_file": run.items_path}
    document = report.document(run.name, location, run.is_latest)
    assert capsys.readouterr().out == json.dumps(document, indent=2) + "\n"
    assert status == (0 if report.passed else 1)


@pytest.mark.parametrize("allow_bad_lines", [False, True])
@pytest.mark.parametrize("allow_pending", [False, True])
@pytest.mark.parametrize(
    "records, torn",
    [(PASSING, False), (PASSING, True), (UNFINISHED, False), (UNSUCCESSFUL, False)],
    ids=["passing", "a bad line", "unfinished", "unsuccessful"],
)
def test_a_report_is_judged_by_the_one_verdict(
    tmp_path, records, torn, allow_pending, allow_bad_lines
):
    summary = open_run(write_run(tmp_path, records, torn)).summary()

    report = RunReport.of_summary(summary, allow_pending, allow_bad_lines)

    expected = verdict(
        summary.state_counts(), len(summary.bad_lines), allow_pending, allow_bad_lines
    )
    assert report.passed is summary.passed(allow_pending, allow_bad_lines) is expected
    assert report.passed is (
        (records is PASSING or (records is UNFINISHED and allow_pending))
        and (not torn or allow_bad_lines)
    )


def test_a_report_holds_what_the_summary_says(tmp_path):
    summary = open_run(write_run(tmp_path, UNSUCCESSFUL, torn=True)).summary()

    report = RunReport.of_summary(summary, allow_pending=True)

    assert report.record_count == 5
    assert report.push_item_count == 4
    assert list(report.state_counts.items()) == list(summary.state_counts().items())
    assert report.unsuccessful == (FinalState("b.rpm", None, "NOTFOUND"),)
    assert report.unfinished == (FinalState("c.rpm", None, "PENDING"),)
    assert report.bad_lines == tuple(summary.bad_lines)
    assert report.bad_line_count == 1
    assert (report.allow_pending, report.allow_bad_lines) == (True, False)
    assert (report.unsuccessful_count, report.unfinished_count) == (1, 1)


def test_states_are_counted_most_frequent_first_ties_by_name():
    report = RunReport(7, {"UNSIGNED": 1, "PUSHED": 3, "CHECKSUM": 1, "EXISTS": 2})

    assert list(report.state_counts.items()) == [
        ("PUSHED", 3),
        ("EXISTS", 2),
        ("CHECKSUM", 1),
        ("UNSIGNED", 1),
    ]
    assert report.unsuccessful_states == ["CHECKSUM", "UNSIGNED"]
    assert (report.unsuccessful_count, report.unfinished_count) == (2, 0)


def test_a_document_read_back_is_the_same_report():
    report = RunReport(
        9,
        {"PUSHED": 2, "PENDING": 1, "NOTFOUND": 1},
        unsuccessful=[("b.rpm", None, "NOTFOUND")],
        unfinished=[("c.rpm", "/repo", "PENDING")],
        bad_lines=[BadLine(4, "not valid JSON")],
        allow_pending=True,
    )

    document = report.document("r", {"url": "http://x/api/runs/r"}, True)

    assert RunReport.of_document(document, allow_pending=True) == report
    assert RunReport.of_document(document) != report
    assert document["run"] == "r"
    assert document["url"] == "http://x/api/runs/r"
    assert document["passed"] is False


def test_a_document_is_judged_by_the_options_given_not_by_its_own():
    document = RunReport(1, {"PENDING": 1}, unsuccessful=[], unfinished=[]).document(
        "r", {}, False
    )

    assert document["passed"] is False
    assert RunReport.of_document(document, allow_pending=True).passed is True


# A document of a run with one item, NOTFOUND, and a value that stands for
# a key left out: each case below gets one thing wrong.
LEFT_OUT = object()
GOOD_DOCUMENT = {
    "records": 1,
    "states": {"NOTFOUND": 1},
    "unsuccessful": [{"filename": "a", "dest": None, "state": "NOTFOUND"}],
    "unfinished": [],
    "bad_lines": [],
}


@pytest.mark.parametrize(
    "wrong",
    [
        {"states": LEFT_OUT},
        {"states": ["NOTFOUND"]},
        {"states": {"NOTFOUND": "1"}},
        {"unsuccessful": [{"filename": "a"}]},
        {"bad_lines": [{"line": 1}]},
    ],
    ids=[
        "no states",
        "states not counted",
        "a count not a number",
        "an item cut",
        "a bad line cut",
    ],
)
def test_what_is_not_a_document_is_refused(wrong):
    document = dict(GOOD_DOCUMENT, **wrong)
    document = {key: value for key, value in document.items() if value is not LEFT_OUT}

    with pytest.raises((KeyError, TypeError, AttributeError, ValueError)):
        RunReport.of_document(document)
    assert RunReport.of_document(GOOD_DOCUMENT).unsuccessful_count == 1


def test_a_report_of_figures_counts_only():
    figures = {
        "name": "r",
        "records": 4,
        "push_items": 3,
        "states": {"PUSHED": 1, "PENDING": 1, "NOTFOUND": 1},
        "unsuccessful": 1,
        "unfinished": 1,
        "bad_lines": 2,
    }

    report = RunReport.of_figures(figures)

    assert (report.unsuccessful, report.unfinished, report.bad_lines) == (
        None,
        None,
        (),
    )
    assert (report.record_count, report.push_item_count) == (4, 3)
    assert (report.unsuccessful_count, report.unfinished_count) == (1, 1)
    assert report.bad_line_count == 2
    assert report.passed is False
    assert repr(report) == "<RunReport: 4 records, 3 push items, failed>"


def test_a_report_does_not_change():
    report = RunReport(1, {"PUSHED": 1})

    with pytest.raises(AttributeError, match="does not change"):
        report.passed = False
    with pytest.raises(AttributeError, match="does not change"):
        del report.state_counts
    with pytest.raises(TypeError, match="unhashable"):
        hash(report)
    assert report.passed is True
    assert report == RunReport(1, {"PUSHED": 1})
    assert report != (1, {"PUSHED": 1})
    assert repr(report) == "<RunReport: 1 records, 1 push items, passed>"


def test_the_report_of_a_run_in_the_store_is_that_of_the_same_local_run(tmp_path):
    local = open_run(write_run(tmp_path, UNSUCCESSFUL)).summary()
    store = Store("sqlite:///%s" % (tmp_path / "runs.db"))
    store.check_schema(create=True)
    try:
        store.add_push_items("r", UNSUCCESSFUL)
        run = store.run("r")
        # What the service's summary endpoint makes of the store's counts.
        (counts,) = store.counts([run])
        counted = RunReport.of_counts(counts)
        report = RunReport.of_counts(
            counts,
            unsuccessful=store.items_in_states(run, counted.unsuccessful_states),
            unfinished=store.items_in_states(run, ["PENDING"]),
            allow_pending=True,
        )
    finally:
        store.close()

    assert report == RunReport.of_summary(local, allow_pending=True)
    assert counted.unsuccessful is counted.unfinished is None
    assert (counted.unsuccessful_count, counted.passed) == (1, False)


def test_the_text_of_a_document_is_the_document_of_its_items():
    unsuccessful = [
        ("f%d" % n, None if n % 2 else "d", "NOTFOUND") for n in range(1203)
    ]
    unfinished = [('p\u00e9\u0000"', "\\", "PENDING")]
    report = RunReport(
        1204,
        {"NOTFOUND": 1203, "PENDING": 1},
        unsuccessful=unsuccessful,
        unfinished=unfinished,
    )
    location = {"directory": None, "items_file": None}
    counted = RunReport(1204, {"NOTFOUND": 1203, "PENDING": 1})

    pieces = list(
        counted.document_text("r", location, True, iter(unsuccessful), unfinished)
    )

    text = "".join(pieces)
    assert json.loads(text) == report.document("r", location, True)
    # As the service answered it whole: compact, UTF-8 rather than escapes.
    assert text == json.dumps(
        report.document("r", location, True),
        ensure_ascii=False,
        separators=(",", ":"),
    )
    # A piece per few hundred items, not one for the whole list.
    assert len(pieces) > 3
