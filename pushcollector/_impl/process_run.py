"""Which run a collector records into: one run per push process.

A push calls ``Collector.get()`` from several places (the source library,
the push tool, its plugins), and the people reading the push expect one run
holding all of it. So every collector a process makes joins the process's
current run; :func:`start_new_run` begins another one for collectors made
afterwards. A child forked after the run began records into the same run:
``fork()`` copies this module's state.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable

# Guards every ProcessRun. Claiming a run is rare and short, so one lock is
# enough; it is replaced in a forked child, where a thread of the parent may
# have been holding it.
_lock = threading.Lock()

_last_run_micros = 0


def new_run_id() -> str:
    """A new run id: UTC time to the microsecond, then 12 random hex digits.

    Within one process ids are strictly increasing even if two are made in
    the same microsecond or the clock steps back; the random part keeps ids
    of different processes and hosts apart.
    """
    global _last_run_micros
    with _lock:
        micros = max(time.time_ns() // 1000, _last_run_micros + 1)
        _last_run_micros = micros
    seconds, fraction = divmod(micros, 1_000_000)
    return "%s.%06dZ-%s" % (
        time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)),
        fraction,
        os.urandom(6).hex(),
    )


class ProcessRun:
    """One run of this process, as each backend that names runs knows it.

    Backends ask for what they need when they first write, so a run that
    never records anything leaves no trace.
    """

    __slots__ = ("_run_id", "_local_dirs")

    def __init__(self):
        self._run_id = None
        self._local_dirs = {}

    @property
    def run_id(self) -> str:
        """The run's id for backends that send it to a service."""
        if self._run_id is None:
            run_id = new_run_id()
            with _lock:
                if self._run_id is None:
                    self._run_id = run_id
        return self._run_id

    def local_run_dir(self, base_key: Hashable, claim: Callable[[], str]) -> str:
        """The run's directory under an artifacts directory.

        Args:
            base_key: identifies the artifacts directory.
            claim: creates a new run directory and returns its path; called
                only when the run has none there yet.
        """
        with _lock:
            run_dir = self._local_dirs.get(base_key)
            if run_dir is None:
                run_dir = self._local_dirs[base_key] = claim()
            return run_dir

    def forget_local_run_dir(self, base_key: Hashable, run_dir: str) -> None:
        """Forget a run directory that was removed, so another is claimed."""
        with _lock:
            if self._local_dirs.get(base_key) == run_dir:
                del self._local_dirs[base_key]


_current = ProcessRun()


def current_run() -> ProcessRun:
    """The run that collectors made now join."""
    return _current


def start_new_run() -> None:
    """Make collectors made from now on join a new run."""
    global _current
    _current = ProcessRun()


def _new_lock_in_child():
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)
