"""``pushcollector upload``: a run recorded offline, sent to the collection
service.

A run of the ``local`` backend, its push item records and its files, is sent
to ``pushcollector serve`` under a run id made for it on its first upload
and kept in a marker in the run directory. Uploading it again, whether the
first upload finished or was killed at any point, stores nothing twice:

* records resume from the number the service holds for the run, once the
  run is proved to be this file's: before records are sent, the marker
  keeps the length and digest of the part of the push items file they come
  from, and a later upload resumes only if the file still begins with those
  bytes (else it uploads the file as a new run). Each request of records is
  keyed by the index of its first record: the service refuses a key
  reused for another body, so a request applied but whose answer was lost
  is not applied again, and an overlapping one is refused rather than
  duplicated;
* each piece of a file is keyed by the file's name, a digest of its whole
  content, the piece's offset and a generation the marker keeps per file,
  counting the contents sent: a file unchanged since the last upload is
  not stored again, and a changed one is sent again whole (the first piece
  replaces the file), even back to a content sent before.

Requests go through the ``http`` backend's transport, with its retries,
timeouts and redaction of secrets. Records are not decoded and encoded
again for sending: the text of each line, once checked, goes into the
request's JSON array as it is.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import sys

from .backends.http import HttpCollectorError
from .transport.attempt import Request, Transport
from .transport.retry import RetryPolicy
from .transport.sender import OrderedSender
from .backends.local import STAGING_PREFIX, UPLOAD_MARKER
from .inputs import checked_filename, push_item_validator
from .jsonvalues import PushItemValueError, check_json_values
from .protocol import (
    BYTES_TYPE,
    JSON_TYPE,
    MAX_RUN_ID_LENGTH,
    NOT_IN_RUN_ID,
    RUN_ID_PATTERN,
    bad_lines_path,
    file_path,
    push_items_path,
    record_refusal,
    run_path,
)
from .records import records_of_lines
from .reading.dispatch import is_service_url, open_run
from .reading.run import item_lines
from .safefs import (
    READ_FLAGS,
    open_file_under,
    open_regular_file,
    regular_file_opened,
)

# The random part of a run id: 16 hex digits.
_RANDOM_BYTES = 8

#: Records sent in one request by default.
DEFAULT_BATCH_SIZE = 500

#: The most bytes of a file sent in one request: well within the service's
#: default largest body (64 MiB).
FILE_PIECE_BYTES = 4 * 1024 * 1024

# Requests queued ahead of the one being sent: the next ones are read and
# checked while the service works on it, and memory stays bounded.
_QUEUED_REQUESTS = 8

# The most of a run's figures read back: a few hundred bytes, and a count
# for each state.
_RUN_ANSWER_BYTES = 1024 * 1024

# Lines not sent that are named one by one; the rest are counted.
_NOT_SENT_KEPT = 10

# The largest marker read: a line of about 100 bytes per request of records
# and per content of a file sent, for many uploads of a large run.
_MARKER_LIMIT = 64 * 1024 * 1024

# The lines of a marker after its run id (see _Marker).
_ITEMS_LINE = re.compile(r"items ([0-9]{1,19}) ([0-9a-f]{64})\Z")
_FILE_LINE = re.compile(r"file ([0-9]{1,19}) ([0-9a-f]{64}) (\".*\")\Z")

# Lines read between two updates of the digest of the push items file read.
_LINES_HASHED_AT_ONCE = 1000


class UploadError(Exception):
    """What stopped an upload, in one line for the user."""


class NotSentLine:
    """A readable record that the service would refuse, so was not sent.

    Attributes:
        line_number (int): where the line is, counting from 1.
        reason (str): what is wrong with the record, as the service's
            refusal would say.
    """

    __slots__ = ("line_number", "reason")

    def __init__(self, line_number: int, reason: str):
        self.line_number = line_number
        self.reason = reason

    def __repr__(self):
        return "NotSentLine(%d, %r)" % (self.line_number, self.reason)


class UploadResult:
    """What an upload did.

    Attributes:
        run (Run): the local run uploaded.
        run_id (str): its id in the service.
        url (str): the run's URL in the service, ``{base}/runs/{run_id}``.
        records_sent (int): records sent by this upload (not those the
            service held already).
        records_held (int): records the service held for the run before.
        files (int): files sent (each whole, though the service stores
            again only those changed since an earlier upload).
        files_not_sent (list[tuple[str, str]]): the name and the problem of
            each file of the run whose name the service would refuse (one
            the ``local`` backend cannot have written); not sent.
        bad_lines (list[BadLine]): lines that could not be read, as
            ``pushcollector summary`` reports them; not sent.
        not_sent (list[NotSentLine]): the first readable records the
            service would refuse; not sent.
        not_sent_count (int): how many such records there were in all.
        new_run (str | None): why the run was uploaded under a new run id
            rather than resumed, when its marker named a run uploaded from
            another file; None when it was not.
        bad_lines_recorded (bool | None): whether the service recorded the
            lines not sent (``bad_lines`` and the records it would refuse)
            as bad lines of its run, which fail the run there as they fail
            it here: False if the service cannot (one older than this
            version), None if there were none.
    """

    def __init__(self, run, run_id, url):
        self.run = run
        self.run_id = run_id
        self.url = url
        self.new_run = None
        self.bad_lines_recorded = None
        # The line number of every record not sent, for the service.
        self._not_sent_lines = []
        self.records_sent = 0
        self.records_held = 0
        self.files = 0
        self.files_not_sent = []
        self.bad_lines = []
        self.not_sent = []
        self.not_sent_count = 0

    def _not_sent(self, line_number, reason):
        self.not_sent_count += 1
        self._not_sent_lines.append(line_number)
        if len(self.not_sent) < _NOT_SENT_KEPT:
            self.not_sent.append(NotSentLine(line_number, reason))


class _Uploader:
    """The requests of an upload, through the transport of every client.

    Its retries, backoff, timeouts and redaction of secrets apply to every
    request; records and file pieces go through an ordered sender, with
    keys of the upload's own.
    """

    def __init__(self, url, token, timeout, max_attempts):
        self.transport = Transport(
            url,
            token=token,
            timeout=timeout,
            policy=RetryPolicy(max_attempts, backoff=1.0, max_backoff=60.0),
            error_type=HttpCollectorError,
        )
        self.url = self.transport.url
        self.run_id = None
        self._sender = OrderedSender(
            self.transport, key_prefix="upload", name="upload to %s" % self.url
        )

    def send(self, method, path, body, content_type, key):
        """Queue a request with this Idempotency-Key; its future."""
        return self._sender.enqueue([(method, path, body, content_type)], [key])

    def close(self):
        """Wait for every request sent, then release the thread and session."""
        self._sender.close()

    def declare_bad_lines(self, lines):
        """Declare to the service the lines of the run not sent; whether it
        could record them (False if it knows no such request).

        Raises:
            HttpCollectorError: if the request failed otherwise.
        """
        request = Request(
            "PUT",
            bad_lines_path(self.run_id),
            json.dumps(lines).encode("ascii"),
            self.transport.request_headers(JSON_TYPE),
        )
        request.answer_limit = _RUN_ANSWER_BYTES
        failure = self.transport.fetch(request)
        if failure is None:
            return True
        if failure.status in (404, 405):
            return False
        raise failure.error

    def records_held(self):
        """How many records the service holds for the run: 0 if it has none.

        Raises:
            HttpCollectorError: if the service cannot be asked.
            UploadError: if it answers something else than a run's figures.
        """
        path = run_path(self.run_id)
        request = Request("GET", path, b"", self.transport.request_headers(JSON_TYPE))
        request.answer_limit = _RUN_ANSWER_BYTES
        failure = self.transport.fetch(request)
        if failure is not None:
            if failure.status == 404:
                return 0
            raise failure.error
        try:
            records = json.loads(request.answer)["records"]
        except (TypeError, ValueError, KeyError):
            records = None
        if type(records) is not int or records < 0:
            raise UploadError(
                "GET %s%s answered something else than a run's figures: is %s"
                " the base URL of a pushcollector service?" % (self.url, path, self.url)
            )
        return records


def upload_run(
    path: str | os.PathLike | None,
    url: str,
    token: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    timeout: float = 30,
    max_attempts: int = 5,
    progress: bool | None = None,
) -> UploadResult:
    """Send a local run, its records and files, to the collection service.

    Args:
        path: a run on disk, as :func:`~pushcollector.open_run` takes it;
            not a URL.
        url: the service's base URL, such as ``http://host:8080/api``.
        token: sent as a Bearer token.
        batch_size: the most records in one request.
        timeout: seconds an attempt of a request may take.
        max_attempts: attempts per request.
        progress: whether to show a progress bar on standard error; by
            default, when it is a terminal.

    Raises:
        UploadError: if the upload cannot be made or completed.
        HttpCollectorError: if a request failed for good.
        OSError: if the run cannot be read.
        NotARunError: if the path holds no run.
    """
    if is_service_url(path):
        raise UploadError(
            "%s is a URL: upload sends a run held here (a run directory, an"
            " artifacts directory or a push items file) to a service" % path
        )
    run = open_run(path)
    try:
        uploader = _Uploader(url, token, timeout, max_attempts)
    except (TypeError, ValueError) as error:
        raise UploadError("cannot upload to that URL: %s" % error) from None
    try:
        marker = _open_marker(run)
        uploader.run_id = marker.run_id
        records_held = uploader.records_held()
        new_run = marker.prefix_problem(run, records_held)
        if new_run is not None:
            marker = marker.renewed(run)
            uploader.run_id = marker.run_id
            # A new random id: the service holds nothing of it.
            records_held = 0
        result = UploadResult(
            run,
            marker.run_id,
            uploader.url + run_path(marker.run_id),
        )
        result.new_run = new_run
        result.records_held = records_held
        files = run.files()
        if progress is None:
            progress = sys.stderr.isatty()
        sizes = _sizes(run, files)
        with _progress_bar(progress, sum(sizes)) as bar:
            _Sending(uploader, bar, marker).run(
                run, files, sizes[0], result, batch_size
            )
    finally:
        uploader.close()
    return result


def upload_run_id(run) -> str:
    """The run id the run is uploaded under: made on its first upload.

    It is kept in a marker file: ``.pushcollector-upload`` in the run
    directory, or ``.{name}.pushcollector-upload`` beside a push items file
    opened alone. Made once, atomically, so that uploads at the same time
    agree on it: the run's name (what of it a run id may hold), ``-`` and
    16 random hex digits.

    Raises:
        UploadError: if the marker cannot be made, or holds no run id.
        OSError: if it cannot be read, or is not a regular file.
    """
    return _open_marker(run).run_id


class _Marker:
    """What the uploads of a run keep in its marker, for the uploads after
    them.

    The first line is the run id. Each line after it is appended before
    what it stands for is sent, so that the service never holds what the
    marker does not account for:

    * ``items LENGTH DIGEST``: the records sent come from the first LENGTH
      bytes of the push items file, of BLAKE2b DIGEST (the largest LENGTH
      counts);
    * ``file GENERATION DIGEST NAME``: file NAME (as JSON) is sent with the
      content of SHA-256 DIGEST, its GENERATION-th content sent (the last
      line of a name counts).

    Lines are appended in one write each, so that uploads at the same time
    never mix their lines.
    """

    def __init__(self, path, run_id):
        self.path = path
        self.run_id = run_id
        self.items_length = 0
        self.items_digest = None
        self.files = {}

    def prefix_problem(self, run, records_held):
        """Why the run the marker names is not this run's to resume, or None
        if it is: the push items file must begin with the bytes its records
        were sent from."""
        if self.items_digest is None:
            if not records_held:
                return None
            return (
                "the service holds %d records of run %s, but %s keeps no digest"
                " of the file they were sent from"
                % (records_held, self.run_id, self.path)
            )
        try:
            digest = _prefix_digest(run.items_path, self.items_length)
        except FileNotFoundError:
            digest = None
        if digest == self.items_digest:
            return None
        return "%s is not the file run %s was uploaded from (its first %d bytes %s)" % (
            run.items_path,
            self.run_id,
            self.items_length,
            "differ" if digest else "are not there",
        )

    def renewed(self, run):
        """The marker of a new run id, in place of this one."""
        run_id = _new_run_id(run.name)
        staging = _staged_marker(self.path, run_id)
        try:
            os.replace(staging, self.path)
        except OSError as error:
            os.unlink(staging)
            raise _unwritable(self.path, error) from None
        return _Marker(self.path, run_id)

    def note_items(self, length, digest):
        """Keep that the records about to be sent come from the first
        ``length`` bytes of the push items file, of this digest."""
        if length > self.items_length:
            self._append("items %d %s\n" % (length, digest))
            self.items_length, self.items_digest = length, digest

    def file_generation(self, name, digest):
        """The generation of the file's content about to be sent: the last
        one's if the content is the same, else a new one, kept first."""
        known = self.files.get(name)
        if known is not None and known[1] == digest:
            return known[0]
        generation = 1 if known is None else known[0] + 1
        self._append("file %d %s %s\n" % (generation, digest, json.dumps(name)))
        self.files[name] = (generation, digest)
        return generation

    def _append(self, line):
        # Opened as readers open it (O_RDONLY is 0): no link followed, no
        # FIFO waited for.
        flags = READ_FLAGS | os.O_WRONLY | os.O_APPEND
        try:
            fd = regular_file_opened(os.open(self.path, flags), self.path)
            try:
                os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
        except OSError as error:
            raise _unwritable(self.path, error) from None


def _unwritable(path, error):
    return UploadError(
        "cannot record in %s what the upload sends: %s (the upload keeps it"
        " there, so that uploading the run again resumes it)"
        % (path, error.strerror or error)
    )


def _prefix_digest(path, length):
    """The BLAKE2b digest of the first ``length`` bytes of a file; None if
    it is shorter."""
    hasher = hashlib.blake2b(digest_size=32)
    with open(open_regular_file(path), "rb") as content:
        while length:
            chunk = content.read(min(length, FILE_PIECE_BYTES))
            if not chunk:
                return None
            hasher.update(chunk)
            length -= len(chunk)
    return hasher.hexdigest()


def _open_marker(run):
    """The run's marker, made with a new run id if it has none."""
    path = _marker_path(run)
    marker = _read_marker(path)
    if marker is not None:
        return marker
    # Written whole under a name of its own, then linked to the marker's
    # name, which fails if the marker exists: readers never see a marker
    # half written, and of uploads at the same time one id wins.
    staging = _staged_marker(path, _new_run_id(run.name))
    try:
        os.link(staging, path)
    except FileExistsError:
        pass  # Another upload made it first: its id is the run's.
    finally:
        os.unlink(staging)
    return _read_marker(path)


def _staged_marker(path, run_id):
    """A new marker of that run id, beside path, under a staging name."""
    directory = os.path.dirname(path)
    # The name is the local backend's staging files', which no reader takes
    # for a file of the run, should the process die before removing it.
    staging = os.path.join(directory, STAGING_PREFIX + os.urandom(16).hex())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(staging, flags, 0o644)
    except OSError as error:
        raise UploadError(
            "cannot record the run id of the upload in %s: %s (the upload keeps"
            " it there, so that uploading the run again resumes it)"
            % (directory, error.strerror or error)
        ) from None
    try:
        with open(fd, "w", encoding="ascii") as staged:
            staged.write(run_id + "\n")
    except BaseException:
        os.unlink(staging)
        raise
    return staging


def _marker_path(run):
    if run.directory is not None:
        return os.path.join(run.directory, UPLOAD_MARKER)
    directory, name = os.path.split(run.items_path)
    return os.path.join(directory, ".%s%s" % (name, UPLOAD_MARKER))


def _read_marker(path):
    """The marker at path, or None if there is none."""
    try:
        fd = open_regular_file(path)
    except FileNotFoundError:
        return None
    with open(fd, "rb") as marker_file:
        data = marker_file.read(_MARKER_LIMIT + 1)
    if len(data) > _MARKER_LIMIT:
        raise _not_a_marker(path, "is larger than %d bytes" % _MARKER_LIMIT)
    lines = data.decode("ascii", "replace").split("\n")
    if not lines[-1]:
        lines.pop()
    elif len(lines) > 1:
        # Only a run id alone may go without its newline.
        raise _not_a_marker(path, "ends with a line cut short")
    if not lines or not RUN_ID_PATTERN.match(lines[0]):
        raise UploadError(
            "%s holds no run id: it should hold the id this run was uploaded"
            " under; remove it to upload the run under a new id" % path
        )
    marker = _Marker(path, lines[0])
    for number, line in enumerate(lines[1:], 2):
        items = _ITEMS_LINE.match(line)
        if items is not None:
            length = int(items.group(1))
            if length > marker.items_length:
                marker.items_length = length
                marker.items_digest = items.group(2)
            continue
        known = _FILE_LINE.match(line)
        try:
            name = json.loads(known.group(3)) if known else None
        except ValueError:
            name = None
        if type(name) is not str:
            raise _not_a_marker(path, "line %d is not one the upload writes" % number)
        marker.files[name] = (int(known.group(1)), known.group(2))
    return marker


def _not_a_marker(path, problem):
    return UploadError(
        "%s %s: remove it to upload the run under a new id" % (path, problem)
    )


def _new_run_id(name):
    stem = NOT_IN_RUN_ID.sub("_", name).lstrip(".")
    stem = stem[: MAX_RUN_ID_LENGTH - 1 - 2 * _RANDOM_BYTES] or "run"
    return "%s-%s" % (stem, os.urandom(_RANDOM_BYTES).hex())


def _sizes(run, files):
    """The size of the items file, then of each file, for the progress bar;
    a file gone counts as empty."""
    paths = [run.items_path]
    paths.extend(os.path.join(run.directory, name) for name in files)
    sizes = []
    for path in paths:
        try:
            sizes.append(os.lstat(path).st_size)
        except OSError:
            sizes.append(0)
    return sizes


class _NoBar:
    """A progress bar that shows nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def update(self, count):
        pass


def _progress_bar(shown, total):
    if not shown:
        return _NoBar()
    # Imported only here: only a progress bar on a terminal needs it.
    import tqdm

    return tqdm.tqdm(
        total=total,
        desc="uploading",
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        leave=True,
    )


class _Lines:
    """The lines of a stream, each given with its number kept in ``number``
    and itself in ``line`` until the next is given; and the length and
    digest of what was read, for the marker."""

    __slots__ = ("_lines", "number", "line", "_hasher", "_unhashed", "_length")

    def __init__(self, lines):
        self._lines = lines
        self.number = 0
        self.line = None
        self._hasher = hashlib.blake2b(digest_size=32)
        self._unhashed = []
        self._length = 0

    def __iter__(self):
        unhashed = self._unhashed
        for self.number, self.line in enumerate(self._lines, 1):
            unhashed.append(self.line)
            # Hashed a thousand lines at a time: much quicker than one, and
            # the lines of records skipped as held are not all kept.
            if len(unhashed) == _LINES_HASHED_AT_ONCE:
                self._hash()
            yield self.line

    def _hash(self):
        # The bytes as they are in the file: undecodable ones were read as
        # surrogates, which encode back to them.
        data = "".join(self._unhashed).encode("utf-8", "surrogateescape")
        self._unhashed.clear()
        self._hasher.update(data)
        self._length += len(data)

    def read(self):
        """``(length, digest)``: how many bytes of the file were read, and
        the hex BLAKE2b digest of them."""
        self._hash()
        return self._length, self._hasher.hexdigest()


def _readable_lines(lines, on_bad_line):
    """(line number, line, record) of each record :meth:`Run.records` reads,
    from the :class:`_Lines` of a run's ``item_lines()``.

    The same lines, judged by the same parser with the same reports of the
    others, but with the text of each line, which is what is sent.
    """
    # The parser takes a line, and gives its record before the next.
    for record in records_of_lines(lines, on_bad_line):
        yield lines.number, lines.line, record


class _Sending:
    """The requests of one upload, queued a few ahead of the service."""

    def __init__(self, uploader, bar, marker):
        self.uploader = uploader
        self.bar = bar
        self.marker = marker
        self.pending = collections.deque()
        self.lines = None

    def run(self, run, files, items_size, result, batch_size):
        shown = self.send_records(run, result, batch_size)
        # What the bar did not count: unreadable lines, and characters
        # beyond the first of each that UTF-8 encodes in several bytes.
        self.bar.update(max(0, items_size - shown))
        for name in files:
            try:
                checked_filename(name)
            except ValueError as error:
                result.files_not_sent.append((name, str(error)))
                continue
            self.send_file(run, name)
            result.files += 1
        while self.pending:
            self.pending.popleft().result()
        if result.bad_lines or result.not_sent_count:
            # Once the records are there: the run's bad lines, as the local
            # summary counts them, and the records not sent. They come from
            # the file too, which the marker accounts for first: another
            # file in its place must not resume the run that has them.
            self.marker.note_items(*self.lines.read())
            result.bad_lines_recorded = self.uploader.declare_bad_lines(
                _undelivered(result)
            )

    def send(self, method, path, body, content_type, key):
        self.pending.append(self.uploader.send(method, path, body, content_type, key))
        if len(self.pending) > _QUEUED_REQUESTS:
            # Raises the failure of a request, which stops the upload.
            self.pending.popleft().result()

    def send_records(self, run, result, batch_size):
        """Send the records the service does not hold yet, in order."""
        path = push_items_path(self.uploader.run_id)
        held = result.records_held
        validator = push_item_validator()
        is_valid = validator.is_valid
        bar = self.bar
        # Readable lines, checked a batch at a time: the quick checks of a
        # whole batch, then of each record only if one failed.
        chunk_lines, chunk_records, chunk_numbers = [], [], []
        # Records checked: the first ``held`` of them are skipped.
        index = 0
        batch = []
        read = shown = 0
        self.lines = _Lines(item_lines(run))
        lines = _readable_lines(self.lines, result.bad_lines.append)
        while True:
            for line_number, line, record in lines:
                chunk_numbers.append(line_number)
                chunk_lines.append(line)
                chunk_records.append(record)
                if len(chunk_lines) == batch_size:
                    break
            if not chunk_lines:
                break
            if all(map(is_valid, chunk_records)) and _all_json(chunk_records):
                valid = chunk_lines
            else:
                valid = []
                for line_number, line, record in zip(
                    chunk_numbers, chunk_lines, chunk_records
                ):
                    refusal = record_refusal(validator, record)
                    if refusal is None:
                        valid.append(line)
                    else:
                        result._not_sent(line_number, refusal)
            read += sum(map(len, chunk_lines))
            chunk_lines, chunk_records, chunk_numbers = [], [], []
            if index + len(valid) <= held:
                index += len(valid)
                valid = []
            elif index < held:
                valid = valid[held - index :]
                index = held
            for line in valid:
                batch.append(line)
                if len(batch) == batch_size:
                    self.send_batch(path, index, batch)
                    index += len(batch)
                    result.records_sent += len(batch)
                    batch = []
            bar.update(read)
            shown += read
            read = 0
        if batch:
            self.send_batch(path, index, batch)
            index += len(batch)
            result.records_sent += len(batch)
        if index < held:
            raise UploadError(
                "the service holds %d records of run %s, more than the %d of %s:"
                " was the run changed since it was uploaded?"
                % (held, self.uploader.run_id, index, run.items_path)
            )
        return shown

    def send_batch(self, path, first, lines):
        # The marker accounts for these records before they are sent.
        self.marker.note_items(*self.lines.read())
        body = ("[" + ",".join(lines) + "]").encode("utf-8")
        # By the first record alone: the service refuses the key for another
        # body, such as a batch of other records from the same index.
        self.send("POST", path, body, JSON_TYPE, "records:%d" % first)

    def send_file(self, run, name):
        """Send a file whole, in pieces: the first replaces the file."""
        path = os.path.join(run.directory, name)
        url_path = file_path(self.uploader.run_id, name)
        fd = open_file_under(run.directory, name)
        with open(fd, "rb") as content:
            whole = hashlib.sha256()
            for piece in iter(lambda: content.read(FILE_PIECE_BYTES), b""):
                whole.update(piece)
            digest = whole.hexdigest()
            generation = self.marker.file_generation(name, digest)
            content.seek(0)
            sent = hashlib.sha256()
            offset = 0
            while True:
                piece = content.read(FILE_PIECE_BYTES)
                if not piece and offset:
                    break
                sent.update(piece)
                key = (
                    "file:"
                    + hashlib.sha256(
                        ("%s\0%s\0%d\0%d" % (name, digest, generation, offset)).encode(
                            "utf-8"
                        )
                    ).hexdigest()
                )
                self.send(
                    "PUT" if offset == 0 else "POST", url_path, piece, BYTES_TYPE, key
                )
                offset += len(piece)
                self.bar.update(len(piece))
                if len(piece) < FILE_PIECE_BYTES:
                    break
        if sent.hexdigest() != digest:
            raise UploadError(
                "%s changed while it was uploaded: upload the run again once it"
                " no longer changes" % path
            )


# The reason the service keeps for a record not sent; the upload's warnings
# give the first ones' own.
_NOT_SENT_REASON = "not sent: the service refuses this record"


def _undelivered(result):
    """The lines not sent, as the service takes them: the bad lines of the
    local run, and the records it would refuse, in the order of the file."""
    lines = [
        {"line": bad.line_number, "reason": bad.reason} for bad in result.bad_lines
    ]
    lines.extend(
        {"line": number, "reason": _NOT_SENT_REASON}
        for number in result._not_sent_lines
    )
    lines.sort(key=lambda line: line["line"])
    return lines


def _all_json(records):
    """Whether every record keeps the JSON rule (the quick check of all)."""
    try:
        check_json_values(records)
    except PushItemValueError:
        return False
    return True


def describe_failure(error: HttpCollectorError) -> str:
    """What to tell the user of a request of the upload that failed."""
    message = " ".join(str(error).split())
    if error.status in (401, 403):
        message += " (the token is taken from $PUSHCOLLECTOR_HTTP_TOKEN)"
    return message
