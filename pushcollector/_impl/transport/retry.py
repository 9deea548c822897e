"""Which failed attempts are retried, and after how long."""

from __future__ import annotations

import random
import time

#: What the ``http`` backend and ``pushcollector upload`` retry: the
#: statuses the protocol names as "try again", 429 and the 5xx class, not
#: any three digits a service makes up above it.
WRITE_RETRY_STATUSES = frozenset([429, *range(500, 600)])

#: What reading retries: a service or a proxy in front of it that is busy
#: or restarting. A 500 is a bug of the service, which asking again does
#: not mend.
READ_RETRY_STATUSES = frozenset([429, 502, 503, 504])


class Failure:
    """How one attempt at a request failed: what the policy decides on, and
    what the error will say.

    Attributes:
        status (int | None): the HTTP status of the answer, if there was one.
        reason (str | None): its reason phrase, redacted.
        body (str): the start of its body, decoded and redacted.
        body_cut (bool): whether the body went on beyond ``body``.
        body_note (str | None): why the body is not shown, if it is not.
        retry_after (float | None): the delay its ``Retry-After`` asked for.
        cause (Exception | None): what the HTTP library raised, if anything.
        time_limit (float | None): the seconds the attempt was given up
            on after, if it ran out of time.
        error (ServiceError | None): the error made of it, once made.
    """

    __slots__ = (
        "status",
        "reason",
        "body",
        "body_cut",
        "body_note",
        "retry_after",
        "cause",
        "time_limit",
        "error",
    )

    def __init__(
        self,
        *,
        status=None,
        reason=None,
        body="",
        body_cut=False,
        body_note=None,
        retry_after=None,
        cause=None,
        time_limit=None,
    ):
        self.status = status
        self.reason = reason
        self.body = body
        self.body_cut = body_cut
        self.body_note = body_note
        self.retry_after = retry_after
        self.cause = cause
        self.time_limit = time_limit
        self.error = None


class RetryPolicy:
    """Which failures are retried, how often, and after what delay.

    The policy classifies a failure itself: an answer by its status, an
    exception by its type, and an attempt that ran out of time.

    Args:
        max_attempts: attempts per request, the first included.
        backoff: seconds before the second attempt when the answer named no
            delay; each later delay is up to twice the one before, jittered
            down by up to half.
        max_backoff: the longest delay, also when ``Retry-After`` asks for
            longer.
        statuses: the HTTP statuses that are retried.
    """

    __slots__ = ("max_attempts", "backoff", "max_backoff", "statuses")

    def __init__(
        self,
        max_attempts: int,
        backoff: float,
        max_backoff: float,
        statuses: frozenset = WRITE_RETRY_STATUSES,
    ):
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.statuses = statuses

    def is_retry(self, failure: Failure) -> bool:
        """Whether the failure is of a kind that asking again may mend."""
        if failure.time_limit is not None:
            return True
        if failure.status is not None:
            return failure.status in self.statuses
        return is_connection_failure(failure.cause)

    def should_retry(self, attempt: int, failure: Failure) -> bool:
        """Whether to make another attempt after this one failed."""
        return attempt < self.max_attempts and self.is_retry(failure)

    def sleep_time(self, attempt: int, failure: Failure) -> float:
        """Seconds to wait before the attempt after this one."""
        delay = failure.retry_after
        if delay is None:
            # The exponent is bounded so that a huge max_attempts cannot
            # overflow a float.
            ceiling = self.backoff * 2.0 ** min(attempt - 1, 64)
            # Equal jitter: collectors failing together retry apart.
            delay = random.uniform(ceiling / 2, ceiling)
        return min(delay, self.max_backoff)


def is_connection_failure(cause: BaseException | None) -> bool:
    """Whether requests raised this for a connection that failed or stalled:
    not for a TLS failure, which asking again does not mend, nor for a
    request it could not make."""
    import requests

    return isinstance(
        cause,
        (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ),
    ) and not isinstance(cause, requests.exceptions.SSLError)


def retry_after_seconds(value: str | None) -> float | None:
    """The delay a ``Retry-After`` header asks for, or None if it asks none.

    Both forms are understood: seconds, and an HTTP date (a date in the
    past means now).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; a date without a zone is one of those.
        import datetime

        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())
