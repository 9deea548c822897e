"""Pieces shared by the benchmark scripts of this directory.

The scripts import it as ``benchlib``: their directory is on ``sys.path``
when they run. ``bench_collect.py`` also runs as a worker in a venv holding
pushcollector 1.3.0, so this module imports only the standard library, and
pushcollector only where it checks which one is imported.
"""

import argparse
import collections
import json
import os
import statistics
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What realistic RPM push items are made of.
PACKAGES = (
    "bash",
    "curl",
    "glibc",
    "httpd",
    "kernel",
    "nginx",
    "openssl",
    "podman",
    "python3-requests",
    "sudo",
    "systemd",
    "tzdata",
)
ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "noarch")
REPOSITORIES = ("baseos", "appstream", "codeready-builder", "supplementary")
ADVISORY_TYPES = ("RHBA", "RHSA", "RHEA")
SIGNING_KEYS = ("fd431d51", "5a6340b3", "f21541eb")


class Rpm(collections.namedtuple("Rpm", "build filename src rhel repo_arch")):
    """A generated RPM build, as :func:`random_rpm` makes it."""

    __slots__ = ()

    def dest(self, repository):
        """The name of ``repository`` for this RPM's RHEL and architecture."""
        return "rhel-%d-for-%s-%s-rpms" % (self.rhel, self.repo_arch, repository)


def random_rpm(rng):
    """A realistic RPM build of one of :data:`PACKAGES`."""
    package = rng.choice(PACKAGES)
    version = "%d.%d.%d" % (rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 99))
    rhel = rng.choice((8, 9, 10))
    release = "%d.el%d" % (rng.randint(1, 40), rhel)
    arch = rng.choice(ARCHES)
    build = "%s-%s-%s" % (package, version, release)
    filename = "%s.%s.rpm" % (build, arch)
    return Rpm(
        build=build,
        filename=filename,
        src="/mnt/koji/packages/%s/%s/%s/%s/%s"
        % (package, version, release, arch, filename),
        rhel=rhel,
        repo_arch="x86_64" if arch == "noarch" else arch,
    )


def random_origin(rng):
    """A realistic advisory name, such as ``RHSA-2026:1234``."""
    return "%s-2026:%04d" % (rng.choice(ADVISORY_TYPES), rng.randint(1000, 9999))


def progress_printer(name):
    """A function printing progress messages, prefixed with ``name``, to stderr."""

    def progress(message):
        print(name + ": " + message, file=sys.stderr, flush=True)

    return progress


def is_inside(path, directory):
    """Whether ``path`` is ``directory`` or below it, links resolved."""
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory


def require_project_pushcollector():
    """Stop unless ``import pushcollector`` imports this repository's."""
    # Imported here, not above: see the module's docstring.
    import pushcollector

    if not is_inside(pushcollector.__file__, REPO_ROOT):
        raise SystemExit(
            "%s imports pushcollector from %s, not from %s: "
            "run `pip install -e .` in the repository first"
            % (sys.executable, pushcollector.__file__, REPO_ROOT)
        )


def scaled(count, scale):
    """``count`` multiplied by ``scale``, rounded, and at least 1."""
    return max(1, round(count * scale))


def check(value, limit, higher_is_better=False):
    """A ratio against its limit; ``pass`` is ``None`` when not measured."""
    target = "%s %g" % (">=" if higher_is_better else "<=", limit)
    if value is None:
        return {"value": None, "target": target, "pass": None}
    passed = value >= limit if higher_is_better else value <= limit
    return {"value": value, "target": target, "pass": passed}


def verdict(result):
    """``PASS`` or ``FAIL``, for a result of :func:`check`."""
    return "PASS" if result["pass"] else "FAIL"


def positive_int(text):
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1: %s" % text)
    return value


def positive_float(text):
    """An argparse type: a number above 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0: %s" % text)
    return value


def add_scale_option(parser, counts):
    """Add ``--scale``, a factor of the ``counts`` (a description) to run."""
    parser.add_argument(
        "--scale",
        type=positive_float,
        default=1.0,
        help="multiply %s by this (default: 1)" % counts,
    )


def add_repeat_option(parser, default, runs):
    """Add ``--repeat``, the number of ``runs`` (a description) to take."""
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=default,
        help="%s (default: %d)" % (runs, default),
    )


def add_seed_option(parser, generated):
    """Add ``--seed``, the seed of the ``generated`` data (a description)."""
    parser.add_argument(
        "--seed", type=int, default=2026, help="seed of the generated " + generated
    )


def add_json_option(parser):
    """Add ``--json``, to print the results as JSON rather than a table."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object, not a table"
    )


def print_results(results, as_json, print_report):
    """Print ``results`` as one JSON object, or else with ``print_report``."""
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)


def case_figures(case, count, timings, checked):
    """The figures of a timed case; None if it was not run.

    ``count`` is of what the case handled (items, records); ``checked`` says
    what was found right after each timed run (else the benchmark stopped).
    """
    if not timings:
        return None
    seconds = statistics.median(timings)
    return {
        "case": case,
        "items": count,
        "median_seconds": seconds,
        "items_per_second": count / seconds,
        "seconds": timings,
        "checked": checked,
    }
