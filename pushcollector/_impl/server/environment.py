"""The environment variable of the service.

Apart from the rest of the package's server side, so that the command line
can name it in its help without importing the server's dependencies.
"""

#: The tokens file of ``pushcollector serve`` and ``token create``.
TOKENS_FILE_VARIABLE = "PUSHCOLLECTOR_TOKENS_FILE"
