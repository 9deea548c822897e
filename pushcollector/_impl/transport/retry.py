"""Which failed attempts are retried, and after how long."""

from __future__ import annotations

import random
import time


class RetryPolicy:
    """Retries what is marked retryable, after Retry-After or a backoff."""

    __slots__ = ("max_attempts", "backoff", "max_backoff")

    def __init__(self, max_attempts, backoff, max_backoff):
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff

    def should_retry(self, attempt, error):
        return attempt < self.max_attempts and error._retryable

    def sleep_time(self, attempt, error):
        delay = error._retry_after
        if delay is None:
            # The exponent is bounded so that a huge max_attempts cannot
            # overflow a float.
            ceiling = self.backoff * 2.0 ** min(attempt - 1, 64)
            # Equal jitter: collectors failing together retry apart.
            delay = random.uniform(ceiling / 2, ceiling)
        return min(delay, self.max_backoff)


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
