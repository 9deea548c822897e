"""The public face of the package: what ``import pushcollector`` offers and costs."""

import pytest

import pushcollector

from .imports import modules_after


@pytest.mark.parametrize("name", pushcollector.__all__)
def test_every_public_name_is_importable_and_documented(name):
    value = getattr(pushcollector, name)

    assert name in dir(pushcollector)
    if name != "SUCCESSFUL_STATES":
        assert value.__doc__ and value.__doc__.strip()


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        pushcollector.Nothing

    with pytest.raises(ImportError):
        from pushcollector import Nothing  # noqa: F401


def test_import_loads_only_what_recording_locally_needs():
    modules = modules_after("import pushcollector")

    for heavy in (
        "pushcollector._impl.backends.http",
        "pushcollector._impl.reading",
        "requests",
        "jsonschema",
        "more_executors",
        "yaml",
        "typing",
    ):
        assert heavy not in modules


def test_recording_locally_and_reading_never_load_the_server_side(tmp_path):
    modules = modules_after(
        "from pushcollector import Collector, open_run, SqlCollector\n"
        "Collector.get().update_push_items([{'filename': 'a', 'state': 'PUSHED'}])\n"
        "open_run().summary()\n"
        "from pushcollector._impl.cli import main\n"
        "main(['summary'])",
        cwd=tmp_path,
    )

    assert "pushcollector._impl.backends.sql" in modules
    assert not [
        name
        for name in modules
        if name.split(".")[0] in ("sqlalchemy", "alembic", "psycopg", "starlette")
        or name.split(".")[0] in ("uvicorn", "anyio")
        or name.startswith("pushcollector._impl.server.")
        or name.startswith("pushcollector._impl.store.")
    ]


def test_lazy_names_are_the_same_objects_as_their_modules():
    from pushcollector._impl.reading import dispatch
    from pushcollector._impl.backends import http

    assert pushcollector.HttpCollector is http.HttpCollector
    assert pushcollector.open_run is dispatch.open_run
