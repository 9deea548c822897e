"""Smoke test of benchmarks/bench_serve.py on PostgreSQL and SQLite, scaled
down: here for the ``postgres_server`` fixture (its SQLite-only run is in
tests/test_benchmarks.py)."""

import json
import subprocess
import sys
from pathlib import Path

import psycopg

SERVE_BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_serve.py"


def database_names(url):
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT datname FROM pg_database").fetchall()
    return sorted(name for (name,) in rows)


def test_scaled_down_serve_benchmark_reports_every_figure(postgres_server, tmp_path):
    databases_before = database_names(postgres_server.url)

    completed = subprocess.run(
        [sys.executable, str(SERVE_BENCHMARK), "--scale", "0.002", "--repeat", "1"]
        + ["--postgres-url", postgres_server.url, "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
        timeout=180,
    )
    results = json.loads(completed.stdout)

    settings = results["settings"]
    assert (settings["writers"], settings["items_per_writer"]) == (8, 50)
    assert settings["summary_records"] == 2000
    assert settings["postgresql"]["server"].startswith("given: postgresql://")
    # The password is not shown.
    assert postgres_server.password not in completed.stdout
    assert settings["sqlite"] is True
    measurements = results["measurements"]
    assert {name: figures["items"] for name, figures in measurements.items()} == {
        "postgresql_serve": 400,
        "postgresql_copy": 400,
        "sqlite_serve": 400,
        "local_summary": 2000,
        "postgresql_summary_get": 2000,
        "sqlite_summary_get": 2000,
    }
    for figures in measurements.values():
        assert figures["median_seconds"] > 0
        assert figures["items_per_second"] > 0
        assert len(figures["seconds"]) == 1
        # What was stored or read was checked, else the benchmark failed.
        assert figures["checked"]

    ratios = results["ratios"]
    for name in (
        "postgresql_serve_vs_copy_time",
        "postgresql_summary_get_vs_local_time",
    ):
        assert ratios[name]["value"] > 0
        assert isinstance(ratios[name]["pass"], bool)
    assert ratios["postgresql_serve_vs_copy_time"]["target"] == "<= 3"
    assert ratios["postgresql_summary_get_vs_local_time"]["target"] == "<= 1.5"
    for name in (
        "sqlite_serve_vs_postgresql_copy_time",
        "sqlite_summary_get_vs_local_time",
    ):
        assert ratios[name]["value"] > 0
        assert (ratios[name]["target"], ratios[name]["pass"]) == (None, None)
    # Every database the benchmark created was dropped.
    assert database_names(postgres_server.url) == databases_before
