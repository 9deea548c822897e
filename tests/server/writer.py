"""A push writing to ``pushcollector serve`` through the ``http`` backend.

Run from the root of the repository as::

    python -m tests.server.writer URL INDEX COUNT

It records COUNT push items, ``w{INDEX}-{i:06d}``, each ending PUSHED and
every tenth first recorded PENDING a few hundred records earlier, in calls of
BATCH records, and appends a line naming the writer and the batch to
``push.log`` after each call. It waits for every call to be delivered,
retrying generously, then prints one JSON line: its run id, how many records
it made, and how many retries the backend logged (and how many of them
followed a refused connection). It exits 0 only if every call was delivered.

What it records is given by records() and log_bytes(), for the tests to
compare with what the service holds.
"""

import functools
import json
import logging
import sys

BATCH = 500
LOG_FILE = "push.log"

# An item recorded PENDING this many records before it is PUSHED: far enough
# for its two records to be in different requests, mostly.
PENDING_AHEAD = 250

# Generous enough to outlast any restart the tests make (each delay is at
# most MAX_BACKOFF seconds), small enough to resume soon after it.
MAX_ATTEMPTS = 10000
BACKOFF = 0.1
MAX_BACKOFF = 1.0
TIMEOUT = 30


def item(index, number, state):
    return {
        "filename": "w%d-%06d" % (index, number),
        "state": state,
        "dest": "repo-%d" % index,
        "src": "/src/w%d/%06d" % (index, number),
    }


def records(index, count):
    """The records writer ``index`` makes, in order."""
    result = []
    for number in range(count):
        early = number + PENDING_AHEAD
        if early < count and early % 10 == 0:
            result.append(item(index, early, "PENDING"))
        if number < PENDING_AHEAD and number % 10 == 0:
            # Too early to have been announced ahead.
            result.append(item(index, number, "PENDING"))
        result.append(item(index, number, "PUSHED"))
    return result


def batches(index, count):
    all_records = records(index, count)
    return [
        all_records[start : start + BATCH]
        for start in range(0, len(all_records), BATCH)
    ]


def log_line(index, number, batch):
    return "writer %d batch %04d: %d records, %s to %s\n" % (
        index,
        number,
        len(batch),
        batch[0]["filename"],
        batch[-1]["filename"],
    )


def log_bytes(index, count):
    """What writer ``index`` appends to LOG_FILE, in all."""
    return "".join(
        log_line(index, number, batch)
        for number, batch in enumerate(batches(index, count))
    ).encode("ascii")


class RetryCounter(logging.Handler):
    """Counts the retries the http backend logs, and those of them after a
    refused connection: made while no service listened, rather than cut off
    while the service had the request."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.retries = 0
        self.refused = 0

    def emit(self, record):
        message = record.getMessage()
        if "retrying in" in message:
            self.retries += 1
            if "Connection refused" in message:
                self.refused += 1


def main(url, index, count):
    from pushcollector import Collector, HttpCollector

    index = int(index)
    count = int(count)
    counter = RetryCounter()
    logger = logging.getLogger("pushcollector")
    logger.addHandler(counter)
    # The retries, and why, for whoever looks into a failure.
    logger.addHandler(logging.StreamHandler())
    Collector.register_backend(
        "service",
        functools.partial(
            HttpCollector,
            url,
            batch_size=BATCH,
            max_attempts=MAX_ATTEMPTS,
            backoff=BACKOFF,
            max_backoff=MAX_BACKOFF,
            timeout=TIMEOUT,
        ),
    )
    futures = []
    with Collector.get("service") as collector:
        run_id = collector._backend.run_id
        for number, batch in enumerate(batches(index, count)):
            futures.append(collector.update_push_items(batch))
            futures.append(
                collector.append_file(LOG_FILE, log_line(index, number, batch))
            )
    failures = [future.exception() for future in futures if future.exception()]
    for failure in failures:
        print("writer %d: %s" % (index, failure), file=sys.stderr)
    print(
        json.dumps(
            {
                "run_id": run_id,
                "records": sum(len(batch) for batch in batches(index, count)),
                "retries": counter.retries,
                "refused": counter.refused,
                "failed": len(failures),
            }
        ),
        flush=True,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
