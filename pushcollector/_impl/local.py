"""Deprecated: 1.3.0's module of the ``local`` backend.

Use :class:`pushcollector.LocalCollector`.

.. deprecated:: 1.5.0
"""

from .backends.local import LocalCollector

__all__ = ["LocalCollector"]
