"""Smoke tests of the benchmarks, scaled down and offline."""

import json
import os
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"
)
BENCHMARK = os.path.join(BENCHMARKS, "bench_collect.py")
HTTP_BENCHMARK = os.path.join(BENCHMARKS, "bench_http.py")
SUMMARY_BENCHMARK = os.path.join(BENCHMARKS, "bench_summary.py")
SERVE_BENCHMARK = os.path.join(BENCHMARKS, "bench_serve.py")
UPLOAD_BENCHMARK = os.path.join(BENCHMARKS, "bench_upload.py")


def benchmark_results(script, *args, cwd, timeout=60):
    """Run a benchmark script with --json; the JSON object it printed."""
    completed = subprocess.run(
        [sys.executable, script, *args, "--json"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
        timeout=timeout,
    )
    return json.loads(completed.stdout)


def test_scaled_down_benchmark_reports_every_figure(tmp_path):
    results = benchmark_results(
        BENCHMARK,
        "--scale",
        "0.001",
        "--repeat",
        "1",
        "--import-runs",
        "2",
        "--no-reference",
        cwd=tmp_path,
    )

    measured = {
        name: figures["items"]
        for name, figures in results["measurements"].items()
        if figures is not None
    }
    assert measured == {
        "local_dicts_10k": 10,
        "local_dicts_100k": 100,
        "local_push_items_10k": 10,
        "local_single_item_calls": 2,
        "raw_json_10k": 10,
        "raw_json_100k": 100,
    }
    for name in measured:
        figures = results["measurements"][name]
        assert figures["median_seconds"] > 0
        assert figures["items_per_second"] > 0
    assert results["measurements"]["reference_dicts_10k"] is None
    assert results["measurements"]["reference_single_item_calls"] is None

    assert results["import_ms"]["reference_ms"] is None
    assert isinstance(results["import_ms"]["project_ms"], float)

    assert results["memory"]["items"] == 100
    assert results["memory"]["batch_mb"] > 0

    ratios = results["ratios"]
    assert set(ratios) == {
        "local_vs_reference_10k_items_per_second",
        "local_vs_raw_100k_time",
        "import_project_vs_reference",
        "single_item_call_project_vs_reference_time",
        "memory_extra_peak_vs_batch_100k",
        "first_call_vs_import_time",
    }
    for name in (
        "local_vs_reference_10k_items_per_second",
        "import_project_vs_reference",
        "single_item_call_project_vs_reference_time",
    ):
        assert ratios[name]["value"] is None
        assert ratios[name]["pass"] is None
    for name in (
        "local_vs_raw_100k_time",
        "memory_extra_peak_vs_batch_100k",
        "first_call_vs_import_time",
    ):
        assert ratios[name]["value"] > 0
        assert isinstance(ratios[name]["pass"], bool)
    assert results["first_call"]["runs"] == 2


def test_first_call_benchmark_reports_both_timings(tmp_path):
    results = benchmark_results(
        BENCHMARK, "--first-call-only", "--import-runs", "2", cwd=tmp_path
    )

    first_call = results["first_call"]
    assert first_call["runs"] == 2
    assert first_call["import_ms"] > 0
    assert first_call["first_call_ms"] > 0
    ratio = results["ratios"]["first_call_vs_import_time"]
    assert ratio["value"] == first_call["first_call_ms"] / first_call["import_ms"]
    assert ratio["target"] == "<= 1.5"
    assert isinstance(ratio["pass"], bool)
    # Each process ran in a temporary directory of its own.
    assert list(tmp_path.iterdir()) == []


def test_scaled_down_http_benchmark_reports_both_cases(tmp_path):
    results = benchmark_results(
        HTTP_BENCHMARK, "--scale", "0.006", "--repeat", "1", cwd=tmp_path
    )

    measurements = results["measurements"]
    assert set(measurements) == {"http_backend", "bare_session"}
    for figures in measurements.values():
        # 600 items: a full batch of 500 and one of 100.
        assert (figures["items"], figures["requests"]) == (600, 2)
        assert figures["median_seconds"] > 0
    ratio = results["ratios"]["http_backend_vs_bare_time"]
    assert ratio["value"] > 0
    assert ratio["target"] == "<= 2"
    assert isinstance(ratio["pass"], bool)


def test_scaled_down_summary_benchmark_reports_every_figure(tmp_path):
    results = benchmark_results(
        SUMMARY_BENCHMARK,
        "--lines",
        "2000",
        "--repeat",
        "1",
        cwd=tmp_path,
        timeout=120,
    )

    assert results["settings"]["lines"] == 2000
    assert results["settings"]["repeat"] == 1
    cases = results["cases"]
    assert {key: case["push_items"] for key, case in cases.items()} == {
        "a": 500,
        "b": 2,
    }
    for case in cases.values():
        assert case["lines"] == 2000
        assert case["file_mb"] > 0
        assert case["bytes_per_line"] > 0
        assert case["summary_vs_raw_time"] > 0
        for process in ("summary", "raw_json"):
            assert set(case[process]) == {
                "median_seconds",
                "lines_per_second",
                "peak_rss_mb",
            }
            assert all(figure > 0 for figure in case[process].values())

    targets = results["targets"]
    assert set(targets) == {
        "case_a_seconds",
        "case_a_summary_vs_raw_time",
        "case_b_vs_case_a_peak_rss",
    }
    for target in targets.values():
        assert target["value"] > 0
        assert isinstance(target["pass"], bool)


def test_scaled_down_serve_benchmark_on_sqlite_reports_every_figure(tmp_path):
    results = benchmark_results(
        SERVE_BENCHMARK,
        "--scale",
        "0.002",
        "--repeat",
        "1",
        "--skip-postgres",
        cwd=tmp_path,
        timeout=120,
    )

    settings = results["settings"]
    assert (settings["writers"], settings["items_per_writer"]) == (8, 50)
    assert settings["summary_records"] == 2000
    assert settings["postgresql"] is None
    assert settings["sqlite"] is True
    measurements = results["measurements"]
    measured = {
        name: figures["items"]
        for name, figures in measurements.items()
        if figures is not None
    }
    assert measured == {
        "sqlite_serve": 400,
        "local_summary": 2000,
        "sqlite_summary_get": 2000,
    }
    for name in measured:
        figures = measurements[name]
        assert figures["median_seconds"] > 0
        assert figures["items_per_second"] > 0
        assert len(figures["seconds"]) == 1
        # What was stored or read was checked, else the benchmark failed.
        assert figures["checked"]
    assert "8 runs of 50 records" in measurements["sqlite_serve"]["checked"]
    for name in ("local_summary", "sqlite_summary_get"):
        # Some items were recorded twice, and some ended unsuccessfully.
        assert 0 < measurements[name]["push_items"] < 2000
        assert measurements[name]["unsuccessful"] > 0

    ratios = results["ratios"]
    # No PostgreSQL: its ratios, and SQLite's serve against its COPY, are not
    # measured; SQLite's summary is reported without a target.
    for name in (
        "postgresql_serve_vs_copy_time",
        "postgresql_summary_get_vs_local_time",
    ):
        assert ratios[name]["value"] is None
        assert ratios[name]["pass"] is None
        assert ratios[name]["target"].startswith("<= ")
    assert ratios["sqlite_serve_vs_postgresql_copy_time"] == {
        "value": None,
        "target": None,
        "pass": None,
    }
    summary = ratios["sqlite_summary_get_vs_local_time"]
    assert summary["value"] > 0
    assert (summary["target"], summary["pass"]) == (None, None)
    # The temporary directory of the databases and runs is gone.
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def bench_serve(monkeypatch):
    """The serve benchmark's module, imported as its script imports it."""
    monkeypatch.syspath_prepend(BENCHMARKS)
    import bench_serve

    return bench_serve


# How the second writer's run, (items, log), is spoiled, given the first
# writer's; and what the check then says.
SPOILED_RUNS = {
    "intact": (lambda run, first: run, None),
    "doubled": (
        lambda run, first: (run[0] + run[0][-1:], run[1]),
        "run run-1 has 4 records, not 3",
    ),
    "another-writers": (
        lambda run, first: first,
        "the records of run run-0 are not those of a writer, each once and in" " order",
    ),
    "short-log": (
        lambda run, first: (run[0], run[1][:-1]),
        "push.log of run run-1 is not what writer 1 appended: 1023 bytes, not" " 1024",
    ),
}


@pytest.mark.parametrize("spoiled", list(SPOILED_RUNS))
def test_serve_benchmark_stops_unless_every_record_arrived_once(
    bench_serve, tmp_path, spoiled
):
    from pushcollector._impl.store import Store

    spoil, failure = SPOILED_RUNS[spoiled]
    writers = bench_serve.Writers(str(tmp_path), 2, 3, "seed")
    items = [[json.loads(line) for line in lines] for lines in writers.lines]
    first = (items[0], writers.logs[0])
    runs = [first, spoil((items[1], writers.logs[1]), first)]
    url = "sqlite:///%s" % (tmp_path / "runs.db")
    store = Store(url)
    try:
        store.check_schema(create=True)
        for writer, (run_items, log) in enumerate(runs):
            store.add_push_items("run-%d" % writer, run_items)
            store.append_file("run-%d" % writer, "push.log", log)
    finally:
        store.close()

    with bench_serve.Service(url, str(tmp_path)) as service:
        if failure is None:
            bench_serve.check_service_runs(service.url, writers, "here")
        else:
            with pytest.raises(SystemExit) as stopped:
                bench_serve.check_service_runs(service.url, writers, "here")
            assert stopped.value.code == (
                "bench_serve: data check failed: here: " + failure
            )


def test_serve_benchmark_stops_unless_the_summaries_agree(bench_serve):
    local = {
        "run": "bench-summary",
        "directory": "/tmp/runs/bench-summary",
        "items_file": "/tmp/runs/bench-summary/pushitems.jsonl",
        "latest": False,
        "records": 3,
        "push_items": 2,
        "states": {"PUSHED": 1, "NOTFOUND": 1},
    }
    served = dict(local, directory=None, items_file=None, latest=True)

    bench_serve.check_summaries(served, local, 3, "here")

    with pytest.raises(SystemExit, match="the summary counts 3 records, not 4"):
        bench_serve.check_summaries(served, local, 4, "here")
    served["states"] = {"PUSHED": 2}
    with pytest.raises(SystemExit) as stopped:
        bench_serve.check_summaries(served, local, 3, "here")
    assert stopped.value.code.startswith(
        "bench_serve: data check failed: here: GET summary and summary --json"
        " differ in states: states: {'PUSHED': 2} vs {"
    )


PAGES_BENCHMARK = os.path.join(BENCHMARKS, "bench_pages.py")


def test_scaled_down_pages_benchmark_on_sqlite_reports_every_figure(tmp_path):
    results = benchmark_results(
        PAGES_BENCHMARK,
        "--scale",
        "0.001",
        "--repeat",
        "2",
        "--skip-postgres",
        cwd=tmp_path,
        timeout=120,
    )

    settings = results["settings"]
    assert (settings["records"], settings["push_items"], settings["failures"]) == (
        999,
        909,
        10,
    )
    assert settings["postgresql"] is None
    measurements = results["measurements"]
    measured = {name for name, figures in measurements.items() if figures is not None}
    assert measured == {"sqlite_run_page", "sqlite_filtered_page", "sqlite_log_page"}
    for name in measured:
        figures = measurements[name]
        assert figures["median_seconds"] > 0
        assert len(figures["seconds"]) == 2
        # What each page showed was checked, else the benchmark failed.
        assert figures["checked"]
    targets = results["targets"]
    for name in ("postgresql_run_page_seconds", "postgresql_filtered_page_seconds"):
        assert targets[name] == {"value": None, "target": "<= 1", "pass": None}
    assert targets["sqlite_run_page_seconds"]["value"] > 0
    assert targets["sqlite_run_page_seconds"]["target"] is None
    # The temporary directory of the database is gone.
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def bench_pages(monkeypatch):
    """The pages benchmark's module, imported as its script imports it."""
    monkeypatch.syspath_prepend(BENCHMARKS)
    import bench_pages

    return bench_pages


def test_the_pages_benchmark_checks_what_the_pages_show(bench_pages):
    run = bench_pages.BigRun(900, 10, 2, 2026)
    rows = "".join(
        '<td class="filename">%s</td>' % name
        for name in run.failed[: bench_pages.ROWS_PER_PAGE]
    )
    page = (
        '<dd id="records">%d</dd><dd id="push-items">900</dd>'
        '<dd id="unsuccessful-count">10</dd><dd id="unfinished-count">0</dd>'
        '<svg class="chart"></svg><section id="unsuccessful">%s</section>'
        '<section id="unfinished"></section>' % (run.records, rows)
    )

    bench_pages.check_run_page(page, run, "here")
    with pytest.raises(SystemExit, match="the run page shows"):
        bench_pages.check_run_page(page.replace(">900<", ">899<"), run, "here")
    with pytest.raises(SystemExit, match="table is not the first 100 failed"):
        bench_pages.check_run_page(page.replace(run.failed[3], "x"), run, "here")
    with pytest.raises(SystemExit, match="no chart"):
        bench_pages.check_run_page(page.replace("chart", "x"), run, "here")


def test_scaled_down_upload_benchmark_on_sqlite_reports_every_figure(tmp_path):
    results = benchmark_results(
        UPLOAD_BENCHMARK,
        "--scale",
        "0.001",
        "--repeat",
        "1",
        "--skip-postgres",
        cwd=tmp_path,
        timeout=120,
    )

    settings = results["settings"]
    assert (settings["records"], settings["batch_size"]) == (1000, 500)
    assert (settings["postgresql"], settings["sqlite"]) == (None, True)
    measurements = results["measurements"]
    assert {
        name: figures["items"]
        for name, figures in measurements.items()
        if figures is not None
    } == {"sqlite_upload": 1000, "sqlite_http": 1000}
    for name in ("sqlite_upload", "sqlite_http"):
        figures = measurements[name]
        assert figures["median_seconds"] > 0
        assert len(figures["seconds"]) == 1
        # What the service held was checked, else the benchmark failed.
        assert "1,000 records, each the item sent" in figures["checked"]
    ratios = results["ratios"]
    assert ratios["sqlite_upload_vs_http_time"]["value"] > 0
    assert ratios["sqlite_upload_vs_http_time"]["target"] == "<= 2"
    assert isinstance(ratios["sqlite_upload_vs_http_time"]["pass"], bool)
    assert ratios["postgresql_upload_vs_http_time"] == {
        "value": None,
        "target": "<= 2",
        "pass": None,
    }


MEMORY_BENCHMARK = os.path.join(BENCHMARKS, "bench_memory.py")


def test_scaled_down_memory_benchmark_on_sqlite_reports_every_figure(tmp_path):
    results = benchmark_results(
        MEMORY_BENCHMARK,
        "--scale",
        "0.01",
        "--skip-postgres",
        cwd=tmp_path,
        timeout=180,
    )

    settings = results["settings"]
    assert (settings["file_bytes"], settings["summary_items"]) == (671_089, 10_000)
    assert settings["postgresql"] is False
    measurements = results["measurements"]
    assert set(measurements) == {"sqlite_file_page", "sqlite_appends", "sqlite_summary"}
    for figures in measurements.values():
        assert figures["case"].endswith(", SQLite")
        assert isinstance(figures["peak_growth_mib"], float)
    # The temporary directory of the database is gone.
    assert list(tmp_path.iterdir()) == []
