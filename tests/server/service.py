"""``pushcollector serve`` as a real process, for the tests."""

import os
import re
import selectors
import signal
import subprocess
import sys
import threading

import requests

_SERVING = re.compile(r"serving (http://\S+/api) ")

# Bounds, not measurements: a service that has not said it listens within a
# minute, or stopped within a minute of SIGTERM, is broken.
START_TIMEOUT = 60
STOP_TIMEOUT = 60


class ServiceError(RuntimeError):
    """The service did not start or stop as it should have."""


class ServiceProcess:
    """``python -m pushcollector serve`` in a child process.

    Args:
        db: the database URL, or None to give no ``--db``.
        args: more arguments of ``serve``.
        env: more environment variables.
        environ: the environment to add them to; by default the tests'.
        cwd: the working directory.
    """

    def __init__(self, db, *args, env=None, environ=None, cwd=None):
        self.db = db
        self.args = list(args)
        self.env = dict(os.environ if environ is None else environ, **(env or {}))
        self.cwd = cwd
        self.process = None
        self.url = None
        self.banner = None
        self.port = 0
        self.output = ""

    def start(self):
        """Start it and wait until it says it listens; returns self.

        A restarted service listens on the port it had before.
        """
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pushcollector",
                "serve",
                *(["--db", self.db] if self.db else []),
                "--port",
                str(self.port),
                *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            text=True,
        )
        line = self._read_line(START_TIMEOUT)
        match = _SERVING.search(line)
        if match is None:
            self.process.kill()
            rest, _ = self.process.communicate()
            raise ServiceError("serve did not start: %s" % (line + rest))
        self.banner = line
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        # Read what it says from now on, so that a service logging much
        # never waits on a full pipe.
        self._reader = threading.Thread(
            target=self._collect_output, args=(self.process.stdout,), daemon=True
        )
        self._reader.start()
        return self

    def _collect_output(self, stream):
        for line in stream:
            self.output += line

    def _read_line(self, timeout):
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.process.kill()
                raise ServiceError("serve said nothing within %d s" % timeout)
        return self.process.stdout.readline()

    def stop(self, sig=signal.SIGTERM):
        """Send a signal and wait for the process to end; its exit status."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        return self.wait()

    def wait(self):
        """Wait for the process to end by itself; its exit status."""
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise ServiceError("serve did not stop: %s" % self._ended())
        self._ended()
        return self.process.returncode

    def _ended(self):
        """All the output of an ended process."""
        self._reader.join()
        self.process.stdout.close()
        return self.output

    def kill(self):
        """kill -9: the service gets no chance to finish anything."""
        self.process.kill()
        self.process.wait()
        self._ended()

    def get(self, path, **kwargs):
        return requests.get(self.url + path, timeout=60, **kwargs)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
