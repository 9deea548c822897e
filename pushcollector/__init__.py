"""Record the outcome of a push: push item states and log files.

Call :meth:`Collector.get` for a collector and record through it; which
backend stores the records is chosen by whoever runs the push. Runs recorded
by the ``local`` backend, or held by a collection service, are read back
with :func:`open_run` and :func:`list_runs`.

``__version__`` is the version of the package (the one that
``pushcollector --version`` prints): public, so that a push tool can say in
its own logs which pushcollector recorded a run.
"""

from ._impl.backends.local import LocalCollector
from ._impl.collector import Collector
from ._impl.lazy import lazy_attributes
from ._impl.schema import SUCCESSFUL_STATES
from ._impl.version import VERSION as __version__

# Imported when first used, so that a push recording to the local backend
# does not pay at start-up for the http backend or for reading runs.
_LAZY_NAMES = {
    "HttpCollector": "._impl.backends.http",
    "HttpCollectorError": "._impl.backends.http",
    "BadLine": "._impl.records",
    "FinalState": "._impl.reading.report",
    "NotARunError": "._impl.reading.run",
    "PushItemValueError": "._impl.jsonvalues",
    "RemoteRun": "._impl.reading.remote",
    "Run": "._impl.reading.run",
    "RunSummary": "._impl.reading.report",
    "ServiceReadError": "._impl.reading.remote",
    "SqlCollector": "._impl.backends.sql",
    "list_runs": "._impl.reading.dispatch",
    "open_run": "._impl.reading.dispatch",
}

__all__ = [
    "BadLine",
    "Collector",
    "FinalState",
    "HttpCollector",
    "HttpCollectorError",
    "LocalCollector",
    "NotARunError",
    "PushItemValueError",
    "RemoteRun",
    "Run",
    "RunSummary",
    "SUCCESSFUL_STATES",
    "ServiceReadError",
    "SqlCollector",
    "__version__",
    "list_runs",
    "open_run",
]


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY_NAMES)
