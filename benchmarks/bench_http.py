#!/usr/bin/env python3
"""Benchmark sending push items with the ``http`` backend.

Both cases post the same 100k push items, 500 per request, to the same
loopback service, and wait until every request has been answered:

* this project: ``Collector.get("http").update_push_items(items).result()``
  (validation, JSON encoding and sending from the collector's background
  thread, with its retry machinery);
* the bare limit: a plain ``requests.Session`` loop posting each batch with
  ``session.post(url, json=batch)``.

The service runs in a child process (this script with ``--serve``): a
``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive, which reads each
request body by its Content-Length and answers ``204 No Content``. It counts
what it receives, so the benchmark checks that both cases sent every byte.

Each figure is the median of several runs; the ratio of the two is checked
against the target (at most 2x the time of the bare loop). A table goes to
stdout (one JSON object instead with ``--json``); progress goes to stderr.

Examples::

    python benchmarks/bench_http.py
    python benchmarks/bench_http.py --scale 0.01 --repeat 1 --json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchlib import (
    add_json_option,
    add_repeat_option,
    add_scale_option,
    add_seed_option,
    check,
    print_results,
    progress_printer,
    require_project_pushcollector,
    scaled,
    verdict,
)

SCRIPT_PATH = os.path.abspath(__file__)

ITEMS = 100_000
BATCH_SIZE = 500
TARGET_TIME_VS_BARE = 2.0


progress = progress_printer("bench_http")


def serve():
    """Run the loopback service; print its port, serve until stdin closes."""
    received = {"requests": 0, "bytes": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                received["requests"] += 1
                received["bytes"] += len(body)
            self.send_response(204)
            self.end_headers()

        def do_GET(self):
            with lock:
                body = json.dumps(received).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    # The parent closes our stdin when it is done, or when it dies.
    sys.stdin.read()
    server.shutdown()


class Service:
    """The loopback service in a child process."""

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, SCRIPT_PATH, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(self.process.stdout.readline())
        self.url = "http://127.0.0.1:%d" % port
        return self

    def __exit__(self, *exc_info):
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()

    def received(self):
        import requests

        return requests.get(self.url + "/stats", timeout=30).json()


def send_with_pushcollector(url, items):
    from pushcollector import Collector

    os.environ["PUSHCOLLECTOR_HTTP_URL"] = url
    with Collector.get("http") as collector:
        collector.update_push_items(items).result()


def send_with_bare_session(url, items):
    import requests

    with requests.Session() as session:
        for start in range(0, len(items), BATCH_SIZE):
            batch = items[start : start + BATCH_SIZE]
            session.post(url + "/bare", json=batch, timeout=30).raise_for_status()


def measure(case, send, service, items, repeat):
    """Median seconds of ``send``; checks the service got every item."""
    send(service.url, items[:1])
    timings = []
    requests_per_run = -(-len(items) // BATCH_SIZE)
    for _ in range(repeat):
        before = service.received()
        start = time.perf_counter()
        send(service.url, items)
        timings.append(time.perf_counter() - start)
        after = service.received()
        if after["requests"] - before["requests"] != requests_per_run:
            raise SystemExit("%s: the service did not get every batch" % case)
    seconds = statistics.median(timings)
    return {
        "case": case,
        "items": len(items),
        "requests": requests_per_run,
        "median_seconds": seconds,
        "items_per_second": len(items) / seconds,
    }


def run_benchmark(args):
    # Imported here: the --serve child needs none of it.
    from bench_collect import make_dict_items

    require_project_pushcollector()
    count = scaled(ITEMS, args.scale)
    progress("generating %d items" % count)
    items = make_dict_items(count, args.seed)
    with Service() as service:
        progress("timing pushcollector's http backend")
        project = measure(
            "pushcollector http backend",
            send_with_pushcollector,
            service,
            items,
            args.repeat,
        )
        progress("timing a bare requests.Session loop")
        bare = measure(
            "bare requests.Session loop",
            send_with_bare_session,
            service,
            items,
            args.repeat,
        )
    ratio = project["median_seconds"] / bare["median_seconds"]
    return {
        "settings": {
            "scale": args.scale,
            "repeat": args.repeat,
            "seed": args.seed,
            "batch_size": BATCH_SIZE,
            "python": sys.version.split()[0],
        },
        "measurements": {"http_backend": project, "bare_session": bare},
        "ratios": {
            "http_backend_vs_bare_time": check(ratio, TARGET_TIME_VS_BARE),
        },
    }


def print_report(results):
    print("%-30s %8s %9s %12s %14s" % ("case", "N", "requests", "median s", "items/s"))
    for figures in results["measurements"].values():
        print(
            "%-30s %8d %9d %12.4f %14s"
            % (
                figures["case"],
                figures["items"],
                figures["requests"],
                figures["median_seconds"],
                "{:,.0f}".format(figures["items_per_second"]),
            )
        )
    ratio = results["ratios"]["http_backend_vs_bare_time"]
    print()
    print(
        "http backend vs bare session: %.2fx time (target %s) %s"
        % (ratio["value"], ratio["target"], verdict(ratio))
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark the http backend against a bare requests loop, "
        "both posting to a loopback service."
    )
    add_scale_option(parser, "the item count (100,000)")
    add_repeat_option(parser, 5, "runs per case")
    add_seed_option(parser, "items")
    add_json_option(parser)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.serve:
        serve()
        return
    print_results(run_benchmark(args), args.json, print_report)


if __name__ == "__main__":
    main()
