"""The example plugin package installs and is discovered by name."""

import json
import os
import subprocess
import sys

EXAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "plugin"
)


def test_example_plugin_installs_and_is_discovered(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        + ["--target", str(target), EXAMPLE],
        check=True,
        timeout=300,
    )
    code = (
        "from pushcollector import Collector\n"
        "c = Collector.get()\n"
        "c.update_push_items([{'filename': 'a', 'state': 'PUSHED'}]).result()\n"
        "c.append_file('log', 'abc').result()\n"
    )
    env = dict(
        os.environ,
        PUSHCOLLECTOR_BACKEND="stdout",
        PYTHONPATH=os.pathsep.join([str(target)] + sys.path),
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    assert json.loads(out[0]) == {"filename": "a", "state": "PUSHED"}
    assert out[1:] == ["# appended to log: 3 bytes"]
    assert not (tmp_path / "artifacts").exists()
