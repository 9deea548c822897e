"""Deprecated: where 1.3.0 kept the class of the collectors ``get()`` returns.

Test suites of 1.3.0 clients patch
``pushcollector._impl.proxy.CollectorProxy.update_push_items``; the name is
the very class :meth:`pushcollector.Collector.get` instantiates, so patching
it still takes effect. New code should use the public API only.

.. deprecated:: 1.5.0
"""

from .facade import CollectorFacade as CollectorProxy

__all__ = ["CollectorProxy"]
