"""The command as a whole: usage, help, version, unexpected errors, a reader
going away, ``python -m pushcollector``."""

import importlib
import importlib.metadata
import os
import subprocess
import sys

import pytest

from pushcollector._impl import cli
from pushcollector._impl.cli import reading
from pushcollector._impl.version import VERSION

from .conftest import SCRIPT, TIMEOUT, items, record

# usage -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [[], ["frobnicate"], ["summary", "--frob"], ["summary", "a", "b"]],
    ids=["no command", "unknown command", "unknown option", "two paths"],
)
def test_misuse_exits_2_with_usage(pushcollector, args):
    result = pushcollector(*args)

    assert result.status == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: pushcollector")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--help"], "summary"),
        (["summary", "--help"], "--allow-pending"),
        (["summary", "--help"], "--allow-bad-lines"),
        (
            ["summary", "--help"],
            "1  some push item ended unsuccessful or was left PENDING",
        ),
        (["summary", "--help"], "2  the path could not be read"),
        (["runs", "--help"], "'*' marks the latest"),
        (["runs", "--help"], "A run that cannot be read is listed with its error"),
    ],
)
def test_help(pushcollector, args, expected):
    result = pushcollector(*args)

    assert result.status == 0
    # As argparse wraps it to the width of the terminal.
    assert " ".join(expected.split()) in " ".join(result.stdout.split())


def test_version(pushcollector):
    result = pushcollector("--version")

    assert result.status == 0
    assert result.stdout == "pushcollector %s\n" % importlib.metadata.version(
        "pushcollector"
    )


def test_version_needs_no_installed_metadata(capsys, monkeypatch):
    # Run from a checkout, without the distribution's metadata, the command
    # still knows its version: the package holds it.
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)

    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])

    assert exit.value.code == 0
    assert capsys.readouterr().out == "pushcollector %s\n" % VERSION


def test_an_unexpected_error_exits_2_with_one_line(capsys, monkeypatch):
    def broken(path):
        raise RuntimeError("something no one\nthought of")

    monkeypatch.setattr(reading, "open_run", broken)

    status = cli.main(["summary", "somewhere"])

    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "pushcollector: error: unexpected RuntimeError: something no one\\nthought"
        " of (a bug in pushcollector: please report it)\n"
    )


# Plumbing ----------------------------------------------------------------------


def many_failures(base):
    """A run whose summary is far bigger than any pipe's buffer (1 MB at most)."""
    long_name = "x" * 250
    return record(
        base, items(*[("%s-%05d" % (long_name, n), "UNKNOWN") for n in range(20_000)])
    )


def test_a_reader_going_away_ends_the_command_quietly(tmp_path):
    many_failures(tmp_path)
    process = subprocess.Popen(
        [SCRIPT, "summary", tmp_path / "artifacts"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Like "| head -c0": go away at once. Whenever the command writes, its
    # 5 MB cannot all fit in the pipe.
    process.stdout.close()

    stderr = process.stderr.read()
    assert process.wait(timeout=TIMEOUT) == 128 + 13
    assert stderr == b""


def test_broken_pipe_in_process(tmp_path, monkeypatch):
    many_failures(tmp_path)
    with open(tmp_path / "stdout", "w") as target:

        class GoneReader:
            def write(self, text):
                raise BrokenPipeError()

            def fileno(self):
                return target.fileno()

        monkeypatch.setattr(sys, "stdout", GoneReader())
        status = cli.main(["summary", str(tmp_path / "artifacts")])

        # What is written after is thrown away rather than failing again.
        assert os.fstat(target.fileno()).st_rdev == os.stat(os.devnull).st_rdev
    assert status == 128 + 13


def test_python_dash_m(tmp_path):
    record(tmp_path, items(("a", "PUSHED")))

    done = subprocess.run(
        [sys.executable, "-m", "pushcollector", "summary"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    assert done.returncode == 0
    assert done.stdout.endswith("PASSED: 1 push item ended successfully\n")


def test_main_module_in_process(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["pushcollector", "summary", str(tmp_path)])
    monkeypatch.delitem(sys.modules, "pushcollector.__main__", raising=False)

    with pytest.raises(SystemExit) as exit:
        importlib.import_module("pushcollector.__main__")

    assert exit.value.code == 2
