"""Reading runs back: one :class:`Run` API whatever holds the run.

:mod:`.remote` reads runs held by a collection service.
"""
