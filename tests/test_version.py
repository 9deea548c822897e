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

# The sentences of the README and the docs that name the version: what it
# replaces, and how to install it before it is on PyPI.
VERSION_SENTENCES = [
    re.compile(r"Version (\S+) is a drop-in replacement"),
    re.compile(r"[Uu]ntil version (\S+) is\s+on\s+PyPI"),
]


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


def test_the_pages_of_the_docs_name_it_through_sphinx():
    pages = {
        path.name: path.read_text(encoding="utf-8")
        for path in (REPOSITORY / "docs").glob("*.rst")
    }

    named = {
        name: [
            found for sentence in VERSION_SENTENCES for found in sentence.findall(text)
        ]
        for name, text in pages.items()
    }

    # Never by hand: |release| is conf.py's.
    assert named["index.rst"] == ["|release|", "|release|"]
    assert {found for mentions in named.values() for found in mentions} == {"|release|"}


def test_the_readme_says_it():
    readme = (REPOSITORY / "README.rst").read_text(encoding="utf-8")

    assert [sentence.findall(readme) for sentence in VERSION_SENTENCES] == [
        [VERSION],
        [VERSION],
    ]
