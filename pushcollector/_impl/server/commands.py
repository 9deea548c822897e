"""``pushcollector serve``, ``pushcollector db upgrade`` and ``pushcollector
token create``.

Each returns the command's exit status and raises ``CommandError`` (exit
status 2, one line) for what the user can fix.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import resource
import signal
import socket
import sys
from collections.abc import Sequence

import sqlalchemy.exc
import uvicorn
from uvicorn.supervisors import Multiprocess

from ..cli.errors import CommandError
from ..store import (
    DEFAULT_DATABASE_URL,
    DatabaseError,
    Limits,
    Store,
    configured_database_url,
    error_summary,
)
from ..environment import SERVE_SETTINGS, TOKENS_FILE
from .app import create_app
from .checks import LOOPBACK_NAMES, host_name
from .connections import BoundedH11Protocol
from .tokens import TokenFileError, Tokens, create_token

#: The tokens file ``token create`` writes when none is named.
DEFAULT_TOKENS_FILE = "pushcollector.tokens"

#: How long a request of ``serve`` waits for a database connection, and for
#: SQLite's write lock, by default, in seconds: well within the 60 s the
#: clients of the service wait for an answer.
DEFAULT_DB_WAIT = 5.0

#: How long a statement of ``serve`` may take on PostgreSQL by default.
DEFAULT_DB_STATEMENT_TIMEOUT = 30.0

#: How long ``serve`` lets requests in flight finish once asked to stop.
GRACEFUL_SHUTDOWN_SECONDS = 30

#: How long a connection may wait for a request's headers by default, in
#: seconds, whether just made or kept alive after an answer.
DEFAULT_IDLE_TIMEOUT = 10.0

#: The most connections a service (each worker process) keeps open by
#: default.
DEFAULT_MAX_CONNECTIONS = 1000

# The files a service may hold open besides its connections: database
# connections (30 at most on PostgreSQL), logs, its modules.
_FILES_BESIDES_CONNECTIONS = 128


def _store(url, limits=Limits()):
    try:
        return Store(url or configured_database_url(DEFAULT_DATABASE_URL), limits)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _database_failure(store, error):
    return CommandError(
        "cannot use the database %s: %s"
        % (store.url.render_as_string(hide_password=True), error_summary(error))
    )


def db_upgrade(db: str | None) -> int:
    """Create or migrate the schema of a database, and say what was done."""
    store = _store(db)
    try:
        before, after = store.upgrade()
    except DatabaseError as error:
        raise CommandError(str(error)) from None
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
    path = tokens_file or TOKENS_FILE.get() or DEFAULT_TOKENS_FILE
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
    body_timeout: float,
    log_level: str = "warning",
    access_log: bool = False,
    workers: int = 1,
    allowed_hosts: Sequence[str] = (),
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    db_wait: float = DEFAULT_DB_WAIT,
    db_statement_timeout: float = DEFAULT_DB_STATEMENT_TIMEOUT,
) -> int:
    """Run the service until SIGTERM or SIGINT, then finish requests in flight.

    Without tokens, or with ``allowed_hosts``, requests must name the
    service in their ``Host``: by a loopback name, the address it listens
    on, or one of ``allowed_hosts``. A connection waits for a request's
    headers at most ``idle_timeout`` seconds; at most ``max_connections``
    are open at once (in each worker process). A request waits for the
    database at most ``db_wait`` seconds for a connection and
    ``db_statement_timeout`` for a statement, then is answered 503.
    """
    tokens_file = tokens_file or TOKENS_FILE.get()
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
    _allow_open_files(max_connections + _FILES_BESIDES_CONNECTIONS)
    store = _store(db, Limits(db_wait, db_statement_timeout))
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
    bound_host, bound_port = listening.getsockname()[:2]
    if ":" in bound_host:
        bound_host = "[%s]" % bound_host
    hosts = None
    if tokens is None or allowed_hosts:
        # A browser on this machine may be sent here by any page, under the
        # name of that page's site: a service anyone here may write to
        # answers only for its own names.
        hosts = {host_name(name) for name in allowed_hosts}
        hosts.update(LOOPBACK_NAMES)
        hosts.update({host_name(_bracketed(host)), bound_host})
    options = dict(
        lifespan="off",
        log_config=_log_config(log_level, access_log),
        log_level=None,
        access_log=access_log,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=idle_timeout,
        http=functools.partial(BoundedH11Protocol, max_connections=max_connections),
    )
    if workers > 1:
        os.environ[SERVE_SETTINGS.name] = json.dumps(
            {
                "db": store.url.render_as_string(hide_password=False),
                "tokens": tokens_file,
                "max_body": max_body,
                "body_timeout": body_timeout,
                "hosts": sorted(hosts) if hosts is not None else None,
                "limits": store.limits,
            }
        )
        config = uvicorn.Config(
            "pushcollector._impl.server.app:app_from_environment",
            factory=True,
            workers=workers,
            **options,
        )
    else:
        config = uvicorn.Config(
            create_app(store, tokens, max_body, body_timeout, hosts), **options
        )
    root = "http://%s:%d" % (bound_host, bound_port)
    banner = "pushcollector serve: serving %s/api (database %s%s); web view %s/" % (
        root,
        store.url.render_as_string(hide_password=True),
        ", %d tokens" % len(tokens) if tokens is not None else ", no tokens",
        root,
    )
    # uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal
    # again for the handler that was there before it: this one, so that a
    # stop that was asked for ends with status 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stop_requested)
    # The banner is printed once the server's own handlers are in place: a
    # stop asked for as soon as it is read is a graceful stop too.
    try:
        if workers > 1:
            # The supervisor takes the signals from its making on.
            supervisor = Multiprocess(config, sockets=[listening])
            _announce(banner)
            supervisor.run()
        else:
            _AnnouncingServer(config, banner).run(sockets=[listening])
    except _StopRequested:
        pass
    finally:
        listening.close()
        store.close()
    return 0


def _announce(banner):
    print(banner, flush=True)


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, printing the banner once it listens, with its
    handlers of SIGTERM and SIGINT in place (it installs them before it
    starts)."""

    def __init__(self, config, banner):
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.started:
            _announce(self.banner)


class _StopRequested(Exception):
    """SIGTERM or SIGINT, once the server has stopped."""


def _stop_requested(signum, frame):
    raise _StopRequested()


def _log_config(log_level, access_log):
    """uvicorn's logging, at the level asked, with the access log at INFO
    when asked for, and the service's own messages beside uvicorn's."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    level = log_level.upper()
    config["loggers"]["uvicorn"]["level"] = level
    config["loggers"]["uvicorn.error"]["level"] = level
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else level
    config["loggers"]["pushcollector"] = {
        "handlers": ["default"],
        "level": level,
        "propagate": False,
    }
    return config


def _allow_open_files(count):
    """Raise the limit of open files to ``count`` if it is lower: a service
    over it fails to accept connections, and asyncio logs each failure."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return
    if hard != resource.RLIM_INFINITY and hard < count:
        raise CommandError(
            "--max-connections %d needs %d open files, more than this process"
            " may open (%d, see ulimit -Hn): lower --max-connections"
            % (count - _FILES_BESIDES_CONNECTIONS, count, hard)
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def _bracketed(host):
    """An address as a Host header gives it: an IPv6 one in brackets."""
    return "[%s]" % host if ":" in host and not host.startswith("[") else host


def _is_loopback(host):
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(address).is_loopback for address in addresses)


def _listen(host, port):
    info = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    family, _, proto, _, address = info
    # Made with its protocol named: asyncio turns Nagle's algorithm off only on
    # connections of a socket whose protocol is TCP, and with it on, each answer
    # on a kept-alive connection waited 40 ms for the client's delayed ACK.
    listening = socket.socket(family, socket.SOCK_STREAM, proto)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listening.bind(address)
        listening.listen(2048)
    except OSError:
        listening.close()
        raise
    return listening
