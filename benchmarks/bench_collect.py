#!/usr/bin/env python3
"""Benchmark recording push items with the ``local`` backend.

In one run, on the same generated push items, this measures:

* this project: ``Collector.get("local").update_push_items(items).result()``
  for 10k and 100k dict items, for 10k PushItem-shaped objects, and for one
  dict item per call (2,000 calls on one collector);
* pushcollector 1.3.0 from PyPI doing the same for 10k dict items and for one
  item per call (200 calls). It runs in its own venv, created once and kept
  in ``.bench-cache/`` of the repository, in a subprocess that imports nothing
  from this repository (this script is run there with ``--worker``);
* the raw limit: each item encoded with ``json.dumps(item, sort_keys=True)``,
  the lines joined with newlines and written to a file;
* ``import pushcollector`` in fresh processes, less the startup of a bare
  interpreter, for this project and for 1.3.0;
* the first call of a process: a fresh interpreter that imports
  pushcollector, gets a ``local`` collector and records one item, against
  one that only imports pushcollector (whole process wall times). What a
  first call needs beyond the import (the schema, futures...) must be cheap;
* the peak memory, beyond the items themselves, of recording the 100k batch,
  traced with :mod:`tracemalloc` in a separate, untimed run.

Every timed run starts in a new temporary working directory, removed
afterwards, and each figure is the median of several runs. A table and the
ratios against the project's targets, each marked PASS or FAIL, are printed
to stdout (one JSON object instead with ``--json``); progress goes to stderr.

Examples::

    python benchmarks/bench_collect.py
    python benchmarks/bench_collect.py --no-reference --scale 0.1 --json
    python benchmarks/bench_collect.py --first-call-only

``--scale`` multiplies every item and call count (keeping at least one of
each); the cases keep their nominal names ("10k", "100k").
"""

import argparse
import contextlib
import functools
import gc
import importlib.metadata
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import attr

# In the reference venv this is pushcollector 1.3.0, never this repository's.
import pushcollector

from benchlib import (
    REPO_ROOT,
    REPOSITORIES,
    SIGNING_KEYS,
    add_json_option,
    add_repeat_option,
    add_scale_option,
    add_seed_option,
    check,
    is_inside,
    positive_int,
    print_results,
    progress_printer,
    random_origin,
    random_rpm,
    require_project_pushcollector,
    scaled,
    verdict,
)

SCRIPT_PATH = os.path.abspath(__file__)

REFERENCE_VERSION = "1.3.0"
REFERENCE_VENV = os.path.join(
    REPO_ROOT, ".bench-cache", "pushcollector-" + REFERENCE_VERSION
)
# Written once pip has finished, so an interrupted install is redone.
REFERENCE_READY_MARKER = os.path.join(REFERENCE_VENV, "bench-ready")

SMALL_BATCH = 10_000
LARGE_BATCH = 100_000
SINGLE_ITEM_CALLS = 2_000
REFERENCE_SINGLE_ITEM_CALLS = 200

# The reference's cases, reported as skipped with --no-reference.
REFERENCE_CASES = {
    "reference_dicts_10k": "pushcollector 1.3.0, 10k dicts",
    "reference_single_item_calls": "pushcollector 1.3.0, 1 dict per call",
}

TARGET_SPEEDUP_VS_REFERENCE = 100.0
TARGET_TIME_VS_RAW = 1.5
TARGET_IMPORT_VS_REFERENCE = 0.2
TARGET_MEMORY_VS_BATCH = 1.0
TARGET_FIRST_CALL_VS_IMPORT = 1.5

# What a push tool's first record costs, in a fresh process.
IMPORT_CODE = "import pushcollector"
FIRST_CALL_CODE = (
    "import pushcollector; "
    "collector = pushcollector.Collector.get('local'); "
    "collector.update_push_items([{'filename': 'f', 'state': 'PUSHED'}]).result()"
)

NOTES = ("retried after a timeout", "republished on request", "")


@attr.s(frozen=True, slots=True)
class BenchPushItem:
    """Shaped like pushsource's PushItem: the attributes pushcollector reads."""

    name = attr.ib()
    state = attr.ib()
    src = attr.ib()
    dest = attr.ib()
    md5sum = attr.ib()
    sha256sum = attr.ib()
    origin = attr.ib()
    build = attr.ib()
    signing_key = attr.ib()


def schema_states():
    """The states the project's push item schema allows."""
    # Imported here: pushcollector 1.3.0, in the reference venv, lacks it.
    from pushcollector._impl.schema import push_item_schema

    return push_item_schema()["properties"]["state"]["enum"]


def random_push_item(rng, states):
    """One realistic RPM push item, with one to three destinations."""
    rpm = random_rpm(rng)
    repositories = rng.sample(REPOSITORIES, rng.randint(1, 3))
    return BenchPushItem(
        name=rpm.filename,
        state=rng.choice(states),
        src=rpm.src,
        dest=[rpm.dest(repository) for repository in repositories],
        md5sum="%032x" % rng.getrandbits(128),
        sha256sum="%064x" % rng.getrandbits(256),
        origin=random_origin(rng),
        build=rpm.build,
        signing_key=rng.choice(SIGNING_KEYS),
    )


def make_push_items(count, seed):
    """``count`` PushItem-shaped objects, the same for the same seed."""
    rng = random.Random(seed)
    states = schema_states()
    return [random_push_item(rng, states) for _ in range(count)]


def make_dict_items(count, seed):
    """``count`` push item dicts with every schema field and extra keys.

    Item ``i`` is ``make_push_items(count, seed)[i]`` at its first
    destination, so a shorter list is a prefix of a longer one.
    """
    fields_rng = random.Random(seed)
    extras_rng = random.Random("%s-extras" % seed)
    states = schema_states()
    items = []
    for _ in range(count):
        push_item = random_push_item(fields_rng, states)
        item = {
            "filename": push_item.name,
            "state": push_item.state,
            "src": push_item.src,
            "dest": push_item.dest[0],
            "checksums": {"md5": push_item.md5sum, "sha256": push_item.sha256sum},
            "origin": push_item.origin,
            "build": push_item.build,
            "signing_key": push_item.signing_key,
            "attempt": extras_rng.randint(1, 3),
        }
        if extras_rng.random() < 0.5:
            item["notes"] = extras_rng.choice(NOTES)
        items.append(item)
    return items


@contextlib.contextmanager
def fresh_working_dir():
    """Run the block in a new temporary directory, removed afterwards."""
    previous = os.getcwd()
    path = tempfile.mkdtemp(prefix="bench-collect-")
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
        shutil.rmtree(path)


def median_seconds(run, repeat):
    """Median wall time of ``run()``, each time in a fresh working directory."""
    timings = []
    for _ in range(repeat):
        with fresh_working_dir():
            gc.collect()
            start = time.perf_counter()
            run()
            timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def record_batch(items):
    pushcollector.Collector.get("local").update_push_items(items).result()


def record_one_item_per_call(items):
    collector = pushcollector.Collector.get("local")
    for item in items:
        collector.update_push_items([item]).result()


def write_raw_json_lines(items):
    with open("raw.jsonl", "w") as raw_file:
        raw_file.write("\n".join([json.dumps(item, sort_keys=True) for item in items]))


def warm_up(items):
    """Record one item, so that no timed run pays for first-use setup."""
    with fresh_working_dir():
        record_batch(items[:1])


def measurement(case, count, seconds):
    return {
        "case": case,
        "items": count,
        "median_seconds": seconds,
        "items_per_second": count / seconds,
    }


def timed(case, run, items, repeat):
    return measurement(
        case, len(items), median_seconds(functools.partial(run, items), repeat)
    )


progress = progress_printer("bench_collect")


def run_worker(job_path):
    """Time the pushcollector of this interpreter; print the figures as JSON.

    This runs in the reference venv, started by :func:`measure_reference`.
    """
    with open(job_path, encoding="utf-8") as job_file:
        job = json.load(job_file)
    items = job["items"]
    warm_up(items)
    figures = {
        "version": importlib.metadata.version("pushcollector"),
        "package_path": pushcollector.__file__,
        "batch_seconds": median_seconds(
            functools.partial(record_batch, items), job["repeat"]
        ),
        "single_item_calls_seconds": median_seconds(
            functools.partial(
                record_one_item_per_call, items[: job["single_item_calls"]]
            ),
            job["repeat"],
        ),
    }
    json.dump(figures, sys.stdout)


def reference_python():
    """The reference venv's interpreter, creating the venv on first use."""
    python = os.path.join(REFERENCE_VENV, "bin", "python")
    if os.path.exists(REFERENCE_READY_MARKER):
        return python
    progress("creating %s (needs PyPI)" % REFERENCE_VENV)
    shutil.rmtree(REFERENCE_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", REFERENCE_VENV], check=True)
    # attrs is this script's own import, as the worker runs this script; it
    # is named so as not to rely on pushcollector's dependencies pulling it.
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + ["pushcollector==" + REFERENCE_VERSION, "attrs"],
        check=True,
        stdout=sys.stderr,
    )
    with open(REFERENCE_READY_MARKER, "w"):
        pass
    return python


def measure_reference(items, single_item_calls, repeat):
    """Run the worker in the reference venv on the items; its measurements."""
    python = reference_python()
    with tempfile.TemporaryDirectory(prefix="bench-collect-reference-") as job_dir:
        job_path = os.path.join(job_dir, "job.json")
        with open(job_path, "w", encoding="utf-8") as job_file:
            job = {
                "items": items,
                "repeat": repeat,
                "single_item_calls": single_item_calls,
            }
            json.dump(job, job_file)
        # -E and -s keep PYTHON* variables and user site-packages out; of the
        # repository, sys.path then holds only this directory, for benchlib.
        worker = subprocess.run(
            [python, "-E", "-s", SCRIPT_PATH, "--worker", job_path],
            cwd=job_dir,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    figures = json.loads(worker.stdout)
    if figures["version"] != REFERENCE_VERSION or not is_inside(
        figures["package_path"], REFERENCE_VENV
    ):
        raise SystemExit(
            "the reference worker loaded pushcollector %s from %s, not %s from %s"
            % (
                figures["version"],
                figures["package_path"],
                REFERENCE_VERSION,
                REFERENCE_VENV,
            )
        )
    return {
        "reference_dicts_10k": measurement(
            REFERENCE_CASES["reference_dicts_10k"],
            len(items),
            figures["batch_seconds"],
        ),
        "reference_single_item_calls": measurement(
            REFERENCE_CASES["reference_single_item_calls"],
            single_item_calls,
            figures["single_item_calls_seconds"],
        ),
    }


def net_import_milliseconds(command, cwd, runs):
    """Median time of ``import pushcollector`` less a bare startup, in ms.

    ``command`` is the interpreter with its options; the two kinds of run
    alternate so that any drift affects both alike.
    """

    def wall_time(code):
        start = time.perf_counter()
        subprocess.run(command + ["-c", code], cwd=cwd, check=True)
        return time.perf_counter() - start

    bare, importing = [], []
    for _ in range(runs):
        bare.append(wall_time("pass"))
        importing.append(wall_time("import pushcollector"))
    return 1000 * (statistics.median(importing) - statistics.median(bare))


def first_call_milliseconds(runs):
    """Median wall times, in ms, of a fresh process importing pushcollector
    and of one also making its first call (a local collector, one item).

    Each process starts in a new temporary directory, where the first call
    writes its run; the two kinds alternate, so that drift affects both.
    Bytecode caches are written, and each kind runs once untimed first: an
    installed package has its caches (pip writes them), and a process
    compiling every module from source would measure the compiler.
    """
    env = dict(os.environ)
    for variable in (
        "PUSHCOLLECTOR_ARTIFACTS_DIR",
        "PUSHCOLLECTOR_BACKEND",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(variable, None)

    def wall_time(code):
        with tempfile.TemporaryDirectory(prefix="bench-collect-first-") as cwd:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
            return time.perf_counter() - start

    wall_time(IMPORT_CODE)
    wall_time(FIRST_CALL_CODE)
    importing, first_call = [], []
    for _ in range(runs):
        importing.append(wall_time(IMPORT_CODE))
        first_call.append(wall_time(FIRST_CALL_CODE))
    return {
        "runs": runs,
        "import_ms": 1000 * statistics.median(importing),
        "first_call_ms": 1000 * statistics.median(first_call),
    }


def first_call_check(first_call):
    return check(
        first_call["first_call_ms"] / first_call["import_ms"],
        TARGET_FIRST_CALL_VS_IMPORT,
    )


def measure_peak_memory(count, seed):
    """Peak memory that recording a batch needs beyond the batch itself."""
    gc.collect()
    tracemalloc.start()
    try:
        items = make_dict_items(count, seed)
        batch_bytes, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with fresh_working_dir():
            record_batch(items)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    extra_bytes = peak_bytes - batch_bytes
    return {
        "items": count,
        "batch_mb": batch_bytes / 1e6,
        "extra_peak_mb": extra_bytes / 1e6,
        "extra_peak_vs_batch": extra_bytes / batch_bytes,
    }


def ratios(measurements, imports, memory, first_call):
    reference_10k = measurements["reference_dicts_10k"]
    speedup = single_call_time_ratio = import_ratio = None
    if reference_10k is not None:
        speedup = (
            measurements["local_dicts_10k"]["items_per_second"]
            / reference_10k["items_per_second"]
        )
        single_call_time_ratio = per_call_microseconds(
            measurements["local_single_item_calls"]
        ) / per_call_microseconds(measurements["reference_single_item_calls"])
        import_ratio = imports["project_ms"] / imports["reference_ms"]
    time_vs_raw = (
        measurements["local_dicts_100k"]["median_seconds"]
        / measurements["raw_json_100k"]["median_seconds"]
    )
    return {
        "local_vs_reference_10k_items_per_second": check(
            speedup, TARGET_SPEEDUP_VS_REFERENCE, higher_is_better=True
        ),
        "local_vs_raw_100k_time": check(time_vs_raw, TARGET_TIME_VS_RAW),
        "import_project_vs_reference": check(import_ratio, TARGET_IMPORT_VS_REFERENCE),
        "single_item_call_project_vs_reference_time": check(
            single_call_time_ratio, 1.0
        ),
        "memory_extra_peak_vs_batch_100k": check(
            memory["extra_peak_vs_batch"], TARGET_MEMORY_VS_BATCH
        ),
        "first_call_vs_import_time": first_call_check(first_call),
    }


def per_call_microseconds(single_item_calls):
    return 1e6 * single_item_calls["median_seconds"] / single_item_calls["items"]


def run_benchmark(args):
    require_project_pushcollector()
    small = scaled(SMALL_BATCH, args.scale)
    large = scaled(LARGE_BATCH, args.scale)
    single_item_calls = scaled(SINGLE_ITEM_CALLS, args.scale)
    reference_single_item_calls = scaled(REFERENCE_SINGLE_ITEM_CALLS, args.scale)

    progress("generating %d items" % large)
    large_dicts = make_dict_items(large, args.seed)
    small_dicts = large_dicts[:small]
    push_items = make_push_items(small, args.seed)

    progress("timing this project")
    warm_up(small_dicts)
    measurements = {
        "local_dicts_10k": timed(
            "this project, 10k dicts", record_batch, small_dicts, args.repeat
        ),
        "local_dicts_100k": timed(
            "this project, 100k dicts", record_batch, large_dicts, args.repeat
        ),
        "local_push_items_10k": timed(
            "this project, 10k PushItems", record_batch, push_items, args.repeat
        ),
        "local_single_item_calls": timed(
            "this project, 1 dict per call",
            record_one_item_per_call,
            large_dicts[:single_item_calls],
            args.repeat,
        ),
        "reference_dicts_10k": None,
        "reference_single_item_calls": None,
        "raw_json_10k": timed(
            "raw json.dumps + write, 10k",
            write_raw_json_lines,
            small_dicts,
            args.repeat,
        ),
        "raw_json_100k": timed(
            "raw json.dumps + write, 100k",
            write_raw_json_lines,
            large_dicts,
            args.repeat,
        ),
    }

    progress("timing import pushcollector")
    imports = {
        "project_ms": net_import_milliseconds(
            [sys.executable], REPO_ROOT, args.import_runs
        ),
        "reference_ms": None,
    }

    if not args.no_reference:
        progress("timing pushcollector %s (slow)" % REFERENCE_VERSION)
        measurements.update(
            measure_reference(small_dicts, reference_single_item_calls, args.ref_repeat)
        )
        with tempfile.TemporaryDirectory(prefix="bench-collect-import-") as cwd:
            imports["reference_ms"] = net_import_milliseconds(
                [reference_python(), "-I"], cwd, args.import_runs
            )

    progress("timing the first call of a process")
    first_call = first_call_milliseconds(args.import_runs)

    progress("tracing memory of recording %d items" % large)
    memory = measure_peak_memory(large, args.seed)

    return {
        "settings": {
            "scale": args.scale,
            "repeat": args.repeat,
            "ref_repeat": None if args.no_reference else args.ref_repeat,
            "import_runs": args.import_runs,
            "seed": args.seed,
            "python": sys.version.split()[0],
            "project_version": importlib.metadata.version("pushcollector"),
            "reference_version": None if args.no_reference else REFERENCE_VERSION,
        },
        "measurements": measurements,
        "import_ms": imports,
        "first_call": first_call,
        "memory": memory,
        "ratios": ratios(measurements, imports, memory, first_call),
    }


def print_report(results):
    print("%-38s %8s %12s %14s" % ("case", "N", "median s", "items/s"))
    for key, figures in results["measurements"].items():
        if figures is None:
            print("%-38s skipped (--no-reference)" % REFERENCE_CASES[key])
            continue
        print(
            "%-38s %8d %12.6f %14s"
            % (
                figures["case"],
                figures["items"],
                figures["median_seconds"],
                "{:,.0f}".format(figures["items_per_second"]),
            )
        )
    print()

    measurements, imports = results["measurements"], results["import_ms"]
    checks = results["ratios"]
    skipped = "skipped (--no-reference)"

    speedup = checks["local_vs_reference_10k_items_per_second"]
    if speedup["value"] is None:
        print("10k local vs 1.3.0: " + skipped)
    else:
        print(
            "10k local vs 1.3.0: %.0fx items/s (target >= %gx) %s"
            % (speedup["value"], TARGET_SPEEDUP_VS_REFERENCE, verdict(speedup))
        )

    vs_raw = checks["local_vs_raw_100k_time"]
    print(
        "100k local vs raw limit: %.2fx time (target <= %gx) %s"
        % (vs_raw["value"], TARGET_TIME_VS_RAW, verdict(vs_raw))
    )

    import_check = checks["import_project_vs_reference"]
    if import_check["value"] is None:
        print("import: project %.1f ms vs 1.3.0 %s" % (imports["project_ms"], skipped))
    else:
        print(
            "import: project %.1f ms vs 1.3.0 %.1f ms = %.3f (target <= %g) %s"
            % (
                imports["project_ms"],
                imports["reference_ms"],
                import_check["value"],
                TARGET_IMPORT_VS_REFERENCE,
                verdict(import_check),
            )
        )

    single = checks["single_item_call_project_vs_reference_time"]
    project_us = per_call_microseconds(measurements["local_single_item_calls"])
    if single["value"] is None:
        print("1 item per call: project %.1f µs vs 1.3.0 %s" % (project_us, skipped))
    else:
        reference_us = per_call_microseconds(
            measurements["reference_single_item_calls"]
        )
        print(
            "1 item per call: project %.1f µs vs 1.3.0 %.1f µs "
            "(target: not slower) %s" % (project_us, reference_us, verdict(single))
        )

    print_first_call(results["first_call"], checks["first_call_vs_import_time"])

    memory = results["memory"]
    memory_check = checks["memory_extra_peak_vs_batch_100k"]
    print(
        "memory: 100k local peak %.1f MB beyond the %.1f MB batch = %.2fx "
        "(target <= %gx) %s"
        % (
            memory["extra_peak_mb"],
            memory["batch_mb"],
            memory_check["value"],
            TARGET_MEMORY_VS_BATCH,
            verdict(memory_check),
        )
    )


def print_first_call(first_call, first_call_check):
    print(
        "first call: import %.1f ms, import + first local call %.1f ms = %.2fx "
        "(target <= %gx) %s"
        % (
            first_call["import_ms"],
            first_call["first_call_ms"],
            first_call_check["value"],
            TARGET_FIRST_CALL_VS_IMPORT,
            verdict(first_call_check),
        )
    )


def run_first_call_only(args):
    require_project_pushcollector()
    progress("timing the first call of a process")
    first_call = first_call_milliseconds(args.import_runs)
    return {
        "settings": {"import_runs": args.import_runs},
        "first_call": first_call,
        "ratios": {"first_call_vs_import_time": first_call_check(first_call)},
    }


def print_first_call_report(results):
    print_first_call(
        results["first_call"], results["ratios"]["first_call_vs_import_time"]
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark recording push items with the local backend, "
        "against pushcollector %s and the raw JSON-lines limit." % REFERENCE_VERSION
    )
    add_scale_option(parser, "every item and call count")
    add_repeat_option(parser, 5, "runs per case of this project and of the raw limit")
    parser.add_argument(
        "--ref-repeat",
        type=positive_int,
        default=1,
        help="runs per case of pushcollector %s, which is slow (default: 1)"
        % REFERENCE_VERSION,
    )
    parser.add_argument(
        "--import-runs",
        type=positive_int,
        default=15,
        help="fresh processes per import and first-call timing (default: 15)",
    )
    add_seed_option(parser, "items")
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip pushcollector %s (and creating its venv)" % REFERENCE_VERSION,
    )
    parser.add_argument(
        "--first-call-only",
        action="store_true",
        help="measure only the first call of a process against the import",
    )
    add_json_option(parser)
    parser.add_argument("--worker", metavar="JOB_JSON", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        run_worker(args.worker)
        return
    if args.first_call_only:
        print_results(run_first_call_only(args), args.json, print_first_call_report)
        return
    print_results(run_benchmark(args), args.json, print_report)


if __name__ == "__main__":
    main()
