"""Berkeley mbox in its four variants, byte for byte.

  mboxo    body lines "From ..." written as ">From ..."; reading turns every ">From " back, so a
           body line that really was ">From ..." comes back changed (the format cannot tell)
  mboxrd   every ">*From " line gets one more ">", reading removes one: reversible
  mboxcl   mboxo quoting (and its ambiguity) plus a Content-Length header; the reader trusts a
           length that lands on the next From_ line or the end of the file
  mboxcl2  no quoting at all, Content-Length alone marks where the message ends

Without Content-Length a message must end in a newline (the blank line before the next From_
line is the separator), so o/rd files cannot keep a missing final newline; cl/cl2 can.
The standard library's mailbox.mbox reads and writes mboxo but never unquotes ">From " on
reading (tests/test_mbox.py shows both), hence this module.
"""

from __future__ import annotations

import io
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO

from .message import StoredMessage, header_facts, key_bytes, key_number, parse_date, risk_counts, split_metadata

VARIANTS = ("mboxo", "mboxrd", "mboxcl", "mboxcl2")
# The date of a From_ line as seen in the wild: asctime ("Thu Jan  1 00:00:00 1970"), with or
# without seconds, with a zone name before the year ("15:26:33 EST 2002") or a numeric zone after
# it; some writers put an RFC 5322 date there instead. Anything else: no date (`From -`,
# `From 1844347792267117879@xxx`).
_ASCTIME = re.compile(r"(?P<wd>[A-Z][a-z]{2}),? +(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) +"
                      r"(?P<time>\d{1,2}:\d\d(?::\d\d)?)(?: +(?P<zone1>[A-Z]{1,5}|[+-]\d{4}))? +(?P<year>\d{4})"
                      r"(?: +(?P<zone2>[A-Z]{1,5}|[+-]\d{4}))?\s*$")
# Zone names (RFC 822 and the US ones From_ lines carry); an unknown name is read as UTC.
ZONES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
         "PST": -8, "PDT": -7, "WET": 0, "BST": 1, "CET": 1, "MET": 1, "CEST": 2, "MEST": 2, "EET": 2, "EEST": 3,
         "JST": 9, "IST": 5.5, "AEST": 10, "AEDT": 11, "NZST": 12}
_MONTHS = {m: i for i, m in enumerate(("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split(), 1)}
_CONTENT_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# git format-patch writes this fixed date on every From_ line ("From <sha> Mon Sep 17 00:00:00 2001"):
# a marker, not when the patch was mailed.
GIT_MAGIC = datetime(2001, 9, 17, tzinfo=timezone.utc)


class MboxError(ValueError):
    """The file is not an mbox of the given variant."""


@dataclass
class MboxMessage:
    content: bytes  # the message as stored, unquoted; mbox metadata headers still in it
    sender: str = "MAILER-DAEMON"
    date: datetime | None = None  # from the From_ line (UTC); None when it has no (usable) date
    offset: int = 0  # of the From_ line, for error messages
    problem: str = ""  # why this message cannot be migrated as it is ("" when it can)


def _zone(text: str | None) -> timedelta:
    if not text:
        return timedelta(0)
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        return sign * timedelta(hours=int(text[1:3]), minutes=int(text[3:5]))
    return timedelta(hours=ZONES.get(text, 0))


def parse_from_date(text: str) -> datetime | None:
    """UTC date of a From_ line's date part, None when there is none. The epoch itself (what
    writers put when they knew no date) counts as none."""
    m = _ASCTIME.match(text.strip())
    if m:
        month = _MONTHS.get(m["mon"])
        parts = [int(p) for p in m["time"].split(":")] + [0]
        try:
            local = datetime(int(m["year"]), month or 0, int(m["day"]), parts[0], parts[1], parts[2])
            when = (local - _zone(m["zone1"] or m["zone2"])).replace(tzinfo=timezone.utc)
        except (ValueError, OverflowError):  # no such day; a zone that leaves the calendar (year 1)
            return None
    else:
        when = parse_date(text)
    return None if when in (EPOCH, GIT_MAGIC) else when


def parse_from_line(line: bytes) -> tuple[str, datetime | None]:
    """Sender and date of a From_ line ("From sender Tue Nov 29 07:44:52 2026"); `From -` and a
    missing sender give MAILER-DAEMON."""
    rest = line[5:].rstrip(b"\r\n").decode("latin-1")
    parts = rest.strip().split(None, 1)
    sender = parts[0] if parts else ""
    if sender in ("", "-"):
        sender = "MAILER-DAEMON"
    return sender, parse_from_date(parts[1]) if len(parts) > 1 else None


def from_line(sender: str, date: datetime | None) -> bytes:
    """A From_ line in the asctime form every reader accepts (UTC: the format has no zone)."""
    when = (date or datetime(1970, 1, 1, tzinfo=timezone.utc)).astimezone(timezone.utc)
    return f"From {sender or 'MAILER-DAEMON'} {when:%a %b %d %H:%M:%S %Y}\n".encode()


# variant -> ((quote pattern, replacement), (unquote pattern, replacement)); mboxcl2 has none.
_QUOTING = {
    "mboxrd": ((rb"(?m)^(>*From )", rb">\1"), (rb"(?m)^>(>*From )", rb"\1")),
    "mboxo": ((rb"(?m)^From ", rb">From "), (rb"(?m)^>From ", rb"From ")),
    "mboxcl": ((rb"(?m)^From ", rb">From "), (rb"(?m)^>From ", rb"From ")),
}


def _quote(content: bytes, variant: str, undo: bool = False) -> bytes:
    rules = _QUOTING.get(variant)
    if rules is None:
        return content
    if (b">From " if undo else b"From ") not in content:  # every match holds it; most messages have none
        return content
    pattern, replacement = rules[1 if undo else 0]
    return re.sub(pattern, replacement, content)


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def _at(data, pos: int, prefix: bytes) -> bool:
    """data.startswith(prefix, pos) for bytes and for a memory map (which has no startswith)."""
    return pos >= 0 and data[pos:pos + len(prefix)] == prefix


def _header_end(content: bytes, start: int = 0, limit: int | None = None) -> int | None:
    """Offset (from `start`) just past the blank line ending the header block that begins at
    `start`, or None if there is none before `limit`. Searches in place: no copy of the data."""
    end = len(content) if limit is None else min(limit, len(content))
    if _at(content, start, b"\n") or (_at(content, start, b"\r\n") and end - start >= 2):
        return content.find(b"\n", start) + 1 - start
    # Where _BLANK_LINE (\r?\n\r?\n) would end, by two finds: a regular expression started for
    # each of a million messages was a tenth of a plan's time.
    lf = content.find(b"\n\n", start, end)
    crlf = content.find(b"\n\r\n", start, end if lf < 0 else lf + 1)  # only one before it counts
    if lf < 0 and crlf < 0:
        return None
    return (lf + 2 if crlf < 0 or 0 <= lf < crlf else crlf + 3) - start


def write_mbox(messages: Iterable[MboxMessage], variant: str = "mboxrd") -> bytes:
    out = io.BytesIO()
    write_mbox_to(out, messages, variant)
    return out.getvalue()


def write_mbox_to(out: BinaryIO, messages: Iterable[MboxMessage], variant: str = "mboxrd") -> int:
    """Write the messages as they come (a folder of a million is never held whole); how many."""
    if variant not in VARIANTS:
        raise MboxError(f"unknown mbox variant {variant!r} (one of {', '.join(VARIANTS)})")
    count = 0
    for message in messages:
        out.write(from_line(message.sender, message.date))
        content = _quote(message.content, variant)
        if variant in ("mboxcl", "mboxcl2"):
            content = _with_content_length(content)
            out.write(content)
            out.write(b"\n" if content.endswith(b"\n") else b"\n\n")
        else:
            out.write(content if content.endswith(b"\n") else content + b"\n")
            out.write(b"\n")
        count += 1
    return count


def _with_content_length(content: bytes) -> bytes:
    """Content-Length as the first header line, so reading can drop exactly what was added."""
    end = _header_end(content)
    return f"Content-Length: {0 if end is None else len(content) - end}\n".encode() + content


def read_mbox(data: bytes, variant: str = "mboxrd") -> list[MboxMessage]:
    """Messages of an mbox file. MboxError only for a file that is not an mbox at all; a message
    that cannot be migrated as it is (cut short) comes back with its `problem` set, so one bad
    message does not hide the others. What the server makes of the rest is the server's to say.

    A message ends at the next From_ line that follows a blank line, or at a From_ line without
    the blank line before it when that line has a sender and a date (files some tools write; a
    body line "From here on..." is not a From_ line). A Content-Length header is followed (in every
    variant) when it lands exactly on the next From_ line or the end of the file."""
    return [MboxMessage(unquoted(data[s.start:s.stop], variant), s.sender, s.date, s.offset, s.problem)
            for s in scan_mbox(data, variant)]


@dataclass
class Span:
    """Where one message of an mbox is: its From_ line at `offset`, its stored bytes
    data[start:stop] (quoted, Content-Length still in), and what its From_ line says."""
    offset: int
    start: int
    stop: int
    sender: str
    date: datetime | None
    problem: str


def scan_mbox(data, variant: str = "mboxrd") -> Iterator[Span]:
    """The messages of an mbox (bytes, or a memory map of the file: nothing is copied but the
    lines looked at), one at a time, in time proportional to the file. See read_mbox."""
    if variant not in VARIANTS:
        raise MboxError(f"unknown mbox variant {variant!r} (one of {', '.join(VARIANTS)})")
    if not len(data):
        return
    if not _at(data, 0, b"From "):
        raise MboxError("not an mbox file: the first line is not a From_ line")
    pos, number, size = 0, 0, len(data)
    ends_in_newline = data[size - 1:size] == b"\n"
    while pos < size:
        number += 1
        newline = data.find(b"\n", pos)
        line_end = size if newline < 0 else newline + 1
        sender, date = parse_from_line(data[pos:line_end])
        stop, next_start, problem = None, None, ""
        try:
            stop, next_start = _by_content_length(data, line_end, number)
        except MboxError as exc:
            problem = str(exc)
        if stop is None:
            stop, next_start = _by_separator(data, line_end)
        # A message that does not start with a header field is still sent: Dovecot stores it as it
        # is, Cyrus refuses it ("Message contains invalid header"), and either outcome is counted.
        if next_start == size and not ends_in_newline:
            problem = problem or "the file ends inside it (no newline at the end): cut short"
        yield Span(pos, line_end, stop, sender, date, f"message {number} (byte {pos}): {problem}" if problem else "")
        pos = next_start


class FileMessage(StoredMessage):
    """A message of an mbox file, read from the file when its content is wanted. Flags and dates
    were read from its header at plan time; its content is the message as stored, unquoted,
    metadata headers left out. Made on demand by MboxMessages, which is what a plan keeps."""

    __slots__ = ("path", "start", "stop", "variant", "_facts")

    def __init__(self, path: Path, start: int, stop: int, variant: str, flags: frozenset[str],
                 date: datetime | None, sender: str, source: str, date_source: str,
                 facts: tuple[bytes | None, bool] | None = None):
        self.path, self.start, self.stop, self.variant = path, start, stop, variant
        self.flags, self.date, self.sender, self.source = flags, date, sender, source
        self.uid, self.date_source = None, date_source
        self._facts = facts

    def header_facts(self) -> tuple[bytes | None, bool]:
        return self._facts if self._facts is not None else super().header_facts()

    @property
    def content(self) -> bytes:
        with self.path.open("rb") as handle:
            handle.seek(self.start)
            raw = handle.read(self.stop - self.start)
        return split_metadata(unquoted(raw, self.variant))[0]


_NO_DATE = -(1 << 63)  # MboxMessages' date column: no date


class MboxMessages(Sequence):
    """The messages of one mbox file as a plan keeps them: columns of numbers (where each one is,
    its date, a key of its Message-ID, an index into the few flag sets, senders and date sources
    the file has), about 50 bytes a message; FileMessage objects are made when a message is
    looked at. An object per message took about 550 bytes: 550 MB for a million (issue 33)."""

    def __init__(self, path: Path, variant: str, label: str):
        self.path, self.variant, self.label = path, variant, label
        self._start, self._stop = array("q"), array("q")
        self._number = array("I")  # its place in the file, for "FOLDER: message N"
        self._date = array("q")  # microseconds since the epoch, UTC; _NO_DATE: none
        self._mid = array("q")  # header_facts' Message-ID key as a number; 0: no Message-ID
        self._dated = bytearray()  # whether its header has a Date:
        self._kind = array("I")  # index into _kinds: (flags, sender, date source)
        self._kinds: list[tuple[frozenset[str], str, str]] = []
        self._kind_of: dict[tuple, int] = {}

    def add(self, number: int, span: Span, flags: frozenset[str], date: datetime | None, date_source: str,
            facts: tuple[bytes | None, bool]) -> None:
        kind = (flags, span.sender, date_source)
        index = self._kind_of.get(kind)
        if index is None:
            index = self._kind_of[kind] = len(self._kinds)
            self._kinds.append(kind)
        self._start.append(span.start)
        self._stop.append(span.stop)
        self._number.append(number)
        self._date.append(_NO_DATE if date is None else (date - EPOCH) // _MICROSECOND)
        mid, dated = facts
        self._mid.append(key_number(mid))
        self._dated.append(dated)
        self._kind.append(index)

    def __len__(self) -> int:
        return len(self._start)

    def risk_counts(self) -> tuple[int, int, int]:
        return risk_counts(self._mid, self._dated)

    def date_sources(self) -> Iterator[str]:
        kinds = self._kinds
        return (kinds[k][2] for k in self._kind)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        flags, sender, date_source = self._kinds[self._kind[i]]
        micros, mid = self._date[i], self._mid[i]
        return FileMessage(self.path, self._start[i], self._stop[i], self.variant, flags,
                           None if micros == _NO_DATE else EPOCH + micros * _MICROSECOND, sender,
                           f"{self.label}: message {self._number[i]}", date_source,
                           (key_bytes(mid), bool(self._dated[i])))


_MICROSECOND = timedelta(microseconds=1)


def header_block(data, span: Span, limit: int = 256 * 1024) -> bytes:
    """The message's header block (up to and with its blank line), or its first `limit` bytes."""
    end = _header_end(data, span.start, min(span.stop, span.start + limit))
    return bytes(data[span.start:span.start + end if end is not None else min(span.stop, span.start + limit)])


def unquoted(raw: bytes, variant: str) -> bytes:
    """A message as stored in the mbox, as it was: the added Content-Length dropped, From_ quoting undone."""
    if variant in ("mboxcl", "mboxcl2"):
        raw = _drop_content_length(raw)
    return _quote(raw, variant, undo=True)


def _by_content_length(data: bytes, start: int, number: int) -> tuple[int | None, int | None]:
    head_end = _header_end(data, start, start + 256 * 1024)
    if head_end is None:
        return None, None
    match = _CONTENT_LENGTH.search(data, start, start + head_end)
    if not match:
        return None, None
    stop = start + head_end + int(match[1])
    if stop > len(data):
        raise MboxError(f"Content-Length {match[1].decode()} reaches past the end of the file: cut short")
    # Trust the length only if the next message (or the end of the file) follows it.
    for gap in (b"\n", b"\n\n", b""):
        after = stop + len(gap)
        if data[stop:after] == gap and (after == len(data) or _at(data, after, b"From ")):
            return stop, after
    return None, None


def _by_separator(data: bytes, start: int) -> tuple[int, int]:
    """(end of this message, start of the next): see read_mbox for what makes a From_ line."""
    pos = start - 1
    while True:
        found = data.find(b"\nFrom ", pos)
        if found < 0:
            break
        line_start = found + 1
        # Looked at in place: slicing everything before `found` made reading quadratic (#33).
        blank = found >= start and (_at(data, found - 1, b"\n") or _at(data, found - 2, b"\n\r"))
        if blank:
            return data.rfind(b"\n", 0, found) + 1, line_start
        line_end = data.find(b"\n", line_start)
        if parse_from_line(data[line_start:len(data) if line_end < 0 else line_end])[1] is not None:
            return line_start, line_start
        pos = line_start
    end = len(data)
    # The writer's blank separator line after the last message is not part of it.
    return (end - 1 if end >= 2 and data[end - 2:end] == b"\n\n" and end - 1 >= start else end), end


def _drop_content_length(raw: bytes) -> bytes:
    end = _header_end(raw) or len(raw)
    head = re.sub(rb"(?im)^Content-Length:[ \t]*\d+[ \t]*\r?\n", b"", raw[:end], count=1)
    return head + raw[end:]
