"""Log lines: cutting byte streams into lines, and the on-disk form of an attempt's log.

Pure and standard library only. Backends feed the raw bytes they read into a
:class:`LineSplitter` (one per stream) and report whole lines; the store writes each batch with
:func:`format_log_lines` and reads files back with :func:`parse_log_text` / :func:`parse_log_line`.

The on-disk form is one record per line, like ``docker logs --timestamps``::

    2026-11-27T07:22:53.123456789Z O text of a stdout line
    2026-11-27T07:22:53.123456789Z E text of a stderr line

The timestamp has a fixed width (30 characters), then ``O`` or ``E``, each followed by one space;
everything after the second space, up to the ``\\n``, is the text, verbatim (spaces, ``\\r``,
control characters and any Unicode included). Records are separated by ``\\n`` only: read files
with :func:`parse_log_text`, or ``open(path, encoding="utf-8", newline="\\n")`` and never
``str.splitlines``, which would also cut at ``\\r``, ``\\x0c``, ``\\u2028`` and friends.
"""

from __future__ import annotations

import calendar
import time
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "STDERR",
    "STDOUT",
    "LineSplitter",
    "LogLine",
    "format_log_lines",
    "format_timestamp",
    "parse_log_line",
    "parse_log_text",
    "parse_timestamp",
]

STDOUT = "stdout"
STDERR = "stderr"

DEFAULT_MAX_LINE_BYTES = 1 << 20
"""A line longer than this (1 MiB) is cut into pieces of at most this many bytes."""

_ENCODING = "utf-8"
_ERRORS = "replace"
_NEWLINE = b"\n"
_STAMP_LEN = 30  # len("2026-11-27T07:22:53.123456789Z")


def _utf8_cut(data: bytes, limit: int) -> int:
    """Where to cut ``data`` at most ``limit`` bytes in without splitting a UTF-8 character.

    Backs off over at most 3 continuation bytes (``0b10xxxxxx``); if the bytes are not UTF-8
    there, cuts at ``limit`` anyway so that progress is always made.
    """
    if limit >= len(data):
        return len(data)
    cut = limit
    for _ in range(4):
        if (data[cut] & 0xC0) != 0x80:
            return cut if cut > 0 else limit
        cut -= 1
        if cut <= 0:
            break
    return limit


class LineSplitter:
    """Cuts a byte stream into text lines, whatever the sizes of the chunks it arrives in.

    :meth:`feed` returns the lines completed by a chunk, without their ``\\n``; the bytes after
    the last ``\\n`` wait for the next chunk, so no line and no multi-byte character is ever cut
    in two by a chunk boundary. :meth:`flush` returns the last, unterminated line at the end of
    the stream. Text is decoded as UTF-8 with ``errors="replace"`` (invalid bytes become
    U+FFFD); ``\\r`` is kept as it is (a ``\\r\\n`` line ends in ``\\r``).

    A line longer than ``max_line_bytes`` is cut into pieces of at most that many bytes (at a
    character boundary), each returned as a line: memory stays bounded and nothing is lost.

    The common case costs one ``bytes.join``, one ``decode`` and one ``str.split`` per chunk:
    a million short lines in 64 KiB chunks take a few tens of milliseconds.
    """

    __slots__ = ("_max", "_pending", "_pending_len")

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be at least 1, not {max_line_bytes}")
        self._max = max_line_bytes
        self._pending: list[bytes] = []  # bytes of the current, unterminated line
        self._pending_len = 0

    @property
    def max_line_bytes(self) -> int:
        return self._max

    @property
    def pending_bytes(self) -> int:
        """How many bytes of an unterminated line are waiting for the rest of it."""
        return self._pending_len

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by ``data`` (with any carried-over start), without newlines."""
        last = data.rfind(_NEWLINE)
        if last < 0:
            if data:
                self._pending.append(data)
                self._pending_len += len(data)
                if self._pending_len > self._max:
                    return self._cut_pending()
            return []
        first_len = self._pending_len + data.find(_NEWLINE)
        tail = data[last + 1 :]
        if self._pending:
            self._pending.append(data[: last + 1])
            complete = b"".join(self._pending)
        else:
            complete = data[: last + 1]
        self._pending = [tail] if tail else []
        self._pending_len = len(tail)
        if first_len > self._max or (len(data) > self._max and self._has_long_line(complete)):
            lines = self._split_long(complete)
        else:
            # A "\n" byte never occurs inside a multi-byte UTF-8 character, so the complete part
            # ends on a character boundary and can be decoded in one call.
            lines = complete.decode(_ENCODING, _ERRORS).split("\n")
            lines.pop()  # the empty string after the final "\n"
        if self._pending_len > self._max:
            lines.extend(self._cut_pending())
        return lines

    def flush(self) -> list[str]:
        """The last line if the stream did not end with a newline (``[]`` if it did)."""
        if not self._pending:
            return []
        rest = b"".join(self._pending)
        self._pending = []
        self._pending_len = 0
        return [rest.decode(_ENCODING, _ERRORS)]

    def _has_long_line(self, complete: bytes) -> bool:
        start = 0
        limit = self._max
        while True:
            end = complete.find(_NEWLINE, start)
            if end < 0:
                return False
            if end - start > limit:
                return True
            start = end + 1

    def _split_long(self, complete: bytes) -> list[str]:
        """The slow path, only for chunks holding a line over the limit."""
        out: list[str] = []
        for raw in complete.split(_NEWLINE)[:-1]:
            while len(raw) > self._max:
                cut = _utf8_cut(raw, self._max)
                out.append(raw[:cut].decode(_ENCODING, _ERRORS))
                raw = raw[cut:]
            out.append(raw.decode(_ENCODING, _ERRORS))
        return out

    def _cut_pending(self) -> list[str]:
        """Emit the unterminated line in pieces of at most max bytes; keep the remainder."""
        rest = b"".join(self._pending)
        out: list[str] = []
        while len(rest) > self._max:
            cut = _utf8_cut(rest, self._max)
            out.append(rest[:cut].decode(_ENCODING, _ERRORS))
            rest = rest[cut:]
        self._pending = [rest] if rest else []
        self._pending_len = len(rest)
        return out


def format_timestamp(at_ns: int) -> str:
    """``at_ns`` (nanoseconds since the Unix epoch) as UTC RFC 3339 with a fixed width of 30
    characters, as Docker's ``RFC3339NanoFixed``: ``2026-11-27T07:22:53.123456789Z``."""
    seconds, nanos = divmod(at_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_timestamp(stamp: str) -> int:
    """The inverse of :func:`format_timestamp`: nanoseconds since the Unix epoch."""
    if len(stamp) != _STAMP_LEN or stamp[19] != "." or stamp[-1] != "Z":
        raise ValueError(f"not a kadam log timestamp: {stamp!r}")
    seconds = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int(stamp[20:29])


_MARK = {STDOUT: "O", STDERR: "E"}
_STREAM = {"O": STDOUT, "E": STDERR}


def format_log_lines(stream: str, lines: list[str], at_ns: int) -> str:
    """The on-disk form of a batch of lines read from ``stream`` at ``at_ns``.

    One record ``"<timestamp> <O|E> <text>\\n"`` per line, all with the same timestamp; ``""``
    for an empty batch. A text that itself holds a ``\\n`` (which :class:`LineSplitter` never
    produces) becomes one record per piece, so that every record stays on one line.
    """
    if not lines:
        return ""
    try:
        mark = _MARK[stream]
    except KeyError:
        raise ValueError(f"stream must be {STDOUT!r} or {STDERR!r}, not {stream!r}") from None
    prefix = f"{format_timestamp(at_ns)} {mark} "
    sep = "\n" + prefix
    return prefix + "\n".join(lines).replace("\n", sep) + "\n"


class LogLine(NamedTuple):
    """One record of a log file."""

    timestamp: str
    """As written: fixed-width RFC 3339 UTC (see :func:`parse_timestamp` for nanoseconds)."""
    stream: str
    """``"stdout"`` or ``"stderr"``."""
    text: str
    """The line as the process wrote it, without its newline."""


def parse_log_line(line: str) -> LogLine:
    """One record written by :func:`format_log_lines` (a trailing ``"\\n"`` is allowed).

    Raises ValueError for anything else, e.g. a file cut in the middle of a record.
    """
    if line.endswith("\n"):
        line = line[:-1]
    # An empty text leaves "<stamp> O " or, if a tool stripped trailing blanks, "<stamp> O".
    if (
        len(line) < _STAMP_LEN + 2
        or line[_STAMP_LEN] != " "
        or line[_STAMP_LEN - 1] != "Z"
        or (len(line) > _STAMP_LEN + 2 and line[_STAMP_LEN + 2] != " ")
        or line[_STAMP_LEN + 1] not in _STREAM
    ):
        raise ValueError(f"not a kadam log record: {line[:80]!r}")
    return LogLine(line[:_STAMP_LEN], _STREAM[line[_STAMP_LEN + 1]], line[_STAMP_LEN + 3 :])


def parse_log_text(text: str) -> list[LogLine]:
    """Every record in ``text`` (the content of a log file), splitting on ``"\\n"`` only.

    An unterminated last record (a file being written, or cut short) is ignored, because it
    may be incomplete; the next read sees it whole.
    """
    records = text.split("\n")
    records.pop()  # "" after the last "\n", or an unterminated record
    out: list[LogLine] = []
    append = out.append
    new = tuple.__new__
    streams = _STREAM
    for r in records:  # inlined fast path of parse_log_line: files hold millions of records
        if len(r) > 32 and r[30] == " " and r[32] == " " and r[29] == "Z":
            stream = streams.get(r[31])
            if stream is not None:
                append(new(LogLine, (r[:30], stream, r[33:])))
                continue
        append(parse_log_line(r))
    return out
