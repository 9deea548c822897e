"""What the service imports of reading runs, from where it imported it.

Kept only until ``server/app.py`` and ``server/pages.py`` use
:class:`~.reading.report.RunReport`; nothing else uses this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .reading.report import FinalState, RunReport, verdict
from .records import BadLine

__all__ = ["FinalState", "summary_document", "verdict"]


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
    """What ``pushcollector summary --json`` prints of a run: the
    :meth:`~.reading.report.RunReport.document` of its report."""
    report = RunReport(
        record_count,
        state_counts,
        unsuccessful=unsuccessful,
        unfinished=unfinished,
        bad_lines=bad_lines,
        allow_pending=allow_pending,
        allow_bad_lines=allow_bad_lines,
    )
    return report.document(run_name, location, latest)
