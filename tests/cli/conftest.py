"""Running the ``pushcollector`` command, as the installed console script and in
process, on runs recorded for the test.

Every test that takes the ``pushcollector`` fixture runs both ways: the
console script proves what users get, and the in-process run lets coverage
see the code.
"""

import os
import subprocess
import sys
from typing import NamedTuple

import pytest

from pushcollector import Collector, LocalCollector
from pushcollector._impl import cli
from pushcollector._impl.facade import CollectorFacade

SCRIPT = os.path.join(os.path.dirname(sys.executable), "pushcollector")
TIMEOUT = 120


class Result(NamedTuple):
    status: int
    stdout: str
    stderr: str


@pytest.fixture(params=["console script", "in process"])
def pushcollector(request, capsys, monkeypatch, tmp_path):
    """Run the command with some arguments, in a directory, with the env var set
    to a value or (None) unset."""
    script = request.param == "console script"

    def run(*args, cwd=tmp_path, artifacts_dir=None):
        if script:
            env = dict(os.environ)
            env.pop("PUSHCOLLECTOR_ARTIFACTS_DIR", None)
            if artifacts_dir is not None:
                env["PUSHCOLLECTOR_ARTIFACTS_DIR"] = str(artifacts_dir)
            done = subprocess.run(
                [SCRIPT, *map(str, args)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
            return Result(done.returncode, done.stdout, done.stderr)
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            patch.delenv("PUSHCOLLECTOR_ARTIFACTS_DIR", raising=False)
            if artifacts_dir is not None:
                patch.setenv("PUSHCOLLECTOR_ARTIFACTS_DIR", str(artifacts_dir))
            try:
                status = cli.main([str(arg) for arg in args])
            except SystemExit as exit:
                status = exit.code
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return run


def record(base, *batches, files=()):
    """Record through the local backend under base/artifacts; the run's name."""
    Collector.new_run()
    backend = LocalCollector(base / "artifacts")
    collector = CollectorFacade(backend)
    for batch in batches:
        collector.update_push_items(batch).result()
    for name in files:
        collector.attach_file(name, "content").result()
    return os.path.basename(backend.run_dir)


def items(*pairs, dest=None):
    return [{"filename": name, "state": state, "dest": dest} for name, state in pairs]
