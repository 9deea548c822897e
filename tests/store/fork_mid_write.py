"""A process forking while one of its threads is inside a write of the store.

Run from the root of the repository as::

    python -m tests.store.fork_mid_write URL

A thread writes run ``parent`` and is held inside its transaction, after it
took the database's write lock, until the main thread forks. The child
writes run ``child`` and exits 0 if it could. The parent prints one JSON
line: the child's exit status and the record count of each run.

The held thread is let go by a fork hook of this script, which runs before
the store's own: a fork that does not wait for the write in progress
happens while the thread is still inside it.
"""

import json
import os
import sys
import threading

import sqlalchemy as sa

from pushcollector._impl.store.queries import Store


def main(url):
    store = Store(url)
    store.check_schema(create=True)
    inside = threading.Event()
    let_go = threading.Event()

    def hold_inside_the_write(connection, cursor, statement, *args):
        # Both databases upsert the final states with this statement, after
        # the write took its lock.
        if statement.startswith("INSERT INTO item_states") and not inside.is_set():
            inside.set()
            let_go.wait()

    sa.event.listen(store.engine, "before_cursor_execute", hold_inside_the_write)
    # Hooks run before a fork in the reverse order of registration: this
    # one before the store's.
    os.register_at_fork(before=let_go.set)
    writer = threading.Thread(
        target=store.add_push_items,
        args=("parent", [{"filename": "p", "state": "PUSHED"}]),
    )
    writer.start()
    inside.wait()
    pid = os.fork()
    if pid == 0:
        try:
            Store(url).add_push_items("child", [{"filename": "c", "state": "PUSHED"}])
        except BaseException as error:
            print("child: %s" % error, file=sys.stderr, flush=True)
            os._exit(1)
        os._exit(0)
    writer.join()
    _, status = os.waitpid(pid, 0)
    counts = {run.name: run.record_count for run in store.list_runs()}
    print(json.dumps({"child": os.waitstatus_to_exitcode(status), "runs": counts}))


if __name__ == "__main__":
    main(sys.argv[1])
