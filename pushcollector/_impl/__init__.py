"""Private modules of pushcollector.

Nothing here is public API: import from :mod:`pushcollector`. The layout,
and which module owns which rule, is on the docs' "Architecture" page.

Three modules keep import paths that 1.3.0 clients use, as thin re-exports
and nothing else (a test holds them to that, and to importing without a
warning):

* ``pushcollector._impl.local``: ``LocalCollector``;
* ``pushcollector._impl.dummy``: ``DummyCollector``;
* ``pushcollector._impl.proxy``: ``CollectorProxy``, the class of the
  collectors :meth:`~pushcollector.Collector.get` returns, which test suites
  patch.

``from pushcollector._impl import Collector`` worked in 1.3.0 and still does
(deprecated: import it from :mod:`pushcollector`).
"""


def __getattr__(name):
    # Lazily, so that importing a private module does not import them all.
    if name == "Collector":
        from .collector import Collector

        return Collector
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
