"""Reading runs back: one :class:`~.run.Run` API and one run report,
whatever holds the run.

* :mod:`.run`: a run and how it is read (records, files, summary, report);
  a run of the ``local`` backend is a :class:`~.run.Run` itself.
* :mod:`.report`: its outcome: final states, the verdict, the run report
  and its ``summary --json`` document.
* :mod:`.local`: finding local runs in directories.
* :mod:`.remote`: runs held by a collection service, read over HTTP.
* :mod:`.dispatch`: :func:`~.dispatch.open_run` and
  :func:`~.dispatch.list_runs`, above both readers, which never import it.
"""
