"""What the service imports of reading runs, from where it imported it.

Kept only until ``server/app.py`` and ``server/pages.py`` import from the
:mod:`.reading` package; nothing else uses this module.
"""

from .reading.report import FinalState, summary_document, verdict

__all__ = ["FinalState", "summary_document", "verdict"]
