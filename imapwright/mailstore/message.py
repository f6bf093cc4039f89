"""A message outside the server (content, flags, internal date), the metadata headers mbox
readers use to carry flags, and the fingerprint that says two copies are the same message.

Metadata headers (Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase) belong to the mbox, not
to the message: UW imapd, mutt and Cyrus's own tools write them there, so they are taken out on
the way in and put back on the way out, never counted as content.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import os
import re
import stat
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

# Header fields a delivery agent puts on top of a message (Cyrus lmtpd: Return-Path, Received,
# X-Cyrus-Session-Id, X-Sieve; Dovecot: Return-Path, Delivered-To, Received).
TRACE_HEADERS = ("return-path", "received", "delivered-to", "x-original-to", "x-cyrus-session-id", "x-sieve")
METADATA_HEADERS = ("status", "x-status", "x-keywords", "x-uid", "x-imap", "x-imapbase")
SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
_X_STATUS = {"A": "\\Answered", "F": "\\Flagged", "T": "\\Draft", "D": "\\Deleted"}
_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")


def parse_date(text: str) -> datetime | None:
    """An RFC 5322 date (a Date: header's value) in UTC; None for anything that is not one, however
    broken: fuzzed mail has years of 24 digits (OverflowError), which must mean "no date", not
    the end of a migration."""
    try:
        parsed = email.utils.parsedate_to_datetime(text.strip())
        if parsed is None:
            return None
        return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@dataclass(slots=True)  # slots: a plan of a large mbox holds one per message (issue 33)
class StoredMessage:
    content: bytes  # without metadata headers; line ends as the source had them
    flags: frozenset[str] = frozenset()  # IMAP system flags and keywords, never \Recent
    date: datetime | None = None  # internal date, UTC
    sender: str = "MAILER-DAEMON"  # envelope sender of the From_ line, for writing mbox back
    source: str = ""  # where it came from ("work/2026: message 3"), for reports
    uid: int | None = None  # on a server
    date_source: str = ""  # where `date` came from: "From_ line", "Date header", "file time"

    def header_facts(self) -> tuple[bytes | None, bool]:
        """(a key of its Message-ID, whether it has a Date:), from the header block."""
        return header_facts(self.content.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0])


class PathMessage(StoredMessage):
    """A message that is a file of its own (Maildir, MH, a saved .eml), read when its content is
    wanted: a plan of a Maildir of a million messages held every one of them (issue 33). What a
    plan counts of its header (header_facts) is read with it, from the file's first bytes."""

    __slots__ = ("path", "_facts")

    def __init__(self, path: Path, flags: frozenset[str], date: datetime | None, source: str, date_source: str,
                 facts: tuple[bytes | None, bool] | None = None):
        self.path, self.flags, self.date, self.source, self.date_source = path, flags, date, source, date_source
        self.sender, self.uid = "MAILER-DAEMON", None
        self._facts = facts if facts is not None else file_facts(path)

    @property
    def content(self) -> bytes:
        return self.path.read_bytes()

    def header_facts(self) -> tuple[bytes | None, bool]:
        return self._facts


class FileMessages(Sequence):
    """The messages of a folder whose messages are files of their own (Maildir, MH) as a plan keeps
    them: columns (each file's name under the folder, its mtime, a key of its Message-ID, whether
    it has a Date:, an index into the folder's few flag sets), about 110 bytes a message; a
    PathMessage is made when one is looked at. An object per message took 1,172 MB for a Maildir
    of a million (issue 33), four times mailbox.Maildir reading them."""

    def __init__(self, path: Path):
        self.path = path
        self._names: list[str] = []  # "cur/NAME" (Maildir), "17" (MH)
        self._mtime = array("q")  # seconds since the epoch: the internal date
        self._mid = array("q")  # header_facts' Message-ID key as a number; 0: none
        self._dated = bytearray()
        self._kind = array("I")  # index into _flag_sets
        self._flag_sets: list[frozenset[str]] = []
        self._kind_of: dict[frozenset[str], int] = {}

    def add(self, name: str, mtime: int, flags: frozenset[str], facts: tuple[bytes | None, bool]) -> None:
        index = self._kind_of.get(flags)
        if index is None:
            index = self._kind_of[flags] = len(self._flag_sets)
            self._flag_sets.append(flags)
        self._names.append(name)
        self._mtime.append(mtime)
        self._mid.append(key_number(facts[0]))
        self._dated.append(facts[1])
        self._kind.append(index)

    def order_by_date(self) -> None:
        """Oldest first; equal dates in the order added."""
        order = sorted(range(len(self._names)), key=self._mtime.__getitem__)  # stable
        self._names = [self._names[i] for i in order]
        for column in ("_mtime", "_mid", "_kind"):
            old = getattr(self, column)
            setattr(self, column, array(old.typecode, (old[i] for i in order)))
        self._dated = bytearray(self._dated[i] for i in order)

    def __len__(self) -> int:
        return len(self._names)

    def risk_counts(self) -> tuple[int, int, int]:
        return risk_counts(self._mid, self._dated)

    def date_sources(self) -> Iterator[str]:
        return ("file time" for _ in self._names)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        name = self._names[i]
        date = datetime.fromtimestamp(self._mtime[i], timezone.utc)
        return PathMessage(self.path / name, self._flag_sets[self._kind[i]], date, f"{self.path.name}/{name}",
                           "file time", (key_bytes(self._mid[i]), bool(self._dated[i])))


HEAD_BYTES = 256 * 1024  # a header block longer than this is read no further for a plan's counts


def file_facts(path: Path | str) -> tuple[bytes | None, bool]:
    """header_facts of a message that is a file of its own, from its first bytes."""
    return file_head(path)[1]


def file_head(path: Path | str) -> tuple[os.stat_result, tuple[bytes | None, bool]]:
    """(the file's stat, header_facts from its first bytes; (None, False) for no regular file).
    One open, fstat and read, no buffered file object: opening files one by one is most of the
    time of planning a Maildir or an MH folder of a million (issue 33). O_NONBLOCK: a FIFO left in
    a mail folder must not hang the plan (regular files ignore it)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        # No more than the file holds: a buffer of HEAD_BYTES for each file is an mmap and its page
        # faults each time (cProfile: read was two thirds of an MH plan).
        head = os.read(fd, min(HEAD_BYTES, info.st_size)) if stat.S_ISREG(info.st_mode) else None
    finally:
        os.close(fd)
    if head is None:
        return info, (None, False)
    return info, header_facts(head.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0])


def risk_counts(mids, dated) -> tuple[int, int, int]:
    """(messages whose Message-ID key an earlier one has, messages without a Message-ID, messages
    without a Date:) from a plan's columns: `mids` an array of keys as signed 64-bit numbers (0:
    none), `dated` one byte each. The keys seen are kept in an open-addressing table of numbers
    (16 bytes a message), not a set of Python ints (over 60): a set was most of a plan's memory at
    1.7 million messages (issue 33)."""
    size = 1 << max(4, (2 * len(mids)).bit_length())
    mask, table = size - 1, array("q", bytes(8 * size))  # 0: an empty slot (no key is 0)
    shared = without_id = 0
    for mid in mids:
        if mid == 0:
            without_id += 1
            continue
        slot = mid & mask
        while True:
            held = table[slot]
            if held == 0:
                table[slot] = mid
                break
            if held == mid:
                shared += 1
                break
            slot = (slot + 1) & mask
    return shared, without_id, len(dated) - sum(dated)


def key_number(mid: bytes | None) -> int:
    """A Message-ID key as a column's number (0 is "none"; a key that is 0 becomes 1)."""
    return 0 if mid is None else int.from_bytes(mid, "big", signed=True) or 1


def key_bytes(number: int) -> bytes | None:
    return None if number == 0 else number.to_bytes(8, "big", signed=True)


def header_facts(head: bytes) -> tuple[bytes | None, bool]:
    """(a key of its Message-ID: 8 bytes of the BLAKE2b of the id, or None without one; whether
    it has a Date:). Keys, not ids: what a plan compares, kept for a million messages (issue 33)."""
    m = re.search(rb"(?im)^Message-ID:[ \t]*(.*(?:\r?\n[ \t].*)*)", head)
    key = hashlib.blake2b(m[1].strip(), digest_size=8).digest() if m else None
    return key, re.search(rb"(?im)^Date:", head) is not None


@dataclass(frozen=True)
class Fingerprint:
    """Same fingerprint, same message: content digest, flags and internal date to the second."""
    digest: str
    flags: frozenset[str] = field(default_factory=frozenset)
    date: datetime | None = None

    def describe(self) -> str:
        flags = " ".join(sorted(self.flags)) or "no flags"
        when = f"{self.date:%Y-%m-%d %H:%M:%S}" if self.date else "no date"
        return f"{self.digest[:12]} ({flags}; {when})"


def normalize(content: bytes) -> bytes:
    """Line ends as LF, and a final newline: IMAP needs CRLF (RFC 9051 2.2), Unix mbox has LF, and
    neither an mbox without Content-Length nor SMTP/LMTP DATA can carry a missing last newline."""
    content = content.replace(b"\r\n", b"\n")
    return content if content.endswith(b"\n") or not content else content + b"\n"


def content_digest(content: bytes, trace: bool = True) -> str:
    """sha256 of the normalized content; trace=False leaves out the trace header fields at its top
    (on both sides of a comparison), for deliveries, which add their own."""
    return hashlib.sha256(normalize(content if trace else without_trace(content))).hexdigest()


def without_trace(content: bytes) -> bytes:
    """The content less the trace header fields (and their continuation lines) at its very top."""
    lines, rest = _header_block(content)
    skip = 0
    while skip < len(lines):
        match = _FIELD.match(lines[skip])
        if not match or match[1].decode("latin-1").lower() not in TRACE_HEADERS:
            break
        skip += 1
        while skip < len(lines) and lines[skip][:1] in (b" ", b"\t"):
            skip += 1
    return b"".join(lines[skip:]) + rest


def fingerprint(message: StoredMessage, flags: bool = True, date: bool = True) -> Fingerprint:
    """Leave out flags or date for methods that cannot carry them, so the rest is still compared."""
    when = message.date.astimezone(timezone.utc).replace(microsecond=0) if date and message.date else None
    return Fingerprint(content_digest(message.content), message.flags if flags else frozenset(), when)


def to_crlf(content: bytes) -> bytes:
    """Every line end CRLF, as IMAP APPEND and LMTP DATA need (the book's user2cyrus does this)."""
    if b"\r" not in content:  # the usual case (mbox, Maildir): a plain replace, several times faster
        return content.replace(b"\n", b"\r\n")
    return re.sub(rb"\r?\n", b"\r\n", content)


def _header_block(content: bytes) -> tuple[list[bytes], bytes]:
    """The header lines (with line ends) and everything after them (blank line and body)."""
    lines, pos = [], 0
    while pos < len(content):
        end = content.find(b"\n", pos)
        end = len(content) if end < 0 else end + 1
        line = content[pos:end]
        if line in (b"\n", b"\r\n"):
            break
        lines.append(line)
        pos = end
    return lines, content[pos:]


def split_metadata(content: bytes) -> tuple[bytes, frozenset[str], bool]:
    """(content without metadata headers, flags they carried, whether the message is UW imapd's
    "FOLDER INTERNAL DATA" pseudo-message, which is folder state and no mail)."""
    lines, rest = _header_block(content)
    kept, meta, current = [], {}, None
    for line in lines:
        if line[:1] in (b" ", b"\t") and current is not None:  # folded continuation
            if current in METADATA_HEADERS:
                meta[current] += b" " + line.strip()
                continue
            kept.append(line)
            continue
        match = _FIELD.match(line)
        current = match[1].decode("latin-1").lower() if match else None
        if current in METADATA_HEADERS:
            meta[current] = line.split(b":", 1)[1].strip()
        else:
            kept.append(line)
    return b"".join(kept) + rest, _flags(meta), "x-imap" in meta


_META_FIELD = re.compile(rb"^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase)[ \t]*:(.*(?:\r?\n[ \t].*)*)",
                         re.I | re.M)


def metadata(head: bytes) -> tuple[frozenset[str], bool]:
    """split_metadata's flags and pseudo-message mark from a header block alone, without making
    the content anew: what a plan reads of each message of a large mbox (issue 33)."""
    meta = {}
    for m in _META_FIELD.finditer(head):
        first, *more = m[2].split(b"\n")
        value = first.strip()
        for part in more:
            value += b" " + part.strip()
        meta[m[1].decode("latin-1").lower()] = value
    return _flags(meta), "x-imap" in meta


def _flags(meta: dict[str, bytes]) -> frozenset[str]:
    if not meta:
        return frozenset()
    return _flags_of(meta.get("status", b""), meta.get("x-status", b""), meta.get("x-keywords", b""))


@functools.lru_cache(maxsize=4096)  # the same few Status/X-Status/X-Keywords values, message after message
def _flags_of(status: bytes, x_status: bytes, keywords: bytes) -> frozenset[str]:
    meta = {"status": status, "x-status": x_status, "x-keywords": keywords}
    flags = set()
    if b"R" in meta.get("status", b""):
        flags.add("\\Seen")
    flags |= {_X_STATUS[c] for c in meta.get("x-status", b"").decode("latin-1") if c in _X_STATUS}
    flags |= {k for k in re.split(r"[\s,]+", meta.get("x-keywords", b"").decode("latin-1")) if k}
    return frozenset(flags)


def with_metadata(content: bytes, flags: frozenset[str]) -> bytes:
    """The content with Status, X-Status and X-Keywords headers for these flags, at the end of its
    header block (line ends matching the message's own). Metadata headers the message already
    holds (a Maildir message stored with its own Status: RO) are replaced, never doubled."""
    lines, rest = _header_block(split_metadata(content)[0])
    newline = b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"
    status = "RO" if "\\Seen" in flags else "O"
    x_status = "".join(c for c, flag in _X_STATUS.items() if flag in flags)
    keywords = sorted(f for f in flags if not f.startswith("\\"))
    extra = [f"Status: {status}", f"X-Status: {x_status}"] + ([f"X-Keywords: {' '.join(keywords)}"] if keywords else [])
    if lines and not lines[-1].endswith(b"\n"):  # headers only, last one without a newline
        lines[-1] += newline
    return b"".join(lines) + b"".join(e.encode() + newline for e in extra) + rest
