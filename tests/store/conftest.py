"""The databases of the service's tests, and a store on each, for the store's."""

import pytest

from pushcollector._impl.store.queries import Store

from ..server.conftest import database_url, postgres_server, postgres_url  # noqa: F401


@pytest.fixture
def store(database_url):
    made = Store(database_url)
    made.check_schema(create=True)
    yield made
    made.close()
