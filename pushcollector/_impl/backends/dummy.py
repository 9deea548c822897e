"""The ``dummy`` backend."""


class DummyCollector:
    """A backend that accepts everything and keeps nothing.

    Registered as ``dummy``. Input is still validated by the collector
    facade, so it is useful for dry runs and for tests that only care that
    recording succeeds.
    """

    def update_push_items(self, items):
        """Discard push items."""

    def attach_file(self, filename, content):
        """Discard a file."""

    def append_file(self, filename, content):
        """Discard file content."""
