"""The error every client of the collection service raises."""

from __future__ import annotations


class ServiceError(OSError):
    """A request to a collection service failed, or was never sent.

    The base of the errors of the three clients: the ``http`` backend's
    :class:`~pushcollector.HttpCollectorError` and the reader's
    :class:`~pushcollector.ServiceReadError`. The message names the URL
    (without any credentials) and what went wrong; no piece of a token or
    password is ever shown.

    Attributes:
        method (str | None): the HTTP method of the request, such as
            ``"POST"``.
        url (str | None): the URL of the request, without any user
            information or query.
        status (int | None): the HTTP status of the answer, or ``None`` if
            there was none (connection failure, timeout, not sent).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
