"""The ``sql`` backend, writing into the service's database."""

import json
import sys

import pytest

from pushcollector import Collector, SqlCollector
from pushcollector._impl import store as store_package
from pushcollector._impl.store import Store
from pushcollector.testing import BackendContract

from ..imports import modules_after


class TestSqlContract(BackendContract):
    """The conformance kit, into SQLite and PostgreSQL."""

    @pytest.fixture(autouse=True)
    def database(self, database_url):
        self.url = database_url

    def make_backend(self):
        Collector.new_run()
        return SqlCollector(self.url)

    def stored_items(self, backend):
        store = Store(self.url)
        run = store.run(backend.run_id)
        if run is None:
            return []
        return [json.loads(line) for page in store.record_lines(run) for line in page]

    def stored_file(self, backend, filename):
        store = Store(self.url)
        run = store.run(backend.run_id)
        return b"".join(store.file_pieces(store.file_id(run, filename)))


def test_sql_is_a_builtin_backend_on_the_configured_database(database_url, monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_DATABASE_URL", database_url)

    with Collector.get("sql") as collector:
        collector.update_push_items([{"filename": "a", "state": "PUSHED"}]).result()
        collector.append_file("push.log", "done\n").result()

    backend = collector._backend
    assert isinstance(backend, SqlCollector)
    run = Store(database_url).run(backend.run_id)
    assert run.record_count == 1
    assert "password" not in repr(backend)


def test_the_collectors_of_a_process_share_its_run(database_url):
    first, second = SqlCollector(database_url), SqlCollector(database_url)
    Collector.new_run()
    third = SqlCollector(database_url)

    assert first.run_id == second.run_id != third.run_id


def test_without_a_database_the_backend_names_the_variable(monkeypatch):
    monkeypatch.delenv("PUSHCOLLECTOR_DATABASE_URL", raising=False)

    with pytest.raises(ValueError, match="set the environment variable PUSHCOLL"):
        Collector.get("sql")


def test_a_database_of_another_schema_is_refused(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "old.db")
    store = Store(url)
    store.check_schema(create=True)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'zz'")

    with pytest.raises(RuntimeError, match="newer than this version"):
        SqlCollector(url)


def test_without_the_server_extra_the_backend_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    monkeypatch.delitem(sys.modules, "pushcollector._impl.store.queries", raising=False)
    # The package keeps the names it imported when first used.
    for name in ("DatabaseError", "Store"):
        monkeypatch.delattr(store_package, name, raising=False)

    with pytest.raises(ImportError, match=r"pip install 'pushcollector\[server\]'"):
        SqlCollector("sqlite:///x.db")


def test_a_password_in_the_url_is_not_shown(postgres_server):
    url = postgres_server.create_database()
    backend = SqlCollector(url)

    assert postgres_server.password not in repr(backend)
    assert repr(backend).startswith("SqlCollector('postgresql+psycopg://")


def test_writing_imports_the_store_and_nothing_of_the_server(tmp_path):
    modules = modules_after(
        "import os\n"
        "os.environ['PUSHCOLLECTOR_DATABASE_URL'] = 'sqlite:///pushes.db'\n"
        "from pushcollector import Collector\n"
        "collector = Collector.get('sql')\n"
        "collector.update_push_items([{'filename': 'a', 'state': 'PUSHED'}]).result()",
        cwd=tmp_path,
    )

    assert "pushcollector._impl.store.queries" in modules
    assert not [
        name
        for name in modules
        if name == "pushcollector._impl.server"
        or name.startswith("pushcollector._impl.server.")
        or name.split(".")[0] in ("starlette", "uvicorn", "jinja2")
    ]
