"""The package as pip installs it from a wheel, not from the work tree.

The tests, and CI, run on an editable install, where every file of the
work tree is at hand: only a wheel shows what setup.py ships, such as the
store's migrations. This test never skips: where pip cannot build the
wheel or install it with its dependencies, it fails.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]

# What setup.py builds the wheel from.
SOURCES = ("setup.py", "setup.cfg", "README.rst", "pushcollector")

# Building and installing take a minute; the bound is for a pip that hangs.
PIP_TIMEOUT = 600


def run(command, cwd):
    """Run a command outside the work tree, in an environment that names no
    path into it; its standard output."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("COVERAGE_", "PUSHCOLLECTOR_", "PYTHON", "VIRTUAL_ENV"))
    }
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )
    assert done.returncode == 0, "%s failed:\n%s%s" % (
        " ".join(map(str, command)),
        done.stdout,
        done.stderr,
    )
    return done.stdout


def package_files(root):
    """The files of the package under root, as paths relative to it."""
    return {
        path.relative_to(root).as_posix()
        for path in (root / "pushcollector").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory):
    """A fresh virtual environment with the wheel installed, server extra
    included: ``(wheel, venv, work)``, work a directory to run in."""
    work = tmp_path_factory.mktemp("wheel")
    # A copy of the sources: building in the work tree would leave build/
    # there, whose stale files a later wheel would ship.
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPOSITORY / name).is_dir():
            shutil.copytree(
                REPOSITORY / name,
                source / name,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(REPOSITORY / name, source / name)
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, source], work)
    (wheel,) = dist.glob("pushcollector-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv], work)
    run([venv / "bin" / "python", "-m", "pip", "install", "%s[server]" % wheel], work)
    return wheel, venv, work


def test_the_wheel_ships_every_file_of_the_package(wheel_install):
    wheel, _, _ = wheel_install

    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name for name in archive.namelist() if name.startswith("pushcollector/")
        }

    assert package_files(REPOSITORY) - shipped == set()
    assert "pushcollector/_impl/store/migrations/versions/0001_first.py" in shipped


def test_db_upgrade_from_the_wheel_makes_a_database_the_sql_backend_writes(
    wheel_install,
):
    _, venv, work = wheel_install
    database = work / "pushes.db"
    url = "sqlite:///%s" % database

    upgraded = run([venv / "bin" / "pushcollector", "db", "upgrade", "--db", url], work)
    written = run(
        [
            venv / "bin" / "python",
            "-c",
            "import os, pushcollector\n"
            "os.environ['PUSHCOLLECTOR_DATABASE_URL'] = %r\n"
            "collector = pushcollector.Collector.get('sql')\n"
            "collector.update_push_items(\n"
            "    [{'filename': 'a.rpm', 'state': 'PUSHED'}]\n"
            ").result()\n"
            "print(pushcollector.__file__)" % url,
        ],
        work,
    )

    from pushcollector._impl.store import queries as store_queries

    head = store_queries._migrations().get_current_head()
    assert upgraded == "Created the schema of %s at revision %s\n" % (url, head)
    # The package that wrote is the wheel's, not the work tree's.
    assert Path(written.strip()).is_relative_to(venv)
    with sqlite3.connect(database) as connection:
        records = connection.execute("SELECT record FROM push_items").fetchall()
    assert [json.loads(record)["filename"] for (record,) in records] == ["a.rpm"]
