"""The ``local`` backend: run directories under ``artifacts/``."""

import datetime
import json
import logging
import os
import threading

LOG = logging.getLogger("pushcollector")

PUSH_ITEMS_FILE = "pushitems.jsonl"
LATEST_LINK = "latest"

_encode_item = json.JSONEncoder(sort_keys=True).encode

# About a megabyte of typical push items per write.
_LINES_PER_CHUNK = 2048


class LocalCollector:
    """A backend writing each run to its own directory on the local disk.

    Registered as ``local``, the initial default backend. When constructed it
    chooses the run directory ``artifacts/<YYYYmmddHHMMSS>`` (local time)
    under the current working directory. The directory is created on the
    first write, and ``artifacts/latest`` is then pointed at it.

    * Push items are appended to ``pushitems.jsonl`` in the run directory,
      one JSON object per line with sorted keys.
    * Attached files are written to the run directory, replacing any earlier
      content; appended files are extended. Filenames may contain ``/``,
      and missing subdirectories are created.

    The first time it creates each file it logs ``Logging to <path>`` at INFO
    level on the ``pushcollector`` logger.
    """

    def __init__(self):
        self._base_dir = os.path.join(os.getcwd(), "artifacts")
        self._run_dir = os.path.join(self._base_dir, _timestamp())
        self._lock = threading.Lock()
        self._run_dir_made = False

    def __repr__(self):
        return "LocalCollector(run_dir=%r)" % self._run_dir

    def update_push_items(self, items):
        """Append push items to ``pushitems.jsonl``, one JSON line each."""
        # Encode everything before writing anything: an item that cannot be
        # encoded must leave the file untouched.
        lines = list(map(_encode_item, items))
        self._write(PUSH_ITEMS_FILE, _joined_in_chunks(lines), "ab")

    def attach_file(self, filename, content):
        """Write a file in the run directory, replacing earlier content."""
        self._write(filename, [content], "wb")

    def append_file(self, filename, content):
        """Append to a file in the run directory, creating it if needed."""
        self._write(filename, [content], "ab")

    def _write(self, filename, chunks, mode):
        path = os.path.join(self._run_dir, filename)
        with self._lock:
            self._make_run_dir()
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not os.path.exists(path):
                LOG.info("Logging to %s", path)
            with open(path, mode) as file:
                for chunk in chunks:
                    file.write(chunk)

    def _make_run_dir(self):
        if self._run_dir_made:
            return
        os.makedirs(self._run_dir, exist_ok=True)
        self._point_latest_at_run_dir()
        self._run_dir_made = True

    def _point_latest_at_run_dir(self):
        # Make the new link beside the old one and rename it over: readers
        # always find a "latest", old or new, never none.
        latest = os.path.join(self._base_dir, LATEST_LINK)
        staging = "%s.%d.%d" % (latest, os.getpid(), threading.get_ident())
        os.symlink(os.path.basename(self._run_dir), staging)
        os.replace(staging, latest)


def _joined_in_chunks(lines):
    """Newline-terminated ASCII bytes of the lines, a bounded chunk at a time.

    Joining a whole batch at once would hold a second full copy of it in
    memory; chunks keep that copy small whatever the batch size.
    """
    for start in range(0, len(lines), _LINES_PER_CHUNK):
        chunk = lines[start : start + _LINES_PER_CHUNK]
        chunk.append("")
        yield "\n".join(chunk).encode("ascii")


def _timestamp():
    return datetime.datetime.now().strftime("%Y%m%d%H%M%S")
