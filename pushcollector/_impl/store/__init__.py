"""The database of runs: tables, engine, queries and migrations."""

#: The database of ``pushcollector serve``, ``db upgrade`` and the ``sql``
#: backend. Here, in a module that imports nothing, so that the command line
#: can name it in its help without importing SQLAlchemy.
DATABASE_URL_VARIABLE = "PUSHCOLLECTOR_DATABASE_URL"
