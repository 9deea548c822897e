"""The base URL of a service, and the credentials sent to it."""

from __future__ import annotations


class Authorization:
    """Sets the Authorization header; its repr never shows the credentials.

    Given to requests as ``auth`` rather than as a header, so a ``.netrc``
    found by the session cannot replace the header.
    """

    __slots__ = ("_scheme", "_value")

    def __init__(self, scheme, credentials):
        self._scheme = scheme
        self._value = "%s %s" % (scheme, credentials)

    def __call__(self, request):
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self):
        return "<%s credentials>" % self._scheme.lower()


def checked_url(url):
    """The URL without user info and trailing ``/``; (user, password) or None."""
    if not isinstance(url, str):
        raise TypeError("url must be a str, not %s" % type(url).__name__)
    import urllib.parse

    # Messages never quote the URL: it may hold credentials.
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(
            "url must start with http:// or https://%s"
            % (", not %s:" % parts.scheme if parts.scheme else "")
        )
    try:
        host = parts.hostname
        parts.port
    except ValueError:
        raise ValueError("url has an invalid port") from None
    if not host:
        raise ValueError("url must name a host")
    if parts.query or parts.fragment:
        raise ValueError("url must not have a query or a fragment")
    userinfo, _, netloc = parts.netloc.rpartition("@")
    credentials = None
    if userinfo:
        user, _, password = userinfo.partition(":")
        credentials = (urllib.parse.unquote(user), urllib.parse.unquote(password))
        if not all(map(is_latin1, credentials)):
            raise ValueError(
                "url credentials must be latin-1 text, which is all that HTTP "
                "basic authentication can send"
            )
    bare = urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path.rstrip("/"), "", "")
    )
    return bare, credentials


def basic_credentials(user, password):
    """The base64 part of the Basic Authorization header requests sends."""
    import base64

    return base64.b64encode(("%s:%s" % (user, password)).encode("latin-1")).decode()


def is_latin1(text):
    # Checked without encoding: a UnicodeEncodeError would hold the text,
    # and the text may be a secret.
    return all(ord(char) < 256 for char in text)


def check_token(token):
    if not isinstance(token, str):
        raise TypeError("token must be a str, not %s" % type(token).__name__)
    # Never quoted: the token is a secret.
    if not token or not token.isprintable() or " " in token:
        raise ValueError(
            "token must be non-empty, without spaces or control characters"
        )
    if not is_latin1(token):
        raise ValueError(
            "token must be latin-1 text, which is all that an HTTP header can carry"
        )
