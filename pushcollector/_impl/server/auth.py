"""Who may do what: a request's token, turned into scopes once.

The service's tokens (see :mod:`.tokens`) come in the ``Authorization``
header, as ``Bearer TOKEN`` or as the password of HTTP Basic (any user
name), which is what browsers ask for. Each surface installs Starlette's
``AuthenticationMiddleware`` with a :class:`TokenBackend` naming the
schemes it takes: the API takes Bearer only, the pages Basic or Bearer.
The backend gives every request its scopes (:data:`READ`, and
:data:`WRITE` for a write token) and a user: authenticated for a known
token, an :class:`UnknownTokenUser` for another, unauthenticated for none;
an endpoint declares the scope it needs with :func:`requires`, and a
request without it raises :class:`NotPermitted`, which each surface answers
with its own challenge.

A service without tokens grants every scope to every request.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Collection

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)
from starlette.requests import HTTPConnection

from .tokens import Tokens, TokensUnavailable

#: The scopes of a request: reading runs, and writing them.
READ = "read"
WRITE = "write"

#: The schemes of the ``Authorization`` header a token may come in.
BEARER = "bearer"
BASIC = "basic"

# What the scope of a token (tokens.SCOPES) grants: a write token reads too.
_GRANTED = {"read": (READ,), "write": (READ, WRITE)}

# The user of a request with a token the service knows, and of every request
# to a service without tokens: the surfaces ask whether a caller is
# authenticated, never who it is.
_AUTHENTICATED = SimpleUser("")


class TokensNotAnswering(AuthenticationError):
    """The tokens file did not answer in time: ``AuthenticationMiddleware``
    gives it to its ``on_error``, which each surface answers with a 503."""


class UnknownTokenUser(UnauthenticatedUser):
    """A caller who presented a token the service does not know (a caller
    who presented none is Starlette's ``UnauthenticatedUser``)."""


class TokenBackend(AuthenticationBackend):
    """The scopes of a request, from the token of its ``Authorization``
    header.

    Args:
        tokens: the tokens accepted; None to grant every scope to every
            request.
        schemes: the schemes taken (:data:`BEARER`, :data:`BASIC`); a token
            in any other counts as none.
    """

    def __init__(self, tokens: Tokens | None, schemes: Collection[str]):
        self.tokens = tokens
        self.schemes = schemes

    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, BaseUser] | None:
        if self.tokens is None:
            return AuthCredentials(_GRANTED["write"]), _AUTHENTICATED
        token = _presented_token(conn.headers.get("authorization", ""), self.schemes)
        if not token:
            return None
        try:
            scope = await self.tokens.checked_scope_of(token)
        except TokensUnavailable as error:
            raise TokensNotAnswering(str(error)) from None
        if scope is None:
            return AuthCredentials(), UnknownTokenUser()
        return AuthCredentials(_GRANTED[scope]), _AUTHENTICATED


def _presented_token(header: str, schemes: Collection[str]) -> str:
    """The token of an ``Authorization`` header in one of ``schemes``; ""
    for none (no header, another scheme, Basic that does not decode)."""
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in schemes:
        return ""
    if scheme == BEARER:
        return credentials.strip()
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
        return decoded.decode("utf-8").partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return ""


class NotPermitted(Exception):
    """A request not granted the scope its endpoint requires.

    Attributes:
        scope: the scope required.
    """

    def __init__(self, scope: str):
        super().__init__(scope)
        self.scope = scope


def requires(scope: str) -> Callable[[Callable], Callable]:
    """Decorate an endpoint (a function or method whose last argument is
    the request) to run only for requests granted ``scope``; others raise
    :class:`NotPermitted`, before the endpoint looks at anything."""

    def decorate(endpoint):
        @functools.wraps(endpoint)
        async def guarded(*args):
            request = args[-1]
            if scope not in request.auth.scopes:
                raise NotPermitted(scope)
            return await endpoint(*args)

        return guarded

    return decorate
