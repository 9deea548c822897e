"""The one rule for the values of push items: JSON that reads back the same.

Every backend stores push items as JSON, or must behave as if it did. The
facade checks this rule for every call before any backend sees it, so that
no backend writes what most JSON parsers refuse (NaN, lone surrogates) and
every backend refuses the same items, with the same exception.

As for the schema, a quick check (:func:`_plainly_json`) judges every item,
and a slower one (:func:`json_problem`) finds what is wrong with an item the
quick one rejected, and where.
"""

from __future__ import annotations

import math
from itertools import repeat

#: How deeply containers may nest in a push item, the item itself counting
#: as one. Well within what common JSON parsers accept (Ruby's default is
#: 100, serde_json's 128, Python's about 1,000).
MAX_NESTING = 100

#: The range of integers: 64 bits, signed or unsigned. Parsers with typed
#: integers read nothing wider, and Python cannot write an int of more than
#: 4,300 digits as text at all.
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


class PushItemValueError(TypeError, ValueError):
    """A push item holds a value that is not JSON that reads back the same.

    Raised by :meth:`Collector.update_push_items` before any backend sees
    the call, whichever the backend; nothing of the call is recorded. It is
    both a :class:`TypeError` and a :class:`ValueError`, the exceptions
    backends raised for such values before, so code catching either still
    catches it.

    The message names the item, by its position among the items given to
    the call, and the path to the value::

        push item 3: ['extra']['a'][2]: NaN is not JSON

    Attributes:
        index (int): the position of the item among those given to the call.
        path (tuple): the keys and list indices leading from the item to the
            value, or to the dict holding a bad key.
        problem (str): what is wrong.

    .. versionadded:: 1.4.0
    """

    def __init__(self, index: int, path: tuple, problem: str):
        # All three in args, so that the error pickles and unpickles whole,
        # as it must to leave a multiprocessing worker.
        super().__init__(index, path, problem)
        self.index = index
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        where = "".join("[%r]" % step for step in self.path)
        return "push item %d: %s%s" % (
            self.index,
            where + ": " if where else "",
            self.problem,
        )


def check_json_values(dicts: list, item_indexes: list | None = None) -> None:
    """Raise PushItemValueError for the first item breaking the JSON rule.

    Args:
        dicts: the push item dicts of one call.
        item_indexes: the caller's index of each dict, when they differ from
            the dicts' positions (a PushItem makes one dict per destination).
    """
    if all(map(_plainly_json, dicts, repeat(1))):
        return
    for position, item in enumerate(dicts):
        problem = None if _plainly_json(item, 1) else json_problem(item)
        if problem is not None:
            index = position if item_indexes is None else item_indexes[position]
            raise PushItemValueError(index, *problem)


def _plainly_json(container, depth: int) -> bool:
    """Whether a dict, list or tuple keeps the JSON rule: a quick check.

    It costs a fraction of encoding the container: exact types are tested
    first, and a loop as short as can be. False means only that
    :func:`json_problem` must look.
    """
    if isinstance(container, dict):
        try:
            # At C speed; join refuses any key that is not a str.
            keys = "".join(container)
        except TypeError:
            return False
        if not keys.isascii() and _surrogate_index(keys) is not None:
            return False
        members = container.values()
    else:
        members = container
    for member in members:
        kind = type(member)
        if kind is str:
            if not member.isascii() and _surrogate_index(member) is not None:
                return False
        elif member is None or kind is bool:
            pass
        elif kind is int:
            if not INT_MIN <= member <= INT_MAX:
                return False
        elif isinstance(member, (dict, list, tuple)):
            # Deeper than allowed: too deep, or a circular reference.
            if depth >= MAX_NESTING or not _plainly_json(member, depth + 1):
                return False
        elif _scalar_problem(member) is not None:
            return False
    return True


def json_problem(value) -> tuple[tuple, str] | None:
    """The path to the first value breaking the JSON rule, and why; or None.

    The rule: ``None``, ``bool``, ``str`` without lone surrogates, ``int``
    from :data:`INT_MIN` to :data:`INT_MAX`, finite ``float``; ``list`` and
    ``tuple`` (arrays) and ``dict`` with ``str`` keys (objects) of such
    values, nested at most :data:`MAX_NESTING` deep, without circular
    references. Subclasses of these types count as them, as :mod:`json`
    encodes them as them.
    """
    problem = _scalar_problem(value)
    if problem is not None:
        return (), problem
    if not isinstance(value, (dict, list, tuple)):
        return None
    # Containers still to look into, each with its path and the ids of the
    # containers holding it (itself included), which tell a circular
    # reference from an object that is merely used twice.
    pending = [(value, (), (id(value),))]
    while pending:
        container, path, holders = pending.pop()
        if isinstance(container, dict):
            problem = _keys_problem(container)
            if problem is not None:
                return path, problem
            members = container.items()
        else:
            members = enumerate(container)
        for key, member in members:
            problem = _scalar_problem(member)
            if problem is not None:
                return path + (key,), problem
            if not isinstance(member, (dict, list, tuple)):
                continue
            if id(member) in holders:
                return path + (key,), "a circular reference"
            if len(holders) >= MAX_NESTING:
                return path + (key,), "nested deeper than %d levels" % MAX_NESTING
            pending.append((member, path + (key,), holders + (id(member),)))
    return None


def _keys_problem(mapping: dict) -> str | None:
    """What is wrong with the first bad key of a dict, or None."""
    for key in mapping:
        if not isinstance(key, str):
            # json would write it as a str: "1" for 1, "null" for None.
            return "key %r (%s) is not a str: JSON keys are strings" % (
                key,
                type(key).__name__,
            )
        if _surrogate_index(key) is not None:
            return "key %r %s" % (key, _surrogate_problem(key))
    return None


def _scalar_problem(value) -> str | None:
    """What is wrong with a value that is not a container, or None."""
    if value is None or isinstance(value, (dict, list, tuple)):
        return None
    if isinstance(value, str):
        if _surrogate_index(value) is None:
            return None
        return "str %s" % _surrogate_problem(value)
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return None
        # Not the value: Python refuses to print an int of 4,300 digits.
        return (
            "an int of %d bits is out of range: JSON integers here have at "
            "most 64 bits (-2**63 to 2**64 - 1)" % value.bit_length()
        )
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        if math.isnan(value):
            return "NaN is not JSON"
        return "%sInfinity is not JSON" % ("-" if value < 0 else "")
    return "a value of type %s is not JSON" % type(value).__name__


def _surrogate_index(text: str) -> int | None:
    """The index of the first lone surrogate in text, or None."""
    try:
        # Strict UTF-8 refuses exactly the lone surrogates, and is quicker
        # than a regex search (and than compiling one at import).
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def _surrogate_problem(text: str) -> str:
    index = _surrogate_index(text)
    return "holds a lone surrogate, %r at index %d, which is not Unicode text" % (
        text[index],
        index,
    )
