"""Smoke test of benchmarks/bench_pages.py on PostgreSQL and SQLite, scaled
down: here for the ``postgres_server`` fixture (its SQLite-only run is in
tests/test_benchmarks.py)."""

import json
import subprocess
import sys
from pathlib import Path

from .test_bench_serve import database_names

PAGES_BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pages.py"


def test_scaled_down_pages_benchmark_reports_every_figure(postgres_server, tmp_path):
    databases_before = database_names(postgres_server.url)

    completed = subprocess.run(
        [sys.executable, str(PAGES_BENCHMARK), "--scale", "0.001", "--repeat", "1"]
        + ["--postgres-url", postgres_server.url, "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
        timeout=180,
    )
    results = json.loads(completed.stdout)

    assert results["settings"]["postgresql"]["server"].startswith("given: ")
    assert postgres_server.password not in completed.stdout
    measurements = results["measurements"]
    assert all(figures["median_seconds"] > 0 for figures in measurements.values())
    assert len(measurements) == 6
    targets = results["targets"]
    for name in ("postgresql_run_page_seconds", "postgresql_filtered_page_seconds"):
        assert targets[name]["target"] == "<= 1"
        assert isinstance(targets[name]["pass"], bool)
    for name in ("postgresql_log_page_seconds", "sqlite_run_page_seconds"):
        assert targets[name]["value"] > 0
        assert (targets[name]["target"], targets[name]["pass"]) == (None, None)
    # Every database the benchmark created was dropped.
    assert database_names(postgres_server.url) == databases_before
