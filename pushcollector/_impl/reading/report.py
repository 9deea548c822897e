"""The outcome of a run: the final state of each push item, the verdict,
and the run report.

One definition of each, whatever holds the run: a local run, a run read
from a service, a run in the service's own database.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Iterator, Mapping

from ..records import BadLine
from ..schema import SUCCESSFUL_STATES

FinalState = collections.namedtuple("FinalState", "filename dest state")
FinalState.__doc__ = """The state a push item ended in: ``(filename, dest, state)``.

``dest`` is None for an item recorded without a destination.

.. versionadded:: 1.4.0
"""


class RunSummary:
    """What a run recorded, reduced to the final state of each push item.

    Attributes:
        run (Run): the run summarised.
        record_count (int): how many push item records were read.
        final_states (dict[tuple[str, str | None], str]): the final state of
            each push item by ``(filename, dest)``, in the order the items
            were first recorded.
        bad_lines (list[BadLine]): the lines skipped, in file order.

    .. versionadded:: 1.4.0
    """

    def __init__(self, run, record_count, final_states, bad_lines):
        self.run = run
        self.record_count = record_count
        self.final_states = final_states
        self.bad_lines = bad_lines

    def __repr__(self):
        return "<RunSummary of %r: %d records, %d push items>" % (
            self.run,
            self.record_count,
            len(self.final_states),
        )

    def state_counts(self) -> dict[str, int]:
        """How many push items ended in each state, most frequent first."""
        return most_frequent_first(collections.Counter(self.final_states.values()))

    def unsuccessful(self) -> list[FinalState]:
        """The push items whose final state is not a successful state."""
        return self._items_where(lambda state: state not in SUCCESSFUL_STATES)

    def unfinished(self) -> list[FinalState]:
        """The push items left ``PENDING`` when the run ended."""
        return self._items_where(lambda state: state == "PENDING")

    def _items_where(self, wanted):
        return [
            FinalState(filename, dest, state)
            for (filename, dest), state in self.final_states.items()
            if wanted(state)
        ]

    def passed(
        self, allow_pending: bool = False, allow_bad_lines: bool = False
    ) -> bool:
        """Whether every push item is known to have ended successfully.

        This is the verdict of ``pushcollector summary``, whose options
        ``--allow-pending`` and ``--allow-bad-lines`` are these arguments.

        Args:
            allow_pending: whether an item still ``PENDING`` counts as
                successful. By default it does not: the push did not finish
                with it.
            allow_bad_lines: whether the run may pass with lines skipped
                (see :attr:`bad_lines`). By default it may not: a skipped
                line may have held the last record of an item, so that
                item's final state is unknown.

        A run with no push items and no bad lines passes.

        .. versionchanged:: 1.5.0
            Added ``allow_bad_lines``: bad lines fail the run by default.
        """
        return verdict(
            self.state_counts(), len(self.bad_lines), allow_pending, allow_bad_lines
        )


def verdict(
    state_counts: Mapping[str, int],
    bad_line_count: int = 0,
    allow_pending: bool = False,
    allow_bad_lines: bool = False,
) -> bool:
    """Whether a run passes, from how many of its items ended in each state.

    The one definition of the verdict, whatever holds the run: see
    :meth:`RunSummary.passed` for what the arguments mean.
    """
    if bad_line_count and not allow_bad_lines:
        return False
    for state, count in state_counts.items():
        if count and (
            state not in SUCCESSFUL_STATES or (state == "PENDING" and not allow_pending)
        ):
            return False
    return True


def most_frequent_first(state_counts: Mapping[str, int]) -> dict[str, int]:
    """State counts in the order every view shows them: most frequent
    first, ties by name."""
    return dict(sorted(state_counts.items(), key=lambda pair: (-pair[1], pair[0])))


class RunReport:
    """The outcome of a run: what ``pushcollector summary`` reports and how
    it judges the run.

    One type, whatever holds the run: a run makes its own
    (:meth:`Run.report`); a report is also made from a run's
    :class:`RunSummary` (:meth:`of_summary`), from the summary a service
    computed (:meth:`of_document`), from a run as a service lists it
    (:meth:`of_figures`), and from the counts of the service's own store
    (:meth:`of_counts`). A report does not change.

    Args:
        record_count: how many push item records the run holds.
        state_counts: how many push items ended in each state, in any
            order.
        unsuccessful: the push items whose final state is not successful,
            as :class:`FinalState` or ``(filename, dest, state)``; None if
            only their number is known.
        unfinished: the push items left ``PENDING``, likewise.
        bad_lines: the lines that were skipped.
        bad_line_count: how many lines were skipped, if only their number
            is known; by default, how many ``bad_lines`` there are.
        allow_pending: the run is judged as with ``--allow-pending``.
        allow_bad_lines: the run is judged as with ``--allow-bad-lines``.

    Attributes:
        record_count (int): as given.
        state_counts (dict[str, int]): as given, most frequent first (ties
            by name).
        unsuccessful (tuple[FinalState, ...] | None): as given.
        unfinished (tuple[FinalState, ...] | None): as given.
        bad_lines (tuple[BadLine, ...]): as given.
        bad_line_count (int): how many lines were skipped.
        allow_pending (bool): as given.
        allow_bad_lines (bool): as given.
        push_item_count (int): how many distinct push items were recorded.
        passed (bool): the verdict (see :func:`verdict`).
    """

    __slots__ = (
        "record_count",
        "state_counts",
        "unsuccessful",
        "unfinished",
        "bad_lines",
        "bad_line_count",
        "allow_pending",
        "allow_bad_lines",
        "push_item_count",
        "passed",
    )

    def __init__(
        self,
        record_count: int,
        state_counts: Mapping[str, int],
        *,
        unsuccessful: Iterable[tuple] | None = None,
        unfinished: Iterable[tuple] | None = None,
        bad_lines: Iterable[BadLine] = (),
        bad_line_count: int | None = None,
        allow_pending: bool = False,
        allow_bad_lines: bool = False,
    ):
        state_counts = most_frequent_first(state_counts)
        bad_lines = tuple(bad_lines)
        if bad_line_count is None:
            bad_line_count = len(bad_lines)
        fields = {
            "record_count": record_count,
            "state_counts": state_counts,
            "unsuccessful": _final_states(unsuccessful),
            "unfinished": _final_states(unfinished),
            "bad_lines": bad_lines,
            "bad_line_count": bad_line_count,
            "allow_pending": allow_pending,
            "allow_bad_lines": allow_bad_lines,
            "push_item_count": sum(state_counts.values()),
            "passed": verdict(
                state_counts, bad_line_count, allow_pending, allow_bad_lines
            ),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("a RunReport does not change")

    def __delattr__(self, name):
        raise AttributeError("a RunReport does not change")

    def __eq__(self, other):
        if not isinstance(other, RunReport):
            return NotImplemented
        return all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    # Equal reports need equal hashes, and a report holds a dict.
    __hash__ = None

    def __repr__(self):
        return "<RunReport: %d records, %d push items, %s>" % (
            self.record_count,
            self.push_item_count,
            "passed" if self.passed else "failed",
        )

    @property
    def unsuccessful_states(self) -> list[str]:
        """The states of the run that are not successful, most frequent first."""
        return [state for state in self.state_counts if state not in SUCCESSFUL_STATES]

    @property
    def unsuccessful_count(self) -> int:
        """How many push items ended in a state that is not successful."""
        return sum(self.state_counts[state] for state in self.unsuccessful_states)

    @property
    def unfinished_count(self) -> int:
        """How many push items were left ``PENDING``."""
        return self.state_counts.get("PENDING", 0)

    def document(
        self, run_name: str, location: Mapping[str, object], latest: bool
    ) -> dict:
        """What ``pushcollector summary --json`` prints of the run (see
        :doc:`/reading`): only a report with its lists of items has one.

        Args:
            run_name: the name of the run.
            location: where the run is held, under the keys the document
                names it by (see :meth:`Run.location`).
            latest: whether it is the newest run where it is held.
        """
        return self._document(
            run_name,
            location,
            latest,
            [item._asdict() for item in self.unsuccessful],
            [item._asdict() for item in self.unfinished],
        )

    def document_text(
        self,
        run_name: str,
        location: Mapping[str, object],
        latest: bool,
        unsuccessful: Iterable[tuple],
        unfinished: Iterable[tuple],
    ) -> Iterator[str]:
        """The :meth:`document` as compact JSON text, a piece at a time, with
        its lists of items taken from iterables as the text is made: a
        document of any number of items is never held whole.

        Args:
            run_name, location, latest: as :meth:`document` takes them.
            unsuccessful: the push items whose final state is not
                successful, as :class:`FinalState` or ``(filename, dest,
                state)``, in the order they were first recorded.
            unfinished: the push items left ``PENDING``, likewise.

        Yields:
            the pieces of the text; joined, ``json.loads`` reads them as
            the :meth:`document` of a report holding these lists.
        """
        lists = {"unsuccessful": unsuccessful, "unfinished": unfinished}
        fields = self._document(run_name, location, latest, None, None)
        separator = "{"
        for name, value in fields.items():
            yield separator + _encode_json(name) + ":"
            separator = ","
            if name in lists:
                yield from _array_text(lists[name])
            else:
                yield _encode_json(value)
        yield "}"

    def _document(self, run_name, location, latest, unsuccessful, unfinished):
        document = {"run": run_name}
        document.update(location)
        document.update(
            {
                "latest": latest,
                "records": self.record_count,
                "push_items": self.push_item_count,
                "states": dict(self.state_counts),
                "unsuccessful": unsuccessful,
                "unfinished": unfinished,
                "bad_lines": [
                    {"line": bad.line_number, "reason": bad.reason}
                    for bad in self.bad_lines
                ],
                "allow_pending": self.allow_pending,
                "allow_bad_lines": self.allow_bad_lines,
                # Deprecated: what --strict used to mean, now the default.
                "strict": not self.allow_bad_lines,
                "passed": self.passed,
            }
        )
        return document

    @classmethod
    def of_summary(
        cls,
        summary: RunSummary,
        allow_pending: bool = False,
        allow_bad_lines: bool = False,
    ) -> RunReport:
        """The report of a run read in full, from its summary."""
        return cls(
            summary.record_count,
            collections.Counter(summary.final_states.values()),
            unsuccessful=summary.unsuccessful(),
            unfinished=summary.unfinished(),
            bad_lines=summary.bad_lines,
            allow_pending=allow_pending,
            allow_bad_lines=allow_bad_lines,
        )

    @classmethod
    def of_document(
        cls,
        document: Mapping,
        allow_pending: bool = False,
        allow_bad_lines: bool = False,
    ) -> RunReport:
        """The report of a run from its :meth:`document`, as a service
        answers it; the verdict is judged here, by the options given.

        Raises:
            KeyError, TypeError, AttributeError or ValueError: if it is not
                such a document.
        """
        return cls(
            document["records"],
            document["states"],
            unsuccessful=[FinalState(**item) for item in document["unsuccessful"]],
            unfinished=[FinalState(**item) for item in document["unfinished"]],
            bad_lines=[
                BadLine(bad["line"], bad["reason"]) for bad in document["bad_lines"]
            ],
            allow_pending=allow_pending,
            allow_bad_lines=allow_bad_lines,
        )

    @classmethod
    def of_figures(cls, figures: Mapping) -> RunReport:
        """The report of a run from its figures, as a service lists it: of
        counts only, judged without options.

        Raises:
            KeyError, TypeError, AttributeError or ValueError: if they are
                not such figures.
        """
        return cls(
            figures["records"], figures["states"], bad_line_count=figures["bad_lines"]
        )

    @classmethod
    def of_counts(
        cls,
        counts,
        unsuccessful: Iterable[tuple] | None = None,
        unfinished: Iterable[tuple] | None = None,
        allow_pending: bool = False,
        allow_bad_lines: bool = False,
        bad_lines: Iterable[BadLine] | None = None,
    ) -> RunReport:
        """The report of a run in the service's store, from what
        ``Store.counts()`` returns for it (a ``RunCounts``).

        The store keeps records, and the lines its client declared it could
        not deliver (``Store.set_bad_lines()``): those are the run's bad
        lines, counted in ``counts.run.bad_line_count`` and listed by
        ``Store.bad_lines()``. Its lists of items are those
        ``Store.items_in_states()`` returns for :attr:`unsuccessful_states`
        and for ``PENDING``. Without the lists, the report is of counts
        only.
        """
        return cls(
            counts.run.record_count,
            counts.states,
            unsuccessful=unsuccessful,
            unfinished=unfinished,
            bad_lines=bad_lines or (),
            bad_line_count=None if bad_lines is not None else counts.run.bad_line_count,
            allow_pending=allow_pending,
            allow_bad_lines=allow_bad_lines,
        )


# JSON text as the service answers it: compact, and UTF-8 rather than escapes.
_encode_json = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":")
).encode

# Items encoded per piece of a document's text.
_ITEMS_PER_PIECE = 500


def _array_text(items):
    """A JSON array of push items as objects of their final states, in
    pieces of a few hundred items."""
    yield "["
    separator = ""
    encoded = []
    for item in items:
        encoded.append(_encode_json(FinalState(*item)._asdict()))
        if len(encoded) == _ITEMS_PER_PIECE:
            yield separator + ",".join(encoded)
            separator = ","
            encoded = []
    if encoded:
        yield separator + ",".join(encoded)
    yield "]"


def _final_states(items):
    return None if items is None else tuple(FinalState(*item) for item in items)
