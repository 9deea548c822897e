"""Record the outcome of a push: push item states and log files.

Call :meth:`Collector.get` for a collector and record through it; which
backend stores the records is chosen by whoever runs the push.
"""

from ._impl.backends.http import HttpCollector, HttpCollectorError
from ._impl.backends.local import LocalCollector
from ._impl.collector import Collector

__all__ = ["Collector", "HttpCollector", "HttpCollectorError", "LocalCollector"]
