"""Smoke test of benchmarks/bench_upload.py on PostgreSQL, scaled down: here
for the ``postgres_server`` fixture (its SQLite-only run is in
tests/test_benchmarks.py)."""

import json
import subprocess
import sys
from pathlib import Path

UPLOAD_BENCHMARK = (
    Path(__file__).resolve().parents[2] / "benchmarks" / "bench_upload.py"
)


def test_scaled_down_upload_benchmark_reports_every_figure(postgres_server, tmp_path):
    completed = subprocess.run(
        [sys.executable, str(UPLOAD_BENCHMARK), "--scale", "0.001", "--repeat", "1"]
        + ["--postgres-url", postgres_server.url, "--skip-sqlite", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
        timeout=180,
    )
    results = json.loads(completed.stdout)

    assert results["settings"]["postgresql"]["server"].startswith(
        "given: postgresql://"
    )
    assert postgres_server.password not in completed.stdout
    measurements = results["measurements"]
    assert {
        name: figures["items"]
        for name, figures in measurements.items()
        if figures is not None
    } == {"postgresql_upload": 1000, "postgresql_http": 1000}
    ratio = results["ratios"]["postgresql_upload_vs_http_time"]
    assert ratio["value"] > 0
    assert isinstance(ratio["pass"], bool)
