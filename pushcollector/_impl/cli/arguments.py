"""The types of the commands' options: argparse calls them with the text
given, and shows their error as a usage error."""

from __future__ import annotations

import argparse
import re

# A host name or IPv4 address, or an IPv6 address in brackets.
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]{1,253}\Z|\[[0-9A-Fa-f:.]{2,45}\]\Z")


def byte_size(text: str) -> int:
    """A size in bytes, such as ``500000``, ``64M`` or ``1G`` (binary units)."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
    number, unit = text[:-1], text[-1:].upper()
    if unit not in units or unit == "":
        number, unit = text, ""
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(
            "invalid size %r: a positive number of bytes, optionally with K, M or G"
            % text
        )
    return int(number) * units[unit]


def positive_seconds(text: str) -> float:
    """A time in seconds, more than 0 and finite, such as ``30`` or ``0.5``."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(
            "invalid time %r: a positive number of seconds" % text
        )
    return seconds


def positive_int(text: str) -> int:
    """A whole number, 1 or more, in ASCII digits only."""
    if not _is_digits(text) or int(text) < 1:
        raise argparse.ArgumentTypeError("invalid number %r: 1 or more" % text)
    return int(text)


def port_number(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535, in ASCII digits only."""
    if not _is_digits(text) or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            "invalid port %r: 0 (any free one) to 65535" % text
        )
    return int(text)


def host_name(text: str) -> str:
    """A name a ``Host`` header may give, without a port: a host name, an
    IPv4 address or an IPv6 address in brackets."""
    if not _HOST_NAME.match(text):
        raise argparse.ArgumentTypeError(
            "invalid host name %r: letters, digits and .-_, or an IPv6 address"
            " in brackets, without a port" % text
        )
    return text


def _is_digits(text):
    # ASCII only: str.isdigit() takes "²", which int() refuses; and few
    # enough for int() to read, which refuses more than 4,300 digits.
    return text.isascii() and text.isdigit() and len(text) <= 20
