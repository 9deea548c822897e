"""Every environment variable pushcollector reads, declared once.

Each is read when first needed, never at import, by the one module that
uses it. ``docs/configuration.rst`` lists every variable of
:data:`DOCUMENTED` with its default; a test holds the page to this module.
"""

from __future__ import annotations

import os


class Variable:
    """One environment variable: its name, default and meaning.

    Attributes:
        name (str): the variable's name.
        default (str | None): what an unset or empty variable means; None
            where there is no default, or where each command has its own.
        doc (str): what the variable is for, in one line.
    """

    __slots__ = ("name", "default", "doc")

    def __init__(self, name: str, default: str | None, doc: str):
        self.name = name
        self.default = default
        self.doc = doc

    def __repr__(self):
        return "Variable(%r)" % self.name

    def get(self) -> str | None:
        """The variable's value; the default if it is unset or empty."""
        return os.environ.get(self.name) or self.default


BACKEND = Variable(
    "PUSHCOLLECTOR_BACKEND",
    "local",
    "The backend Collector.get() uses when given no name.",
)

ARTIFACTS_DIR = Variable(
    "PUSHCOLLECTOR_ARTIFACTS_DIR",
    "artifacts",
    "Where the local backend makes its run directories, and readers look.",
)

HTTP_URL = Variable(
    "PUSHCOLLECTOR_HTTP_URL",
    None,
    "The base URL of the collection service, for the http backend and upload.",
)

HTTP_TOKEN = Variable(
    "PUSHCOLLECTOR_HTTP_TOKEN",
    None,
    "The Bearer token sent to the collection service.",
)

DATABASE_URL = Variable(
    "PUSHCOLLECTOR_DATABASE_URL",
    None,
    "The database of serve, db upgrade and the sql backend.",
)

TOKENS_FILE = Variable(
    "PUSHCOLLECTOR_TOKENS_FILE",
    None,
    "The tokens file of serve and token create.",
)

#: Set by ``serve`` for the worker processes it starts: their settings, as
#: JSON. Not for users, so not documented.
SERVE_SETTINGS = Variable(
    "PUSHCOLLECTOR_SERVE_SETTINGS",
    None,
    "The settings serve hands its worker processes.",
)

#: The variables users set, in the order the docs list them.
DOCUMENTED = (BACKEND, ARTIFACTS_DIR, HTTP_URL, HTTP_TOKEN, DATABASE_URL, TOKENS_FILE)
