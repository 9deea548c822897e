"""A pushcollector backend printing push items as JSON lines on stdout.

Installed, it is available as ``Collector.get("stdout")``, or as the default
backend with ``PUSHCOLLECTOR_BACKEND=stdout``.
"""

import json
import sys
import threading


class StdoutCollector:
    """Print each push item as one JSON line; files are announced, not kept."""

    def __init__(self, stream=None):
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def update_push_items(self, items):
        lines = "".join(json.dumps(item, sort_keys=True) + "\n" for item in items)
        with self._lock:
            self._stream.write(lines)
            self._stream.flush()

    def attach_file(self, filename, content):
        self._announce("attached", filename, content)

    def append_file(self, filename, content):
        self._announce("appended to", filename, content)

    def _announce(self, verb, filename, content):
        with self._lock:
            self._stream.write("# %s %s: %d bytes\n" % (verb, filename, len(content)))
            self._stream.flush()
