#!/usr/bin/env python3
"""Benchmark ``pushcollector summary`` reading back a large run.

It generates, in a temporary directory, runs as the ``local`` backend writes
them (``artifacts/<YYYYmmddHHMMSS>/pushitems.jsonl`` and an ``artifacts/latest``
link; one ``json.dumps(item, sort_keys=True)`` line per record of a realistic
RPM push item, about 430 bytes each) in two cases of the same line count:

* A: 1M lines over 250k push items, each recorded PENDING three times and
  then in its final state: mostly PUSHED or EXISTS, about 1% UPLOADFAILED and
  a few left PENDING;
* B: 1M lines over 1k push items, each recorded PENDING 999 times and then in
  its final state, to show that memory follows the distinct push items, not
  the lines.

Push items are recorded in batches of 1,000, as a push would. For each case
this measures, as whole fresh processes:

* ``python -m pushcollector summary --json --allow-pending RUN_DIR``: its
  wall time, its peak RSS (``ru_maxrss`` from :func:`os.wait4`), and its
  output, which must count every line and the push items and final states
  generated;
* the raw limit: a process that only runs ``json.loads`` on every line of
  the same file, measured the same way.

Each process is started and waited for by a small launcher process, not by
this script: Linux would count this script's own memory in the peak RSS of
the processes it starts (see ``LAUNCHER``). No Python process measures below
a bare interpreter's peak, about 11 MB, whatever it does.

Each figure is the median of several runs, the two kinds of run alternating
so that any drift affects both alike. A table with the file size, lines per
second and the ratios against the project's targets, each marked PASS or
FAIL, is printed to stdout (one JSON object instead with ``--json``);
progress goes to stderr. The targets are meant for the default size; the
time limit of case A stays 5 s whatever ``--lines`` is. Linux only, where
``ru_maxrss`` is in kilobytes.

Examples::

    python benchmarks/bench_summary.py
    python benchmarks/bench_summary.py --lines 100000 --repeat 1 --json
    python benchmarks/bench_summary.py --keep /tmp/summary-runs

``--lines`` sets the line count of both cases; the push items are then a
quarter (case A) and a thousandth (case B) of it, at least one.
"""

import argparse
import collections
import contextlib
import importlib.metadata
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import pushcollector

from benchlib import (
    REPOSITORIES,
    SIGNING_KEYS,
    add_json_option,
    add_repeat_option,
    add_seed_option,
    check,
    positive_int,
    print_results,
    progress_printer,
    random_origin,
    random_rpm,
    require_project_pushcollector,
    verdict,
)

# (key, records per push item), the last record of each being its final state.
CASES = (("a", 4), ("b", 1000))
ITEMS_PER_BATCH = 1000

TARGET_CASE_A_SECONDS = 5.0
TARGET_TIME_VS_RAW = 2.0
TARGET_CASE_B_VS_CASE_A_RSS = 0.5

# Final states and their weights in percent.
FINAL_STATES = ("PUSHED", "EXISTS", "UPLOADFAILED", "PENDING")
FINAL_STATE_WEIGHTS = (79.9, 19.0, 1.0, 0.1)

# Starts the command of its arguments after the first with its stdout in the
# file the first names, waits for it with os.wait4, and prints the wall time,
# exit status and ru_maxrss (KB) of the command. Linux counts in a process's
# ru_maxrss the resident memory of the process it was started from (vfork and
# posix_spawn: that process's peak; fork: its size then), so commands started
# from this script, which holds the generated items, would all report its
# peak. This launcher imports nothing (-S, and only built-in modules), so the
# least it passes on is below a bare interpreter's own peak.
LAUNCHER = """\
import os, sys, time
output = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
command = sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawn(
    command[0], command, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, output, 1)]
)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
print(seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""

RAW_PARSE = """\
import json, sys
with open(sys.argv[1], encoding="utf-8") as lines:
    for line in lines:
        json.loads(line)
"""


def generate_push_items(rng, count):
    """``count`` distinct RPM push items, without a state.

    Each RPM goes to one to three repositories, one push item for each.
    """
    items, keys = [], set()
    while len(items) < count:
        rpm = random_rpm(rng)
        fields = {
            "filename": rpm.filename,
            "src": rpm.src,
            "build": rpm.build,
            "checksums": {
                "md5": "%032x" % rng.getrandbits(128),
                "sha256": "%064x" % rng.getrandbits(256),
            },
            "signing_key": rng.choice(SIGNING_KEYS),
            "origin": random_origin(rng),
        }
        for repository in rng.sample(REPOSITORIES, rng.randint(1, 3)):
            dest = rpm.dest(repository)
            if len(items) < count and (rpm.filename, dest) not in keys:
                keys.add((rpm.filename, dest))
                items.append(dict(fields, dest=dest))
    return items


def encoded(item, state):
    return json.dumps(dict(item, state=state), sort_keys=True) + "\n"


def write_run(base, lines, item_count, rng):
    """Write a run of ``lines`` records over ``item_count`` push items.

    Returns the run directory, its push items file and what a summary of it
    must find.
    """
    items = generate_push_items(rng, item_count)
    final_states = rng.choices(FINAL_STATES, FINAL_STATE_WEIGHTS, k=item_count)
    per_item, extra = divmod(lines, item_count)
    records = [per_item + (index < extra) for index in range(item_count)]

    artifacts = os.path.join(base, "artifacts")
    run_dir = os.path.join(artifacts, time.strftime("%Y%m%d%H%M%S"))
    os.makedirs(run_dir)
    os.symlink(os.path.basename(run_dir), os.path.join(artifacts, "latest"))
    items_path = os.path.join(run_dir, "pushitems.jsonl")
    with open(items_path, "w", encoding="utf-8", newline="\n") as items_file:
        for start in range(0, item_count, ITEMS_PER_BATCH):
            batch = range(start, min(start + ITEMS_PER_BATCH, item_count))
            pending = [encoded(items[index], "PENDING") for index in batch]
            final = [encoded(items[index], final_states[index]) for index in batch]
            for record in range(max(records[index] for index in batch)):
                items_file.writelines(
                    (
                        final[index - start]
                        if record == records[index] - 1
                        else pending[index - start]
                    )
                    for index in batch
                    if record < records[index]
                )
    states = collections.Counter(final_states)
    return {
        "run_dir": run_dir,
        "items_path": items_path,
        "push_items": item_count,
        "states": dict(states),
        "unsuccessful": sum(
            count
            for state, count in states.items()
            if state not in pushcollector.SUCCESSFUL_STATES
        ),
    }


def run_measured(command, cwd):
    """Run a command to its end: wall seconds, peak RSS in MB, status, stdout.

    The command is started and waited for by :data:`LAUNCHER`, in its own
    small process, rather than from here (see there why).
    """
    output_path = os.path.join(cwd, "stdout")
    launcher = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, output_path] + command,
        cwd=cwd,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    seconds, status, peak_kb = launcher.stdout.split()
    with open(output_path, "rb") as output_file:
        output = output_file.read()
    return float(seconds), int(peak_kb) * 1024 / 1e6, int(status), output


def check_summary(status, output, lines, run):
    """Stop the benchmark if the summary did not count what was generated."""
    if status not in (0, 1):
        raise SystemExit("pushcollector summary exited with status %d" % status)
    document = json.loads(output)
    expected = {
        "records": lines,
        "push_items": run["push_items"],
        "states": run["states"],
        "unsuccessful": run["unsuccessful"],
        "passed": not run["unsuccessful"],
        "status": 1 if run["unsuccessful"] else 0,
    }
    found = {
        "records": document["records"],
        "push_items": document["push_items"],
        "states": document["states"],
        "unsuccessful": len(document["unsuccessful"]),
        "passed": document["passed"],
        "status": status,
    }
    if found != expected:
        raise SystemExit("pushcollector summary found %s, not %s" % (found, expected))


def figures(timings, peaks, lines):
    seconds = statistics.median(timings)
    return {
        "median_seconds": seconds,
        "lines_per_second": lines / seconds,
        "peak_rss_mb": statistics.median(peaks),
    }


def measure_case(key, records_per_item, args, base):
    lines = args.lines
    item_count = max(1, lines // records_per_item)
    case_dir = os.path.join(base, "case-" + key)
    progress(
        "case %s: writing %s lines over %s push items"
        % (key.upper(), format(lines, ","), format(item_count, ","))
    )
    run = write_run(
        case_dir, lines, item_count, random.Random("%s-%s" % (args.seed, key))
    )
    summary_command = [sys.executable, "-m", "pushcollector", "summary"]
    summary_command += ["--json", "--allow-pending", run["run_dir"]]
    raw_command = [sys.executable, "-c", RAW_PARSE, run["items_path"]]

    progress(
        "case %s: %d runs each of the summary and the raw limit"
        % (key.upper(), args.repeat)
    )
    summary_times, summary_peaks, raw_times, raw_peaks = [], [], [], []
    for _ in range(args.repeat):
        seconds, peak, status, output = run_measured(summary_command, case_dir)
        check_summary(status, output, lines, run)
        summary_times.append(seconds)
        summary_peaks.append(peak)
        seconds, peak, status, _ = run_measured(raw_command, case_dir)
        if status != 0:
            raise SystemExit("the raw json.loads run exited with status %d" % status)
        raw_times.append(seconds)
        raw_peaks.append(peak)

    file_bytes = os.path.getsize(run["items_path"])
    summary = figures(summary_times, summary_peaks, lines)
    raw = figures(raw_times, raw_peaks, lines)
    return {
        "case": "%s: %s lines over %s push items"
        % (key.upper(), format(lines, ","), format(item_count, ",")),
        "lines": lines,
        "push_items": item_count,
        "file_mb": file_bytes / 1e6,
        "bytes_per_line": file_bytes / lines,
        "summary": summary,
        "raw_json": raw,
        "summary_vs_raw_time": summary["median_seconds"] / raw["median_seconds"],
    }


@contextlib.contextmanager
def work_directory(keep):
    """A directory for the runs: ``keep`` if given, else a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="bench-summary-") as path:
            yield path
        return
    os.makedirs(keep, exist_ok=True)
    if os.listdir(keep):
        raise SystemExit("--keep %s: the directory is not empty" % keep)
    yield os.path.abspath(keep)
    progress("runs kept in %s" % os.path.abspath(keep))


progress = progress_printer("bench_summary")


def run_benchmark(args):
    if not sys.platform.startswith("linux"):
        raise SystemExit("this benchmark reads ru_maxrss as Linux reports it")
    require_project_pushcollector()
    with work_directory(args.keep) as base:
        # Untimed: the first start of the interpreter reads its files from disk.
        subprocess.run(
            [sys.executable, "-m", "pushcollector", "--version"],
            cwd=base,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cases = {
            key: measure_case(key, records_per_item, args, base)
            for key, records_per_item in CASES
        }
    case_a, case_b = cases["a"], cases["b"]
    return {
        "settings": {
            "lines": args.lines,
            "repeat": args.repeat,
            "seed": args.seed,
            "python": sys.version.split()[0],
            "project_version": importlib.metadata.version("pushcollector"),
        },
        "cases": cases,
        "targets": {
            "case_a_seconds": check(
                case_a["summary"]["median_seconds"], TARGET_CASE_A_SECONDS
            ),
            "case_a_summary_vs_raw_time": check(
                case_a["summary_vs_raw_time"], TARGET_TIME_VS_RAW
            ),
            "case_b_vs_case_a_peak_rss": check(
                case_b["summary"]["peak_rss_mb"] / case_a["summary"]["peak_rss_mb"],
                TARGET_CASE_B_VS_CASE_A_RSS,
            ),
        },
    }


def print_report(results):
    print("%-22s %10s %14s %13s" % ("process", "median s", "lines/s", "peak RSS MB"))
    for case in results["cases"].values():
        print(
            "%s (%.1f MB, %.0f bytes/line)"
            % (case["case"], case["file_mb"], case["bytes_per_line"])
        )
        for name, key in (
            ("summary --json", "summary"),
            ("raw json.loads", "raw_json"),
        ):
            measured = case[key]
            print(
                "  %-20s %10.3f %14s %13.1f"
                % (
                    name,
                    measured["median_seconds"],
                    "{:,.0f}".format(measured["lines_per_second"]),
                    measured["peak_rss_mb"],
                )
            )
        print("  summary vs raw time: %.2fx" % case["summary_vs_raw_time"])
    print()

    targets = results["targets"]
    seconds = targets["case_a_seconds"]
    print(
        "case A summary: %.2f s (target <= %g s) %s"
        % (seconds["value"], TARGET_CASE_A_SECONDS, verdict(seconds))
    )
    vs_raw = targets["case_a_summary_vs_raw_time"]
    print(
        "case A summary vs raw json.loads: %.2fx time (target <= %gx) %s"
        % (vs_raw["value"], TARGET_TIME_VS_RAW, verdict(vs_raw))
    )
    memory = targets["case_b_vs_case_a_peak_rss"]
    print(
        "case B vs case A summary peak RSS: %.2fx (target <= %gx) %s"
        % (memory["value"], TARGET_CASE_B_VS_CASE_A_RSS, verdict(memory))
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark `pushcollector summary` on generated runs of the"
        " local backend, against the raw JSON-lines parsing limit."
    )
    parser.add_argument(
        "--lines",
        type=positive_int,
        default=1_000_000,
        help="lines of each case's run (default: 1,000,000)",
    )
    add_repeat_option(parser, 3, "runs of the summary and of the raw limit per case")
    add_seed_option(parser, "push items")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="write the runs in DIR, new or empty, and keep them there",
    )
    add_json_option(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print_results(run_benchmark(args), args.json, print_report)


if __name__ == "__main__":
    main()
