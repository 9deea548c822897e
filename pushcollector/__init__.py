"""Record the outcome of a push: push item states and log files.

Call :meth:`Collector.get` for a collector and record through it; which
backend stores the records is chosen by whoever runs the push. Runs recorded
by the ``local`` backend are read back with :func:`open_run` and
:func:`list_runs`.
"""

from ._impl.backends.http import HttpCollector, HttpCollectorError
from ._impl.backends.local import LocalCollector
from ._impl.collector import Collector
from ._impl.runs import (
    BadLine,
    FinalState,
    NotARunError,
    Run,
    RunSummary,
    list_runs,
    open_run,
)
from ._impl.schema import SUCCESSFUL_STATES

__all__ = [
    "BadLine",
    "Collector",
    "FinalState",
    "HttpCollector",
    "HttpCollectorError",
    "LocalCollector",
    "NotARunError",
    "Run",
    "RunSummary",
    "SUCCESSFUL_STATES",
    "list_runs",
    "open_run",
]
