"""One version, from one place: ``pushcollector/_impl/version.py``."""

import importlib.metadata
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pushcollector
from pushcollector._impl.version import VERSION

REPOSITORY = Path(__file__).resolve().parents[1]


def test_the_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)


def test_the_package_says_it():
    assert pushcollector.__version__ == VERSION


def test_setup_py_installed_it():
    # The installed metadata is what setup.py read (editable install here:
    # reinstall after changing the version).
    assert importlib.metadata.version("pushcollector") == VERSION


def test_the_command_says_it():
    completed = subprocess.run(
        [sys.executable, "-m", "pushcollector", "--version"],
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )

    assert completed.stdout == "pushcollector %s\n" % VERSION


def test_the_docs_say_it(monkeypatch):
    # conf.py puts the checkout on sys.path, relative to the directory
    # Sphinx runs it in.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(REPOSITORY / "docs")

    conf = runpy.run_path(str(REPOSITORY / "docs" / "conf.py"))

    assert (conf["version"], conf["release"]) == (VERSION, VERSION)
    # The pages name it through Sphinx's |release|, never by hand.
    index = (REPOSITORY / "docs" / "index.rst").read_text(encoding="utf-8")
    assert re.findall(r"Version (\S+) is a drop-in replacement", index) == ["|release|"]


def test_the_readme_says_it():
    readme = (REPOSITORY / "README.rst").read_text(encoding="utf-8")

    assert re.findall(r"Version (\S+) is a drop-in replacement", readme) == [VERSION]
