"""Module attributes imported when first used (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_attributes(
    namespace: dict, sources: dict[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a module with lazy attributes.

    Args:
        namespace: the module's ``globals()``; each attribute is stored in
            it when first imported, so later lookups cost nothing.
        sources: the module each attribute is imported from, relative to
            the module.
    """
    package = namespace["__name__"]

    def __getattr__(name):
        if name not in sources:
            raise AttributeError("module %r has no attribute %r" % (package, name))
        value = getattr(importlib.import_module(sources[name], package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(sources))

    return __getattr__, __dir__
