"""Blanking out secrets from what services answer and libraries say."""

from __future__ import annotations

import collections
import json

# A secret is recognised by its pieces of this many characters, whatever
# surrounds them: no piece of a secret this long is ever shown. A secret
# shorter than this is recognised whole.
_SECRET_PIECE = 8


class Redactor:
    """Blanks out every piece of some secrets in text, however encoded.

    What a service answers, and what a library says of a failure, may quote
    a request's credentials in any way: raw or escaped by Python, JSON or
    HTML, percent-encoded, in base64 or hex, as UTF-8 bytes read as latin-1
    or the reverse, in upper or lower case, cut anywhere. Any run of text
    that matches a piece of a secret in one of those forms, ignoring case,
    becomes ``***``.
    """

    __slots__ = ("_pieces", "_secrets")

    def __init__(self, secrets):
        self._secrets = secrets
        # Made when first needed: most collectors never fail.
        self._pieces = None

    def __call__(self, text):
        if not self._secrets:
            return text
        if self._pieces is None:
            self._pieces = _pieces_of(self._secrets)
        folded = _casefold_in_place(text)
        hidden = bytearray(len(text))
        for size, pieces in self._pieces:
            for start in range(len(folded) - size + 1):
                if folded[start : start + size] in pieces:
                    hidden[start : start + size] = b"\x01" * size
        if not any(hidden):
            return text
        shown = []
        for start, char in enumerate(text):
            if not hidden[start]:
                shown.append(char)
            elif not start or not hidden[start - 1]:
                shown.append("***")
        return "".join(shown)


def _pieces_of(secrets):
    """[(size, {piece})]: the pieces of every form of the secrets, by size."""
    by_size = collections.defaultdict(set)
    for secret in secrets:
        for any_case in _forms_of(secret):
            # Upper case too: a few characters upper into two ("ß" into
            # "SS"), which lowering the text shown cannot undo.
            for form in {
                _casefold_in_place(any_case),
                _casefold_in_place(any_case.upper()),
            }:
                size = min(_SECRET_PIECE, len(form))
                by_size[size].update(
                    form[start : start + size] for start in range(len(form) - size + 1)
                )
    by_size.pop(0, None)
    return sorted(by_size.items(), reverse=True)


def _forms_of(secret):
    """The ways a secret may come back from a service, or out of a library."""
    import html
    import urllib.parse

    forms = set()
    # As the service may have decoded it (its header bytes are latin-1),
    # and as the collector decodes answers (UTF-8).
    texts = {
        secret,
        secret.encode("latin-1").decode("utf-8", "replace"),
        secret.encode("utf-8").decode("latin-1"),
    }
    for text in texts:
        escaped = {
            text,
            repr(text)[1:-1],
            ascii(text)[1:-1],
            text.encode("unicode_escape").decode("ascii"),
            json.dumps(text)[1:-1],
            json.dumps(text, ensure_ascii=False)[1:-1],
        }
        for form in escaped:
            forms.update(
                (
                    form,
                    form.replace("'", "\\'"),
                    form.replace('"', '\\"'),
                    form.replace("/", "\\/"),
                )
            )
        forms.add(html.escape(text, quote=False))
        for quote in ("&#x27;", "&#39;"):
            for double in ("&quot;", "&#34;"):
                forms.add(
                    html.escape(text).replace("&#x27;", quote).replace("&quot;", double)
                )
        for encoding in ("utf-8", "latin-1"):
            try:
                data = text.encode(encoding)
            except UnicodeEncodeError:
                continue
            forms.add(repr(data)[2:-1])
            forms.add(data.hex())
            for safe in ("", "/", "!'()*~", "!#$&'()*+,/:;=?@[]~"):
                forms.add(urllib.parse.quote(data, safe=safe))
            forms.add(urllib.parse.quote_plus(data, safe=""))
            forms.update(_base64_forms(data))
    return forms


def _base64_forms(data):
    """data in base64, alone or at any offset within longer data."""
    import base64

    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(data).decode("ascii"))
        for offset in range(3):
            encoded = encode(bytes(offset) + data).decode("ascii")
            # The first group holds bytes before data, the last (unless
            # data ends on a group boundary) bytes after it.
            first = 4 if offset else 0
            last = len(encoded) - (4 if (offset + len(data)) % 3 else 0)
            if last - first >= _SECRET_PIECE:
                forms.add(encoded[first:last])
    return forms


def _casefold_in_place(text):
    """text in lower case, each character where it was."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    # A few characters lower into two: those are left as they are.
    return "".join(char if len(char.lower()) != 1 else char.lower() for char in text)
