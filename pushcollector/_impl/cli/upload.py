"""``pushcollector upload``: send a run recorded offline to the service.

The upload itself is done by ``_impl/upload.py``, imported when the command
runs, so that the other commands do not pay for importing it.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..environment import ARTIFACTS_DIR, HTTP_TOKEN, HTTP_URL
from .arguments import positive_int, positive_seconds
from .errors import EXIT_FAILED, EXIT_PASSED, CommandError
from .output import format_count, print_lines, shown, warn_about_bad_lines

_UPLOAD_EXIT_CODES_HELP = """\
exit status:
  0  every record and file of the run was sent
  1  the run was sent, but lines of its file could not be read, or held
     push items the service would refuse: those were not sent
  2  nothing or not all was sent: the run could not be read, the service
     could not be reached or refused the upload (run the command again to
     complete it), or the command was misused
"""


def add_commands(commands):

    upload = commands.add_parser(
        "upload",
        help="send a run recorded offline to the collection service",
        description="Send a run of the local backend, its push item records"
        " and its files, to the collection service (pushcollector serve), and"
        " print the run's URL there. The run is uploaded under a run id made"
        " on its first upload and kept in the run directory: uploading it"
        " again, after an upload that completed or was interrupted, sends"
        " only what the service lacks and prints the same URL. A push items"
        " file that is not the one the run was uploaded from (another push's"
        " copied in its place) is uploaded as a new run, with a warning. Lines that"
        " cannot be read, and push items the service would refuse, are"
        " reported and not sent. The token is $%s, if set." % HTTP_TOKEN.name,
        epilog=_UPLOAD_EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="a run directory, an artifacts directory (its 'latest' run is"
        " used) or a pushitems.jsonl file; default: the latest run under $%s,"
        " else under ./artifacts" % ARTIFACTS_DIR.name,
    )
    upload.add_argument(
        "--to",
        metavar="URL",
        help="the base URL of the service, such as http://pushes.example.com:8080/api;"
        " default: $%s" % HTTP_URL.name,
    )
    upload.add_argument(
        "--batch-size",
        metavar="N",
        type=positive_int,
        default=500,
        help="push items per request (500); an interrupted upload is best"
        " completed with the same",
    )
    upload.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=30.0,
        help="the time an attempt of a request may take (30)",
    )
    upload.add_argument(
        "--max-attempts",
        metavar="N",
        type=positive_int,
        default=5,
        help="attempts of each request, retried after failed connections,"
        " timeouts, 429 and 5xx answers (5)",
    )
    upload.set_defaults(handler=_upload)


def _upload(args):
    import logging

    from ..backends.http import HttpCollectorError
    from ..upload import UploadError, describe_failure, upload_run

    url = args.to or HTTP_URL.get()
    if not url:
        raise CommandError(
            "no service to upload to: give --to URL, or set $%s" % HTTP_URL.name
        )
    # Retries are shown as warnings as they happen; the request that failed
    # for good, which the transport logs as an error, is the command's error.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pushcollector: warning: %(message)s"))
    handler.addFilter(lambda record: record.levelno == logging.WARNING)
    logger = logging.getLogger("pushcollector")
    logger.addHandler(handler)
    try:
        result = upload_run(
            args.path,
            url,
            HTTP_TOKEN.get(),
            batch_size=args.batch_size,
            timeout=args.timeout,
            max_attempts=args.max_attempts,
        )
    except UploadError as error:
        raise CommandError(str(error)) from None
    except HttpCollectorError as error:
        raise CommandError(
            "upload incomplete: %s; run the command again to complete it"
            % describe_failure(error)
        ) from None
    finally:
        logger.removeHandler(handler)
    if result.new_run is not None:
        print(
            "pushcollector: warning: %s: uploaded as a new run, not appended to"
            " that one" % shown(result.new_run),
            file=sys.stderr,
        )
    warn_about_bad_lines(result.run, result.bad_lines)
    for line in result.not_sent:
        print(
            "pushcollector: warning: %s:%d: not sent: %s"
            % (shown(result.run.items_path), line.line_number, shown(line.reason)),
            file=sys.stderr,
        )
    if result.not_sent_count > len(result.not_sent):
        print(
            "pushcollector: warning: %s: %s more lines not sent"
            % (
                shown(result.run.items_path),
                format_count(result.not_sent_count - len(result.not_sent)),
            ),
            file=sys.stderr,
        )
    for name, problem in result.files_not_sent:
        print(
            "pushcollector: warning: %s: not sent: %s"
            % (shown(os.path.join(result.run.directory, name)), shown(problem)),
            file=sys.stderr,
        )
    if result.bad_lines_recorded is False:
        print(
            "pushcollector: warning: the service cannot record the %s lines not"
            " sent (it knows no PUT %s/bad-lines: a pushcollector serve older"
            " than 1.6.0?): its run there does not fail for them, as this one"
            " does"
            % (
                format_count(len(result.bad_lines) + result.not_sent_count),
                shown(result.url),
            ),
            file=sys.stderr,
        )
    print_lines([result.url])
    if result.bad_lines or result.not_sent_count or result.files_not_sent:
        return EXIT_FAILED
    return EXIT_PASSED
