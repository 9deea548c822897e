"""The ``pushcollector`` command: read runs back and gate CI on their
outcome, run the collection service, upload runs to it.

Here are :func:`main` and the parser; each family of subcommands is a module
of its own (:mod:`.reading`, :mod:`.service`, :mod:`.upload`), which adds
its commands to the parser and handles them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..reading.run import NotARunError, describe_error
from ..version import VERSION
from . import reading, service, upload
from .errors import EXIT_BROKEN_PIPE, EXIT_ERROR, CommandError
from .output import shown


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pushcollector`` command and return its exit status.

    Characters that standard output or standard error cannot encode (with
    ``PYTHONIOENCODING=ascii``, or in a Latin-1 or C locale) are printed as
    backslash escapes such as ``\\u65e5``: both streams are reconfigured
    with ``errors="backslashreplace"``.

    Args:
        argv: the arguments, without the program name; by default those the
            process was started with.
    """
    # Names come from files and the command line and may hold any
    # character: escaping one is better than failing in the middle of a
    # summary (usage errors included).
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    args = _parser().parse_args(argv)
    try:
        status = args.handler(args)
        # Inside the try, so that a reader gone away is noticed here.
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader has gone (as with "| head"): say nothing more to it, and
        # keep Python from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CommandError as error:
        print("pushcollector: error: %s" % shown(str(error)), file=sys.stderr)
        return EXIT_ERROR
    except (OSError, NotARunError) as error:
        message = describe_error(error)
        if args.path is None:
            message += " (no path given, so the default was used; see --help)"
        print("pushcollector: error: %s" % shown(message), file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        # A bug must not read as a run that failed (status 1), nor bury the
        # job's log under a traceback: one line, and the status of a run
        # that could not be judged.
        print(
            "pushcollector: error: unexpected %s: %s (a bug in pushcollector:"
            " please report it)" % (type(error).__name__, shown(str(error))),
            file=sys.stderr,
        )
        return EXIT_ERROR


def _parser():
    parser = argparse.ArgumentParser(
        prog="pushcollector",
        description="Read back the runs that pushcollector recorded, locally or"
        " in a collection service; run the collection service.",
        epilog="Run 'pushcollector COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + VERSION)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands.required = True
    reading.add_commands(commands)
    service.add_commands(commands)
    upload.add_commands(commands)
    return parser
