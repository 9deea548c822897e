"""A real PostgreSQL server for the tests, started and stopped by the tests.

PostgresServer runs Debian's PostgreSQL binaries (or those in PG_BINDIR)
on a fresh data directory in a temporary directory of its own, listening on
127.0.0.1 only, on a free port, with password authentication. Durability
settings stay on: tests kill servers and expect committed data back.

initdb refuses to run as root; as root, every server command runs as the
``postgres`` user through runuser, and the temporary directory belongs to
that user (pytest's tmp_path would not do: only root may enter it).

A server does not outlive the process that started it: stop() is called at
exit, and a watchdog process stops the server if this process dies without
stopping it (killed with SIGKILL, say).

Run as a script, this module is that watchdog.
"""

import atexit
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

DEBIAN_ROOT = Path("/usr/lib/postgresql")
BINARIES = ("initdb", "pg_ctl", "postgres")

# The operating system user that runs the server when we are root.
SERVER_OS_USER = "postgres"

# The database superuser; its password is made up for each server.
SUPERUSER = "pushcollector"

# How long one server command (pg_ctl start -w, say) may take: a bound, so
# that a broken server fails the tests rather than hangs them.
COMMAND_TIMEOUT = 60

PORT_ATTEMPTS = 5

LOG_TAIL_LINES = 30

# The watchdog is told this when the server was stopped as it should be.
STOPPED = "stopped\n"


class PostgresServerError(RuntimeError):
    """A PostgreSQL server could not be started, restarted or stopped."""


def find_bindir():
    """The directory of the PostgreSQL server binaries.

    PG_BINDIR if set, else the newest of Debian's
    /usr/lib/postgresql/<version>/bin that has initdb, else None.
    """
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    versions = [
        initdb.parent.parent.name
        for initdb in DEBIAN_ROOT.glob("*/bin/initdb")
        if re.fullmatch(r"\d+(\.\d+)*", initdb.parent.parent.name)
    ]
    if not versions:
        return None
    newest = max(versions, key=lambda version: tuple(map(int, version.split("."))))
    return DEBIAN_ROOT / newest / "bin"


def unavailable_reason():
    """Why a PostgresServer cannot run here, or None if it can."""
    bindir = find_bindir()
    if bindir is None:
        return (
            "no PostgreSQL server binaries: PG_BINDIR is not set and there is "
            "no %s/<version>/bin/initdb" % DEBIAN_ROOT
        )
    missing = [name for name in BINARIES if not os.access(bindir / name, os.X_OK)]
    if missing:
        return "%s has no executable %s" % (bindir, ", ".join(missing))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_OS_USER)
        except KeyError:
            return "running as root (which initdb refuses) and there is no %r user" % (
                SERVER_OS_USER
            )
        if shutil.which("runuser") is None:
            return "running as root (which initdb refuses) and there is no runuser"
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        return "psycopg cannot be imported: %s" % error
    return None


def free_port():
    """A TCP port on 127.0.0.1 that nothing was bound to a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server of its own, in a temporary directory.

    start() it, then connect to ``url`` (or to a database from
    create_database()) as the superuser; stop() it when done.

    Attributes:
        bindir: the directory of initdb, pg_ctl and postgres.
        settings: extra postgresql.conf settings, name -> value.
        user, password: the superuser's.
        port: the TCP port on 127.0.0.1 it listens on, once started.
        directory: its temporary directory (data directory, unix sockets,
            server log) while started, else None.
    """

    def __init__(self, bindir=None, settings=None):
        self.bindir = Path(bindir) if bindir is not None else find_bindir()
        self.settings = dict(settings or {})
        self.user = SUPERUSER
        self.password = secrets.token_urlsafe(18)
        self.port = None
        self.directory = None
        self._owner_pid = None
        self._watchdog = None

    @property
    def data_directory(self):
        return self.directory / "data"

    @property
    def log_file(self):
        return self.directory / "server.log"

    @property
    def url(self):
        """postgresql://USER:PASSWORD@127.0.0.1:PORT/postgres"""
        return self.database_url("postgres")

    def database_url(self, name):
        """The URL of database ``name`` on this server, as users write it."""
        if self.port is None:
            raise PostgresServerError("the server is not started")
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (
            urllib.parse.quote(self.user, safe=""),
            urllib.parse.quote(self.password, safe=""),
            self.port,
            urllib.parse.quote(name, safe=""),
        )

    def start(self):
        """Create a fresh cluster and start the server; returns self.

        Returns once the server accepts connections. Raises
        PostgresServerError, with the commands' output and the server log,
        if it cannot; whatever was started is then stopped and removed.
        """
        if self.directory is not None:
            raise PostgresServerError("the server is already started")
        self.directory = Path(tempfile.mkdtemp(prefix="pushcollector-pg-"))
        self._owner_pid = os.getpid()
        atexit.register(self._stop_at_exit)
        try:
            self._give_to_server(self.directory)
            self._start_watchdog()
            self._initdb()
            self._start_on_a_free_port()
        except BaseException:
            self.stop()
            raise
        return self

    def restart_fast(self):
        """Restart the server after a fast shutdown, on the same port.

        Every client is disconnected; committed data stays.
        """
        self._run(
            "pg_ctl",
            "restart",
            "-m",
            "fast",
            "-w",
            "-t",
            COMMAND_TIMEOUT,
            "-D",
            self.data_directory,
            "-l",
            self.log_file,
        )

    def create_database(self, name=None):
        """Create an empty database (named at random if not named); returns
        its URL."""
        from psycopg import sql

        name = name or "test_" + secrets.token_hex(8)
        with self._connect() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            )
        return self.database_url(name)

    def drop_database(self, name_or_url):
        """Drop a database, given its name or URL, even while clients are
        connected to it (they are disconnected)."""
        from psycopg import sql

        name = name_or_url
        if "://" in name_or_url:
            name = urllib.parse.unquote(urllib.parse.urlsplit(name_or_url).path[1:])
        with self._connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self):
        """Stop the server, if it runs, and remove its directory.

        Safe at any point: after a start that failed half-way, or again.
        """
        atexit.unregister(self._stop_at_exit)
        if self.directory is None:
            return
        problems = []
        try:
            if (self.data_directory / "postmaster.pid").exists():
                problems = self._shut_down()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
            self.port = None
            self._dismiss_watchdog()
        if problems:
            raise PostgresServerError("\n\n".join(problems))

    def _stop_at_exit(self):
        # Not in a forked child that exits: the server is its parent's.
        if os.getpid() == self._owner_pid:
            self.stop()

    def _shut_down(self):
        """Stop the server, fast or else immediately; returns what went wrong."""
        problems = []
        for mode in ("fast", "immediate"):
            result = self._run(
                "pg_ctl",
                "stop",
                "-m",
                mode,
                "-w",
                "-t",
                COMMAND_TIMEOUT,
                "-D",
                self.data_directory,
                check=False,
            )
            if result.returncode == 0:
                return []
            problems.append(self._failed(result))
        return problems

    def _connect(self):
        import psycopg

        return psycopg.connect(
            self.url, autocommit=True, connect_timeout=COMMAND_TIMEOUT
        )

    def _initdb(self):
        password_file = self.directory / "password"
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "w") as stream:
            stream.write(self.password + "\n")
        self._give_to_server(password_file)
        try:
            self._run(
                "initdb",
                "-D",
                self.data_directory,
                "-U",
                self.user,
                "--pwfile",
                password_file,
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-locale",
            )
        finally:
            password_file.unlink()
        with open(self.data_directory / "postgresql.conf", "a") as conf:
            conf.write("\ninclude 'pushcollector.conf'\n")

    def _start_on_a_free_port(self):
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            self._write_settings()
            log_size = self.log_file.stat().st_size if self.log_file.exists() else 0
            result = self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                COMMAND_TIMEOUT,
                "-D",
                self.data_directory,
                "-l",
                self.log_file,
                check=False,
            )
            if result.returncode == 0:
                return
            with open(self.log_file, errors="replace") as log:
                log.seek(log_size)
                port_taken = "Address already in use" in log.read()
            if not port_taken:
                raise PostgresServerError(self._failed(result))
        raise PostgresServerError(
            "%d ports in a row were taken before the server could listen on "
            "them\n\n%s" % (PORT_ATTEMPTS, self._failed(result))
        )

    def _write_settings(self):
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.directory,
            "shared_buffers": "16MB",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            **self.settings,
        }
        path = self.data_directory / "pushcollector.conf"
        with open(path, "w") as conf:
            for name, value in settings.items():
                conf.write("%s = '%s'\n" % (name, str(value).replace("'", "''")))
        self._give_to_server(path)

    def _give_to_server(self, path):
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_OS_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, program, *arguments, check=True):
        """Run one of the server binaries, as the server's user; returns the
        CompletedProcess or, if check and it failed, raises."""
        command = [str(self.bindir / program), *map(str, arguments)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_OS_USER, "--", *command]
        try:
            result = subprocess.run(
                command,
                cwd=self.directory,
                env=_server_environment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=2 * COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired as timeout:
            raise PostgresServerError(
                self._failure(
                    command,
                    "timed out after %d s" % timeout.timeout,
                    _text(timeout.stdout) + _text(timeout.stderr),
                )
            ) from None
        if check and result.returncode != 0:
            raise PostgresServerError(self._failed(result))
        return result

    def _failed(self, result):
        return self._failure(
            result.args,
            "exit status %d" % result.returncode,
            result.stdout + result.stderr,
        )

    def _failure(self, command, status, output):
        """A description of a failed command, with the end of the server log."""
        return "%s failed (%s)\n--- its output:\n%s\n--- %s" % (
            " ".join(command),
            status,
            output.rstrip("\n"),
            self._log_tail(),
        )

    def _log_tail(self):
        try:
            with open(self.log_file, errors="replace") as log:
                lines = log.read().splitlines()
        except OSError as error:
            return "no server log: %s" % error
        return "the server log ends with:\n" + "\n".join(lines[-LOG_TAIL_LINES:])

    def _start_watchdog(self):
        """Start the process that stops the server should this one die first.

        It waits for a line on its standard input: STOPPED, written by
        _dismiss_watchdog(), or the end of the input that the death of this
        process brings. It runs in a session of its own, so that a ^C or a
        hangup that ends this process does not end it too.
        """
        self._watchdog = subprocess.Popen(
            [sys.executable, __file__, str(self.bindir), str(self.directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )

    def _dismiss_watchdog(self):
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None:
            return
        try:
            watchdog.stdin.write(STOPPED)
            watchdog.stdin.close()
        except BrokenPipeError:
            pass
        watchdog.wait(timeout=COMMAND_TIMEOUT)


def _server_environment():
    # Libpq's PGHOST, PGPORT, PGDATA and the like would steer pg_ctl; the C
    # locale makes its messages (and the server's) the ones we look for.
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("PG")
    }
    environment["LC_ALL"] = "C"
    return environment


def _text(output):
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _watch(bindir, directory):
    """Stop the server in ``directory`` unless told it was stopped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.stdin.readline() == STOPPED:
        return
    server = PostgresServer(bindir)
    server.directory = Path(directory)
    server.stop()


if __name__ == "__main__":
    _watch(*sys.argv[1:])
