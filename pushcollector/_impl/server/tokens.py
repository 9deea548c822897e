"""Bearer tokens of the service: a file of names, scopes and hashes.

Each line of the file is ``NAME SCOPE sha256:HEX``; ``#`` starts a comment
line. The file never holds a token, only the SHA-256 of it: a token is 32
random bytes, so a plain hash is as strong as any slower one, and checking
it costs nothing per request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading

LOG = logging.getLogger("pushcollector.serve")

#: The scopes a token may have. A write token may read too.
SCOPES = ("read", "write")

TOKEN_PREFIX = "pct_"

#: How long a request waits for the tokens file to be checked, in seconds.
CHECK_TIMEOUT = 5.0

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")
_HASH = re.compile(r"sha256:[0-9a-f]{64}\Z")


class TokenFileError(ValueError):
    """A tokens file that cannot be used: names the file, line and problem."""


class TokensUnavailable(Exception):
    """The tokens file did not answer within :data:`CHECK_TIMEOUT`."""


def _digest(token: str) -> str:
    return (
        "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    )


class Tokens:
    """The tokens a service accepts, read from a tokens file.

    Loaded from a file, they follow it: each :meth:`scope_of` first checks
    whether the file changed (one ``stat``), and reads it again if so, so
    that a token added or a line removed counts from the next request. A
    file that can no longer be read, or holds a line that is not an entry,
    accepts no token at all until it is fixed: revoking must never fail
    open.

    Args:
        entries: ``(name, scope, digest)`` of each token.
        path: the file they were read from, followed if given.
    """

    def __init__(self, entries: list[tuple[str, str, str]], path: str | None = None):
        self._path = path
        self._entries = _encoded(entries)
        # The file's signature when the entries were read; None for none.
        self._signature = None
        # The checks of the file for checked_scope_of(): the one asked for
        # and not begun (a Future), and whether one is running.
        self._lock = threading.Lock()
        self._queued = None
        self._running = False
        self._hang_logged = False

    @classmethod
    def load(cls, path: str) -> Tokens:
        """Read a tokens file, and follow it.

        Raises:
            OSError: if it cannot be read.
            TokenFileError: naming the line that is not a token entry.
        """
        # Taken before reading: a change made meanwhile is read at next use.
        signature = _signature(path)
        tokens = cls(_read_entries(path), path)
        tokens._signature = signature
        return tokens

    def __len__(self):
        self._follow_file()
        return len(self._entries)

    def _follow_file(self):
        if self._path is None:
            return
        try:
            signature = _signature(self._path)
            if signature == self._signature:
                return
            entries = _read_entries(self._path)
        except (OSError, TokenFileError) as error:
            if self._signature is not None:
                LOG.error("%s; no token is accepted until it is fixed", error)
            self._entries = []
            self._signature = None
            return
        LOG.info("%s changed: %d tokens", self._path, len(entries))
        self._entries = _encoded(entries)
        self._signature = signature

    def scope_of(self, token: str) -> str | None:
        """The scope of a token, or None if it is not one of these.

        Every entry is compared, in constant time, whatever matches.
        """
        self._follow_file()
        return self._scope_in_entries(token)

    async def checked_scope_of(self, token: str) -> str | None:
        """:meth:`scope_of` for the event loop: the file is checked in a
        thread, never in the loop, and the check waited for at most
        :data:`CHECK_TIMEOUT` seconds.

        The check waited for begins after the call, so that a change of the
        file counts from the next request, as with :meth:`scope_of`. One
        check runs at a time, for every request waiting: a file that hangs
        (a network filesystem that stopped answering) holds one thread, and
        requests meanwhile get :class:`TokensUnavailable`, never the tokens
        of before.

        Raises:
            TokensUnavailable: if the check did not end in time.
        """
        if self._path is not None:
            check = asyncio.wrap_future(self._check_after_now())
            try:
                await asyncio.wait_for(asyncio.shield(check), CHECK_TIMEOUT)
            except asyncio.TimeoutError:
                if not self._hang_logged:
                    LOG.error(
                        "%s did not answer within %g s: no token is accepted"
                        " until it does",
                        self._path,
                        CHECK_TIMEOUT,
                    )
                    self._hang_logged = True
                raise TokensUnavailable(
                    "the tokens file did not answer within %g s, try again"
                    % CHECK_TIMEOUT
                ) from None
        return self._scope_in_entries(token)

    def _check_after_now(self):
        """A check of the file that begins after now: the one queued, or a
        new one."""
        with self._lock:
            check = self._queued
            if check is None:
                check = self._queued = concurrent.futures.Future()
                if not self._running:
                    self._start_check()
            return check

    def _start_check(self):
        # With the lock held.
        check, self._queued = self._queued, None
        self._running = True
        threading.Thread(
            target=self._check, args=(check,), name="pushcollector-tokens", daemon=True
        ).start()

    def _check(self, check):
        try:
            self._follow_file()
        finally:
            self._hang_logged = False
            check.set_result(None)
            with self._lock:
                self._running = False
                if self._queued is not None:
                    self._start_check()

    def _scope_in_entries(self, token):
        digest = _digest(token).encode("ascii")
        found = None
        for _, scope, known in self._entries:
            if hmac.compare_digest(digest, known):
                found = scope
        return found


def _encoded(entries):
    return [(name, scope, digest.encode("ascii")) for name, scope, digest in entries]


def _signature(path):
    """What changes when a file is written or replaced."""
    status = os.stat(path)
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _read_entries(path):
    entries = []
    with open(path, encoding="utf-8", errors="replace") as stream:
        for number, line in enumerate(stream, 1):
            entry = _parse_line(line)
            if entry is None:
                continue
            if isinstance(entry, str):
                raise TokenFileError("%s:%d: %s" % (path, number, entry))
            entries.append(entry)
    return entries


def _parse_line(line):
    """An entry, None for a blank or comment line, or a problem (a str)."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split()
    if len(fields) != 3:
        return "expected 'NAME SCOPE sha256:HEX'"
    name, scope, digest = fields
    if not _NAME.match(name):
        return "invalid token name %r" % name
    if scope not in SCOPES:
        return "invalid scope %r: expected read or write" % scope
    if not _HASH.match(digest):
        return "invalid hash: expected sha256: and 64 hex digits"
    return name, scope, digest


def create_token(path: str, name: str, scope: str) -> str:
    """Add a new token to a tokens file, creating it, and return the token.

    The file is created readable by its owner only. Only the token's hash
    is written.

    Raises:
        ValueError: for an invalid name or scope, or a name already in use.
        TokenFileError: if the file holds a line that is not an entry.
    """
    if not _NAME.match(name):
        raise ValueError(
            "invalid token name %r: 1 to 64 letters, digits and ._@+-, starting"
            " with a letter or digit" % name
        )
    if scope not in SCOPES:
        raise ValueError("invalid scope %r: expected read or write" % scope)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    with open(fd, "r+", encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            entry = _parse_line(line)
            if isinstance(entry, str):
                raise TokenFileError("%s:%d: %s" % (path, number, entry))
            if entry is not None and entry[0] == name:
                raise ValueError(
                    "a token named %r exists in %s: remove its line to revoke"
                    " it first" % (name, path)
                )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        stream.write("%s %s %s\n" % (name, scope, _digest(token)))
    return token
