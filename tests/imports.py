"""What a fresh Python process has imported after running some code."""

import json
import subprocess
import sys


def modules_after(code, cwd=None):
    """The names of the modules a new interpreter holds after running code."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code + "\nimport json, sys\n" "print(json.dumps(sorted(sys.modules)))",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))
