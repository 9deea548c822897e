"""What the commands print, in any encoding of standard output and of file
names: never an error, columns kept aligned."""

import io
import json
import os
import subprocess
import sys

import pytest

from pushcollector._impl import cli
from pushcollector._impl.cli import output

from .conftest import SCRIPT, TIMEOUT, items, record

# Output encodings ------------------------------------------------------------

# Each case: environment variables, the encoding of the output, and the one
# in which the command decodes file names.
ENCODINGS = {
    "PYTHONIOENCODING=ascii": ({"PYTHONIOENCODING": "ascii"}, "ascii", "utf-8"),
    "PYTHONIOENCODING=latin-1": (
        {"PYTHONIOENCODING": "latin-1"},
        "latin-1",
        "utf-8",
    ),
    # The C locale without the UTF-8 mode or locale coercion that Python
    # would otherwise switch to: ASCII everywhere, as on an old system.
    "LC_ALL=C": (
        {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
        "ascii",
        "ascii",
    ),
}


def run_with_encoding(env_vars, *args):
    env = dict(os.environ)
    for name in ("PUSHCOLLECTOR_ARTIFACTS_DIR", "PYTHONIOENCODING", "PYTHONUTF8"):
        env.pop(name, None)
    env.update(env_vars)
    return subprocess.run(
        [SCRIPT, *map(str, args)], env=env, capture_output=True, timeout=TIMEOUT
    )


def escaped(text, encoding):
    return text.encode(encoding, "backslashreplace").decode(encoding)


def path_shown(path, encoding, fs_encoding):
    """A path as the command prints it: as it decoded it, then escaped."""
    decoded = os.fsencode(path).decode(fs_encoding, "surrogateescape")
    return escaped(output.shown(decoded), encoding)


@pytest.mark.parametrize(
    "env_vars, encoding, fs_encoding", ENCODINGS.values(), ids=ENCODINGS
)
def test_output_never_fails_on_encoding(tmp_path, env_vars, encoding, fs_encoding):
    base = tmp_path / "caf\u00e9-\u65e5\u672c"
    base.mkdir()
    name = record(
        base,
        items(("\u65e5\u672c.rpm", "UPLOADFAILED"), ("caf\u00e9.rpm", "PUSHED")),
    )
    run_dir = base / "artifacts" / name
    with open(run_dir / "pushitems.jsonl", "ab") as torn:
        torn.write(b"torn")

    text = run_with_encoding(env_vars, "summary", run_dir)
    as_json = run_with_encoding(env_vars, "summary", "--json", run_dir)
    runs = run_with_encoding(env_vars, "runs", base / "artifacts")
    runs_json = run_with_encoding(env_vars, "runs", "--json", base / "artifacts")
    missing = run_with_encoding(env_vars, "summary", base / "\u65e5")
    misuse = run_with_encoding(env_vars, "summary", "--\u00e9")

    # What the stream can encode is shown as it is, the rest escaped.
    stdout = text.stdout.decode(encoding)
    assert text.returncode == 1
    assert "Path:       %s\n" % path_shown(run_dir, encoding, fs_encoding) in stdout
    assert "  \\u65e5\\u672c.rpm  -     UPLOADFAILED\n" in stdout
    assert text.stderr.decode(encoding).startswith(
        "pushcollector: warning: %s:3: skipped: "
        % path_shown(run_dir / "pushitems.jsonl", encoding, fs_encoding)
    )
    # JSON is ASCII whatever the encoding, and decodes to the same names.
    assert as_json.returncode == 1
    assert as_json.stdout.isascii()
    document = json.loads(as_json.stdout)
    assert document["unsuccessful"][0]["filename"] == "\u65e5\u672c.rpm"
    assert document["directory"].encode(fs_encoding, "surrogateescape") == os.fsencode(
        run_dir
    )
    assert runs.returncode == 0
    assert runs.stdout.decode(encoding).splitlines()[1].startswith("* " + name)
    assert runs_json.returncode == 0
    assert runs_json.stdout.isascii()
    assert json.loads(runs_json.stdout)["runs"][0]["name"] == name
    assert (missing.returncode, missing.stdout) == (2, b"")
    assert missing.stderr.decode(encoding) == (
        "pushcollector: error: %s: No such file or directory\n"
        % path_shown(base / "\u65e5", encoding, fs_encoding)
    )
    assert misuse.returncode == 2
    assert misuse.stderr.decode(encoding).endswith(
        "error: unrecognized arguments: --%s\n"
        % escaped(
            os.fsencode("\u00e9").decode(fs_encoding, "surrogateescape"), encoding
        )
    )


def test_escaped_names_keep_columns_aligned(tmp_path, monkeypatch):
    record(tmp_path, items(("\u65e5\u672c.rpm", "UPLOADFAILED"), ("b", "NOTFOUND")))
    ascii_stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_stdout)

    status = cli.main(["summary", str(tmp_path / "artifacts")])

    ascii_stdout.flush()
    assert status == 1
    assert (
        "  FILENAME          DEST  STATE\n"
        "  \\u65e5\\u672c.rpm  -     UPLOADFAILED\n"
        "  b                 -     NOTFOUND\n"
    ) in ascii_stdout.buffer.getvalue().decode("ascii")
