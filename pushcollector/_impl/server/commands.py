"""``pushcollector serve``, ``pushcollector db upgrade`` and ``pushcollector
token create``.

Each returns the command's exit status and raises ``CommandError`` (exit
status 2, one line) for what the user can fix.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys

import sqlalchemy.exc

from ..cli import CommandError
from .app import create_app
from .environment import TOKENS_FILE_VARIABLE
from .store import (
    DEFAULT_DATABASE_URL,
    DatabaseError,
    Store,
    configured_database_url,
)
from .tokens import TokenFileError, Tokens, create_token

#: The tokens file ``token create`` writes when none is named.
DEFAULT_TOKENS_FILE = "pushcollector.tokens"

#: How long ``serve`` lets requests in flight finish once asked to stop.
GRACEFUL_SHUTDOWN_SECONDS = 30


def _store(url):
    try:
        return Store(url or configured_database_url(DEFAULT_DATABASE_URL))
    except ValueError as error:
        raise CommandError(str(error)) from None


def _database_failure(store, error):
    return CommandError(
        "cannot use the database %s: %s"
        % (store.url.render_as_string(hide_password=True), _first_line(error))
    )


def _first_line(error):
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def db_upgrade(db: str | None) -> int:
    """Create or migrate the schema of a database, and say what was done."""
    store = _store(db)
    try:
        before, after = store.upgrade()
    except sqlalchemy.exc.DBAPIError as error:
        raise _database_failure(store, error) from None
    finally:
        store.close()
    where = store.url.render_as_string(hide_password=True)
    if before is None:
        print("Created the schema of %s at revision %s" % (where, after))
    elif before == after:
        print("The schema of %s is up to date (revision %s)" % (where, after))
    else:
        print("Upgraded the schema of %s from %s to %s" % (where, before, after))
    return 0


def token_create(name: str, scope: str, tokens_file: str | None) -> int:
    """Add a token to the tokens file and print it, once, on one line."""
    path = tokens_file or os.environ.get(TOKENS_FILE_VARIABLE) or DEFAULT_TOKENS_FILE
    try:
        token = create_token(path, name, scope)
    except (ValueError, OSError) as error:
        raise CommandError(str(error)) from None
    print(token)
    print(
        "pushcollector: token %r (%s) added to %s; it is not shown again"
        % (name, scope, path),
        file=sys.stderr,
    )
    return 0


def serve(
    db: str | None,
    host: str,
    port: int,
    tokens_file: str | None,
    max_body: int,
    log_level: str = "warning",
    access_log: bool = False,
) -> int:
    """Run the service until SIGTERM or SIGINT, then finish requests in flight."""
    import uvicorn

    tokens_file = tokens_file or os.environ.get(TOKENS_FILE_VARIABLE)
    tokens = None
    if tokens_file:
        try:
            tokens = Tokens.load(tokens_file)
        except (OSError, TokenFileError) as error:
            raise CommandError("cannot use the tokens file: %s" % error) from None
    elif not _is_loopback(host):
        raise CommandError(
            "refusing to listen on %s without --tokens: anyone who can reach it"
            " could write runs; listen on 127.0.0.1, or create tokens with"
            " 'pushcollector token create'" % host
        )
    store = _store(db)
    try:
        store.check_schema(create=True)
    except DatabaseError as error:
        raise CommandError(str(error)) from None
    except sqlalchemy.exc.DBAPIError as error:
        raise _database_failure(store, error) from None
    try:
        listening = _listen(host, port)
    except OSError as error:
        raise CommandError("cannot listen on %s port %d: %s" % (host, port, error))
    config = uvicorn.Config(
        create_app(store, tokens, max_body),
        lifespan="off",
        log_level=log_level,
        access_log=access_log,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    bound_host, bound_port = listening.getsockname()[:2]
    if ":" in bound_host:
        bound_host = "[%s]" % bound_host
    print(
        "pushcollector serve: serving http://%s:%d/api (database %s%s)"
        % (
            bound_host,
            bound_port,
            store.url.render_as_string(hide_password=True),
            ", %d tokens" % len(tokens) if tokens is not None else ", no tokens",
        ),
        flush=True,
    )
    try:
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        listening.close()
        store.close()
    return 0


def _is_loopback(host):
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(address).is_loopback for address in addresses)


def _listen(host, port):
    family = socket.AF_INET
    try:
        if ipaddress.ip_address(host).version == 6:
            family = socket.AF_INET6
    except ValueError:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=2048)
