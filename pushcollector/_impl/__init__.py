"""Private modules of pushcollector.

``from pushcollector._impl import Collector`` worked in 1.3.0 and still does
(deprecated: import it from :mod:`pushcollector`).
"""


def __getattr__(name):
    # Lazily, so that importing a private module does not import them all.
    if name == "Collector":
        from .collector import Collector

        return Collector
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
