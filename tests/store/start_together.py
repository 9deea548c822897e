"""Processes checking a database's schema at one moment, as replicas of the
service starting together do.

Run from the root of the repository as::

    python -m tests.store.start_together URL

It prints ``ready`` once it has imported what it needs, waits for a line on
standard input (the tests release every process at once by writing one to
each), calls ``Store(URL).check_schema(create=True)``, and prints ``ok`` or
the error it raised.
"""

import sys

from pushcollector._impl.store.queries import DatabaseError, Store


def main(url):
    store = Store(url)
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        store.check_schema(create=True)
    except DatabaseError as error:
        print(error)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
