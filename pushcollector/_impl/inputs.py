"""The rules every entry point applies to what callers give it.

Filenames, file content and push items are checked and converted here, once
for the collector :meth:`Collector.get` returns, and by the service and
``pushcollector upload`` for what they receive or send: one rule, one place.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from .jsonvalues import check_json_values
from .schema import push_item_schema
from .validation import SchemaValidator

_PUSH_ITEM_ATTRIBUTES = (
    "name",
    "state",
    "src",
    "dest",
    "md5sum",
    "sha256sum",
    "origin",
    "build",
    "signing_key",
)


@functools.lru_cache(maxsize=None)
def push_item_validator() -> SchemaValidator:
    """The validator for the shipped push item schema, compiled on first use."""
    return SchemaValidator(push_item_schema())


def push_item_dicts(items: Iterable) -> list[dict]:
    """Convert push items to validated dicts, all or none.

    Raises:
        TypeError: if ``items`` is a single dict or string.
        AttributeError: if an item is neither a dict nor PushItem-shaped.
        jsonschema.ValidationError: if any resulting dict breaks the schema.
        PushItemValueError: if any holds a value that is not JSON that
            reads back the same (see :mod:`.jsonvalues`).
    """
    if isinstance(items, (dict, str, bytes)):
        raise TypeError(
            "update_push_items() expects an iterable of push items, got a %s"
            % type(items).__name__
        )
    dicts = []
    # The caller's index of each dict, kept once a PushItem is met: it may
    # make several dicts, one per destination.
    item_indexes = None
    for index, item in enumerate(items):
        if isinstance(item, dict):
            dicts.append(item)
            if item_indexes is not None:
                item_indexes.append(index)
        else:
            made = _dicts_from_push_item(item, index)
            if item_indexes is None:
                item_indexes = list(range(len(dicts)))
            item_indexes.extend([index] * len(made))
            dicts.extend(made)
    push_item_validator().validate_all(dicts)
    check_json_values(dicts, item_indexes)
    return dicts


def _dicts_from_push_item(item, index: int) -> list[dict]:
    """One dict per destination of a pushsource PushItem (or look-alike)."""
    try:
        fields = {name: getattr(item, name) for name in _PUSH_ITEM_ATTRIBUTES}
    except AttributeError as error:
        raise AttributeError(
            "push item %d is neither a dict nor a PushItem: %s" % (index, error)
        ) from error

    checksums = {}
    if fields["md5sum"]:
        checksums["md5"] = fields["md5sum"]
    if fields["sha256sum"]:
        checksums["sha256"] = fields["sha256sum"]

    def for_dest(dest):
        # A fresh checksums dict each, so no two recorded items share state.
        return {
            "filename": fields["name"],
            "state": fields["state"],
            "src": fields["src"],
            "dest": dest,
            "checksums": dict(checksums) if checksums else None,
            "origin": fields["origin"],
            "build": fields["build"],
            "signing_key": fields["signing_key"],
        }

    dests = fields["dest"]
    if isinstance(dests, str):
        dests = [dests]
    return [for_dest(dest) for dest in dests or [None]]


#: The most bytes, in UTF-8, of one ``/``-separated component of a filename:
#: what common filesystems allow for one name.
MAX_COMPONENT_BYTES = 255


#: The most bytes, in UTF-8, of a whole filename.
MAX_FILENAME_BYTES = 1024


def checked_filename(filename) -> str:
    """The filename, if it is a safe relative POSIX path every backend stores.

    Raises:
        ValueError: naming the filename and what is wrong with it.
    """
    problem = _filename_problem(filename)
    if problem:
        raise ValueError("invalid filename %r: %s" % (filename, problem))
    return filename


def _filename_problem(filename):
    if not isinstance(filename, str):
        return "must be a str, not %s" % type(filename).__name__
    if not filename:
        return "must not be empty"
    unsafe = None if filename.isprintable() else _unsafe_character(filename)
    if unsafe is not None:
        index, kind = unsafe
        return "must not contain %s: %r at index %d" % (kind, filename[index], index)
    if "\\" in filename:
        return "must not contain a backslash"
    if filename.startswith("/"):
        return "must be a relative path"
    components = filename.split("/")
    if any(part in ("", ".", "..") for part in components):
        return "must not have empty, '.' or '..' components"
    size = len(filename) if filename.isascii() else len(filename.encode("utf-8"))
    if size > MAX_FILENAME_BYTES:
        return "must be at most %d bytes in UTF-8, not %d" % (
            MAX_FILENAME_BYTES,
            size,
        )
    if size > MAX_COMPONENT_BYTES:
        for part in components:
            part_size = len(part.encode("utf-8"))
            if part_size > MAX_COMPONENT_BYTES:
                return "component %r is %d bytes in UTF-8, more than %d" % (
                    part,
                    part_size,
                    MAX_COMPONENT_BYTES,
                )
    return None


def _unsafe_character(filename: str):
    """The index of the first unsafe character and what it is, or None.

    C0 and C1 control characters and DEL: newlines and escape sequences in
    names forge log lines and rewrite terminals. Lone surrogates: they are
    not Unicode text, so no backend can encode the name. Neither kind is
    printable, so most names never come here.
    """
    for index, char in enumerate(filename):
        if char < " " or "\x7f" <= char <= "\x9f":
            return index, "a control character"
        if "\ud800" <= char <= "\udfff":
            return index, "a lone surrogate, which is not Unicode text"
    return None


def content_bytes(content, filename: str) -> bytes:
    """File content as bytes: text encoded as UTF-8, bytes-like copied.

    Raises:
        TypeError: if the content is neither text nor bytes-like.
        ValueError: if the text holds a lone surrogate, which UTF-8 cannot
            encode; both name the file.
    """
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                "content of %r: a lone surrogate at index %d is not Unicode "
                "text; pass bytes to store bytes that are not UTF-8"
                % (filename, error.start)
            ) from None
    try:
        return memoryview(content).tobytes()
    except TypeError:
        raise TypeError(
            "content of %r must be str or bytes-like, got %s"
            % (filename, type(content).__name__)
        ) from None
