"""The outcome of a run: the final state of each push item, and the verdict.

One definition of each, whatever holds the run.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence

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
        counts = collections.Counter(self.final_states.values())
        return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))

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


def summary_document(
    run_name: str,
    location: Mapping[str, object],
    latest: bool,
    record_count: int,
    state_counts: Mapping[str, int],
    unsuccessful: Sequence[FinalState],
    unfinished: Sequence[FinalState],
    bad_lines: Sequence[BadLine],
    allow_pending: bool,
    allow_bad_lines: bool,
) -> dict:
    """What ``pushcollector summary --json`` prints of a run.

    Args:
        location: where the run is held, as the document names it: for a
            local run ``directory`` and ``items_file``.
    """
    document = {"run": run_name}
    document.update(location)
    document.update(
        {
            "latest": latest,
            "records": record_count,
            "push_items": sum(state_counts.values()),
            "states": dict(state_counts),
            "unsuccessful": [FinalState(*item)._asdict() for item in unsuccessful],
            "unfinished": [FinalState(*item)._asdict() for item in unfinished],
            "bad_lines": [
                {"line": bad.line_number, "reason": bad.reason} for bad in bad_lines
            ],
            "allow_pending": allow_pending,
            "allow_bad_lines": allow_bad_lines,
            # Deprecated: what --strict used to mean, now the default.
            "strict": not allow_bad_lines,
            "passed": verdict(
                state_counts, len(bad_lines), allow_pending, allow_bad_lines
            ),
        }
    )
    return document
