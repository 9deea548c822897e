"""Deprecated: 1.3.0's module of the ``dummy`` backend.

Use ``Collector.get("dummy")``.

.. deprecated:: 1.5.0
"""

from .backends.dummy import DummyCollector

__all__ = ["DummyCollector"]
