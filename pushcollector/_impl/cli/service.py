"""``pushcollector serve``, ``db upgrade`` and ``token create``: the
collection service's commands.

Their work is done by ``_impl/server/commands.py``, imported when one of them
runs: it needs the ``server`` extra, which the other commands do not.
"""

from __future__ import annotations

from ..environment import DATABASE_URL, TOKENS_FILE
from .arguments import (
    byte_size,
    host_name,
    port_number,
    positive_int,
    positive_seconds,
)
from .errors import CommandError

_DB_HELP = (
    "the database: postgresql://user:password@host:port/dbname or"
    " sqlite:///path/to.db; default: $%s, else sqlite:///pushcollector.db"
    % DATABASE_URL.name
)


def add_commands(commands):
    serve = commands.add_parser(
        "serve",
        help="run the collection service (needs pushcollector[server])",
        description="Receive the records of pushes from the http backend, and"
        " answer for the runs. Prints the base URL for PUSHCOLLECTOR_HTTP_URL"
        " once listening; stops on SIGTERM or SIGINT after finishing the"
        " requests in flight. Creates the schema in an empty database.",
    )
    serve.add_argument("--db", metavar="URL", help=_DB_HELP)
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=port_number,
        default=8080,
        help="the port, 0 to 65535; 0 for any free one (8080)",
    )
    serve.add_argument(
        "--tokens",
        metavar="FILE",
        help="accept only the tokens of this file (see 'token create');"
        " default: $%s; without tokens, anyone on this host may read and write,"
        " and only loopback addresses are allowed" % TOKENS_FILE.name,
    )
    serve.add_argument(
        "--max-body",
        metavar="BYTES",
        type=byte_size,
        default=64 * 1024 * 1024,
        help="the largest request body accepted, such as 500000, 64M or 1G (64M)",
    )
    serve.add_argument(
        "--body-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=60.0,
        help="the time a request's body may take to arrive, else 408 (60)",
    )
    serve.add_argument(
        "--idle-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=10.0,
        help="the time a connection may wait for a request's headers, whether"
        " new or kept alive after an answer, before it is closed (10)",
    )
    serve.add_argument(
        "--max-connections",
        metavar="N",
        type=positive_int,
        default=1000,
        help="the most connections open at once, per worker process; more are"
        " answered 503 and closed (1000)",
    )
    serve.add_argument(
        "--db-wait",
        metavar="SECONDS",
        type=positive_seconds,
        default=5.0,
        help="the time a request waits for a database connection, from the"
        " pool or a new one to PostgreSQL, else 503 with Retry-After (5)",
    )
    serve.add_argument(
        "--db-statement-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=30.0,
        help="the time a statement may take on PostgreSQL, waiting for locks"
        " included, and a write may wait for SQLite's write lock, else 503 with"
        " Retry-After (30)",
    )
    serve.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        default="warning",
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="worker processes serving requests (1)",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (method, path)"
    )
    serve.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        metavar="NAME",
        type=host_name,
        action="append",
        default=[],
        help="a name requests may give in their Host header, such as the name"
        " of a proxy in front (repeatable); without tokens, or with this option,"
        " other names than the loopback ones and --host are refused (421)",
    )
    serve.set_defaults(handler=_serve, path=None)

    db_parser = commands.add_parser("db", help="manage the service's database")
    db_commands = db_parser.add_subparsers(title="commands", metavar="COMMAND")
    db_commands.required = True
    upgrade = db_commands.add_parser(
        "upgrade",
        help="create or migrate the schema",
        description="Create the schema in an empty database, or migrate it to"
        " this version's. Safe to run from several hosts at once.",
    )
    upgrade.add_argument("--db", metavar="URL", help=_DB_HELP)
    upgrade.set_defaults(handler=_db_upgrade, path=None)

    token_parser = commands.add_parser("token", help="manage the service's tokens")
    token_commands = token_parser.add_subparsers(title="commands", metavar="COMMAND")
    token_commands.required = True
    create = token_commands.add_parser(
        "create",
        help="create a token and print it once",
        description="Create a random token, add its hash to the tokens file"
        " (created readable by its owner only) and print the token, once, on"
        " one line. A write token may read too. Revoke a token by deleting its"
        " line: a running service follows the file, from its next request.",
    )
    create.add_argument("name", metavar="NAME", help="who or what the token is for")
    create.add_argument("--scope", choices=["write", "read"], required=True)
    create.add_argument(
        "--tokens",
        metavar="FILE",
        help="the tokens file; default: $%s, else ./pushcollector.tokens"
        % TOKENS_FILE.name,
    )
    create.set_defaults(handler=_token_create, path=None)


def _server_commands():
    """The service's commands, or a CommandError naming the extra to install."""
    try:
        from ..server import commands
    except ImportError as error:
        raise CommandError(
            "this command needs the server extra: pip install"
            " 'pushcollector[server]' (%s)" % error
        ) from None
    return commands


def _serve(args):
    return _server_commands().serve(
        args.db,
        args.host,
        args.port,
        args.tokens,
        args.max_body,
        args.body_timeout,
        args.log_level,
        args.access_log,
        args.workers,
        args.allowed_hosts,
        args.idle_timeout,
        args.max_connections,
        args.db_wait,
        args.db_statement_timeout,
    )


def _db_upgrade(args):
    return _server_commands().db_upgrade(args.db)


def _token_create(args):
    return _server_commands().token_create(args.name, args.scope, args.tokens)
