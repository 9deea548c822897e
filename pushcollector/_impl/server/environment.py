"""The environment variables of the service and of the ``sql`` backend.

Apart from the rest of the package's server side, so that the command line
can name them in its help without importing SQLAlchemy.
"""

#: The database of ``pushcollector serve``, ``db upgrade`` and the ``sql``
#: backend.
DATABASE_URL_VARIABLE = "PUSHCOLLECTOR_DATABASE_URL"

#: The tokens file of ``pushcollector serve`` and ``token create``.
TOKENS_FILE_VARIABLE = "PUSHCOLLECTOR_TOKENS_FILE"
