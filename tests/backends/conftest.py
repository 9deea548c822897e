# The databases of the service's tests, for the sql backend's.
from ..server.conftest import database_url, postgres_server, postgres_url  # noqa: F401
