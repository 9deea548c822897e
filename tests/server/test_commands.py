"""``pushcollector serve``, ``db upgrade`` and ``token create`` as users run them."""

import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys

import pytest
import requests

from pushcollector._impl import cli
from pushcollector._impl.cli import arguments
from pushcollector._impl.environment import SERVE_SETTINGS
from pushcollector._impl.server.app import app_from_environment
from pushcollector._impl.store import Store
from pushcollector._impl.store.queries import _migrations

from .service import ServiceProcess

# The revision this version's migrations end at.
HEAD = _migrations().get_current_head()


def pushcollector(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "pushcollector", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, **(env or {})),
        cwd=cwd,
        timeout=120,
    )


# -- serve --------------------------------------------------------------------


def test_serve_uses_pushcollector_db_in_the_working_directory(tmp_path):
    env = dict(os.environ)
    env.pop("PUSHCOLLECTOR_DATABASE_URL", None)
    with ServiceProcess(None, cwd=tmp_path, environ=env) as running:
        assert running.get("/runs").status_code == 200

    assert "(database sqlite:///pushcollector.db, no tokens)" in running.banner
    assert (tmp_path / "pushcollector.db").is_file()


def test_serve_takes_the_database_from_the_environment(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "env.db")
    with ServiceProcess(None, env={"PUSHCOLLECTOR_DATABASE_URL": url}) as running:
        assert running.get("/runs").status_code == 200

    assert "(database %s, no tokens)" % url in running.banner


def test_serve_prints_its_base_url_and_stops_on_sigint(tmp_path):
    running = ServiceProcess("sqlite:///%s" % (tmp_path / "s.db")).start()
    try:
        assert running.url == "http://127.0.0.1:%d/api" % running.port
        assert running.banner.endswith(
            "; web view http://127.0.0.1:%d/\n" % running.port
        )
        assert running.get("/runs").json() == {"runs": [], "total": 0, "next": None}
        stopped = running.stop(signal.SIGINT)
    finally:
        # A failed check must not leave the service running.
        running.kill()

    assert stopped == 0
    assert "Traceback" not in running.output


@pytest.mark.parametrize("workers, times", [("1", 20), ("2", 5)])
def test_a_stop_as_soon_as_the_banner_is_read_is_a_clean_stop(tmp_path, workers, times):
    statuses = []
    for number in range(times):
        process = subprocess.Popen(
            [sys.executable, "-m", "pushcollector", "serve", "--port", "0"]
            + ["--db", "sqlite:///%s" % (tmp_path / "stop.db"), "--workers", workers],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        assert "serving" in line, line + output
        statuses.append(process.returncode)

    assert statuses == [0] * times


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--host", "0.0.0.0"],
            "refusing to listen on 0.0.0.0 without --tokens",
        ),
        (["--tokens", "missing.tokens"], "cannot use the tokens file: "),
        (["--db", "mysql://u:s3cret@h/x"], "unsupported database 'mysql'"),
        (
            ["--db", "postgresql://u:s3cret@127.0.0.1:1/x"],
            "cannot use the database postgresql+psycopg://u:***@127.0.0.1:1/x: ",
        ),
    ],
)
def test_serve_refuses_what_it_cannot_serve_safely(tmp_path, args, message):
    done = pushcollector("serve", "--port", "0", *args, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("pushcollector: error: " + message)
    assert len(done.stderr.splitlines()) == 1
    assert "s3cret" not in done.stderr


def test_serve_refuses_a_database_of_a_newer_schema(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "old.db")
    store = Store(url)
    store.check_schema(create=True)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'zz'")

    done = pushcollector("serve", "--port", "0", "--db", url)

    assert done.returncode == 2
    assert "(revision zz) is newer than this version" in done.stderr


@pytest.mark.parametrize(
    "option, message",
    [
        (["--port", "70000"], "invalid port '70000': 0 (any free one) to 65535"),
        (["--port", "65536"], "invalid port '65536'"),
        (["--workers", "0"], "invalid number '0': 1 or more"),
        (["--workers", "-3"], "invalid number '-3': 1 or more"),
        (["--max-connections", "0"], "invalid number '0': 1 or more"),
        (["--idle-timeout", "0"], "invalid time '0': a positive number of seconds"),
        (["--allowed-host", "x.example:80"], "invalid host name 'x.example:80': "),
        (["--allowed-host", ""], "invalid host name '': "),
        (["--allowed-host", "a b"], "invalid host name 'a b': "),
    ],
)
def test_serve_refuses_a_port_or_workers_out_of_range(tmp_path, option, message):
    done = pushcollector("serve", *option, "--db", "sqlite:///%s" % (tmp_path / "x"))

    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "x").exists()


def limited_to(soft, hard):
    """A preexec_fn: a child that may open so many files."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_serve_raises_its_limit_of_open_files_to_what_it_may_use(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "pushcollector", "serve", "--port", "0"]
        + ["--db", "sqlite:///%s" % (tmp_path / "x.db"), "--max-connections", "300"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=limited_to(256, 4096),
    )
    try:
        assert "serving" in process.stdout.readline()
        with open("/proc/%d/limits" % process.pid) as limits:
            (line,) = [line for line in limits if line.startswith("Max open files")]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)

    # 300 connections, and 128 files for the rest.
    assert line.split()[3:5] == ["428", "4096"]
    assert process.returncode == 0


def test_serve_refuses_more_connections_than_it_may_open_files(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pushcollector", "serve", "--port", "0"]
        + ["--db", "sqlite:///%s" % (tmp_path / "x.db")],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limited_to(256, 512),
        timeout=120,
    )

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: --max-connections 1000 needs 1128 open files, more"
        " than this process may open (512, see ulimit -Hn): lower"
        " --max-connections\n"
    )
    assert not (tmp_path / "x.db").exists()


def test_serve_refuses_a_port_in_use(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = pushcollector(
            "serve", "--port", str(port), "--db", "sqlite:///%s" % (tmp_path / "x.db")
        )

    assert done.returncode == 2
    assert "cannot listen on 127.0.0.1 port %d: " % port in done.stderr


def test_serve_listens_on_ipv6_loopback(tmp_path):
    running = ServiceProcess(
        "sqlite:///%s" % (tmp_path / "v6.db"), "--host", "::1"
    ).start()
    try:
        assert running.url.startswith("http://[::1]:")
        assert running.get("/runs").status_code == 200
    finally:
        running.stop()


def test_serve_refuses_names_that_do_not_resolve():
    done = pushcollector("serve", "--host", "no-such-host.invalid")

    assert done.returncode == 2
    assert "refusing to listen on no-such-host.invalid" in done.stderr


def test_a_worker_process_makes_its_application_from_the_environment(
    tmp_path, monkeypatch
):
    tokens = tmp_path / "tokens"
    pushcollector("token", "create", "ci", "--scope", "read", "--tokens", str(tokens))
    monkeypatch.setenv(
        SERVE_SETTINGS.name,
        json.dumps(
            {
                "db": "sqlite:///%s" % (tmp_path / "w.db"),
                "tokens": str(tokens),
                "max_body": 10,
                "body_timeout": 5,
                "hosts": ["localhost"],
                "limits": [5, 30],
            }
        ),
    )

    application = app_from_environment()

    # The API is mounted first, its first route the list of runs.
    api = application.routes[0]
    assert (api.path, api.routes[0].path) == ("/api", "/runs")


def test_serve_runs_several_workers(tmp_path):
    db = "sqlite:///%s" % (tmp_path / "workers.db")
    with ServiceProcess(db, "--workers", "2") as running:
        for number in range(4):
            answer = requests.post(
                "%s/runs/r/push-items" % running.url,
                json=[{"filename": "f%d" % number, "state": "PUSHED"}],
                timeout=60,
            )
            assert answer.status_code == 200
        assert running.get("/runs").json()["runs"][0]["records"] == 4
        # The workers check the Host as serve would.
        assert running.get("/runs", headers={"Host": "x.example"}).status_code == 421


@pytest.mark.parametrize(
    "size, expected", [("1", 1), ("500000", 500000), ("64M", 64 << 20), ("1g", 1 << 30)]
)
def test_sizes_of_bodies(size, expected):
    assert arguments.byte_size(size) == expected


@pytest.mark.parametrize("seconds", ["0", "-1", "x", "inf", "nan"])
def test_bad_body_timeouts_are_refused(seconds):
    done = pushcollector("serve", "--body-timeout", seconds)

    assert done.returncode == 2
    assert "invalid time %r: a positive number of seconds" % seconds in done.stderr


@pytest.mark.parametrize("size", ["0", "-1", "1T", "M", "", "1.5M"])
def test_bad_sizes_of_bodies_are_refused(size):
    done = pushcollector("serve", "--max-body", size)

    assert done.returncode == 2
    assert "invalid size" in done.stderr


# -- db upgrade ---------------------------------------------------------------


def test_db_upgrade_creates_then_finds_the_schema_up_to_date(database_url):
    created = pushcollector("db", "upgrade", "--db", database_url)
    again = pushcollector(
        "db", "upgrade", env={"PUSHCOLLECTOR_DATABASE_URL": database_url}
    )

    assert created.returncode == again.returncode == 0
    assert created.stdout.startswith("Created the schema of ")
    assert created.stdout.endswith(" at revision %s\n" % HEAD)
    assert again.stdout.endswith(" is up to date (revision %s)\n" % HEAD)


def test_db_upgrade_says_what_it_upgraded(tmp_path, monkeypatch, capsys):
    url = "sqlite:///%s" % (tmp_path / "u.db")
    monkeypatch.setattr(Store, "upgrade", lambda store: ("0000", "0001"))

    assert cli.main(["db", "upgrade", "--db", url]) == 0

    assert capsys.readouterr().out == (
        "Upgraded the schema of %s from 0000 to 0001\n" % url
    )


def test_db_upgrade_of_an_unreachable_database_fails_in_one_line():
    done = pushcollector("db", "upgrade", "--db", "postgresql://u:s3cret@127.0.0.1:1/x")

    assert done.returncode == 2
    assert done.stderr.startswith(
        "pushcollector: error: cannot use the database"
        " postgresql+psycopg://u:***@127.0.0.1:1/x: "
    )
    assert "s3cret" not in done.stderr


def test_db_upgrade_refuses_what_serve_refuses(tmp_path):
    newer = "sqlite:///%s" % (tmp_path / "newer.db")
    store = Store(newer)
    store.check_schema(create=True)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'zz'")
    other = "sqlite:///%s" % (tmp_path / "other.db")
    with Store(other).engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE accounts (id integer)")

    for url, message in (
        (newer, "the schema of %s (revision zz) is newer than this version" % newer),
        (other, "%s holds tables (accounts) but no pushcollector schema" % other),
    ):
        for command in (["db", "upgrade"], ["serve", "--port", "0"]):
            done = pushcollector(*command, "--db", url)
            assert done.returncode == 2
            assert done.stderr.startswith("pushcollector: error: " + message)
            assert len(done.stderr.splitlines()) == 1
    with Store(other).engine.connect() as connection:
        assert connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).scalars().all() == ["accounts"]


@pytest.mark.parametrize(
    "url, shown",
    [
        ("sqlite://me:s3cret@/x.db", "'sqlite://me:***@/x.db'"),
        (
            "postgresql://me:s3c@ret@127.0.0.1:1/x",
            "'postgresql://me:***@127.0.0.1:1/x'",
        ),
    ],
)
def test_db_upgrade_and_serve_refuse_a_bad_url_without_its_password(url, shown):
    for command in (["db", "upgrade"], ["serve", "--port", "0"]):
        done = pushcollector(*command, "--db", url)

        assert done.returncode == 2
        assert done.stderr.startswith(
            "pushcollector: error: invalid database URL " + shown
        )
        assert "bug" not in done.stderr
        assert "s3c" not in done.stderr and "ret@" not in done.stderr


def test_db_upgrade_without_a_database_uses_pushcollector_db(tmp_path, monkeypatch):
    monkeypatch.delenv("PUSHCOLLECTOR_DATABASE_URL", raising=False)

    done = pushcollector("db", "upgrade", cwd=tmp_path)

    assert done.returncode == 0
    assert done.stdout == (
        "Created the schema of sqlite:///pushcollector.db at revision %s\n" % HEAD
    )
    assert (tmp_path / "pushcollector.db").is_file()


# -- token create -------------------------------------------------------------


def test_token_create_prints_the_token_once_and_keeps_its_hash(tmp_path):
    path = tmp_path / "tokens"

    done = pushcollector(
        "token", "create", "ci-pusher", "--scope", "write", "--tokens", str(path)
    )

    token = done.stdout.strip()
    assert done.returncode == 0
    assert done.stdout == token + "\n"
    assert token.startswith("pct_") and len(token) > 40
    assert "added to %s; it is not shown again" % path in done.stderr
    content = path.read_text()
    assert token not in content
    assert content.startswith("ci-pusher write sha256:")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_token_create_uses_the_file_of_the_environment_else_the_default(tmp_path):
    from_env = pushcollector(
        "token",
        "create",
        "a",
        "--scope",
        "read",
        env={"PUSHCOLLECTOR_TOKENS_FILE": str(tmp_path / "env.tokens")},
        cwd=tmp_path,
    )
    default = pushcollector("token", "create", "b", "--scope", "read", cwd=tmp_path)

    assert from_env.returncode == default.returncode == 0
    assert (tmp_path / "env.tokens").read_text().startswith("a read ")
    assert (tmp_path / "pushcollector.tokens").read_text().startswith("b read ")


@pytest.mark.parametrize(
    "name, message",
    [
        ("ci", "a token named 'ci' exists in"),
        ("bad name", "invalid token name 'bad name'"),
        ("ci/x", "invalid token name 'ci/x'"),
    ],
)
def test_token_create_refuses_bad_and_taken_names(tmp_path, name, message):
    path = str(tmp_path / "tokens")
    pushcollector("token", "create", "ci", "--scope", "read", "--tokens", path)

    done = pushcollector("token", "create", name, "--scope", "write", "--tokens", path)

    assert done.returncode == 2
    assert message in done.stderr
    assert len((tmp_path / "tokens").read_text().splitlines()) == 1


def test_without_the_server_extra_the_commands_say_what_to_install(capsys):
    code = (
        "import sys; sys.modules['sqlalchemy'] = None;"
        "from pushcollector._impl.cli import main;"
        "sys.exit(main(['db', 'upgrade']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, timeout=60
    )

    assert done.returncode == 2
    assert done.stderr.startswith(
        "pushcollector: error: this command needs the server extra: pip install"
        " 'pushcollector[server]'"
    )
