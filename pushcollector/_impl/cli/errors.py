"""How a command ends: its exit statuses, and the error that ends it with
status 2.

A leaf module: the service's commands raise :class:`CommandError` too.
"""

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_ERROR = 2
# What a shell reports for a command killed by SIGPIPE.
EXIT_BROKEN_PIPE = 128 + 13


class CommandError(Exception):
    """What made a command fail, in one line for the user: exit status 2."""
