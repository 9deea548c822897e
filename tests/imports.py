"""What a fresh Python process has imported after running some code."""

import json
import os
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
        # Not measured by coverage, which would add its own imports.
        env={
            name: value
            for name, value in os.environ.items()
            if not name.startswith("COVERAGE_")
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))
