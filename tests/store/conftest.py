# The databases of the service's tests, for the store's.
from ..server.conftest import database_url, postgres_server, postgres_url  # noqa: F401
