"""MH folders (nmh, Sylpheed, Claws Mail, exmh): a directory of message files named by number,
sub-folders as sub-directories, and `.mh_sequences` naming message sets ("unseen: 1-3 7",
"flagged: 2", "replied: 4"). A message is \\Seen unless it is in "unseen" (as nmh and Python's
mailbox.MHMessage read it), \\Flagged in "flagged", \\Answered in "replied". The internal date is
the file's mtime, as for Maildir.

Also single-message files: a file that starts with header fields (a saved `.eml`, a message kept
as a file) is one message."""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from .message import FileMessages, PathMessage, StoredMessage, file_head

SEQUENCES = ".mh_sequences"
SEQUENCE_FLAGS = {"flagged": "\\Flagged", "replied": "\\Answered"}
_NUMBER = re.compile(r"[1-9][0-9]*")
# What rmm and refile leave of a message they took away: the file renamed with the profile's
# Backup-Prefix, "," by default (nmh's mh-profile(5)), "#" in older MH set-ups. No mail to migrate.
REMOVED_MH = re.compile(r"[,#][0-9]+")
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
# Fields one of which every message has; a text file whose first line is "Note: ..." has none.
# MIME-only header blocks are mail too (Python's own email test corpus has several).
_MAIL_FIELDS = {b"from", b"to", b"subject", b"date", b"message-id", b"received", b"return-path", b"sender",
                b"mime-version", b"content-type"}


def is_message_entry(entry: os.DirEntry) -> bool:
    """A file of an MH folder that is one of its messages (named by a number; the kind from the
    listing, not a stat per file)."""
    return _NUMBER.fullmatch(entry.name) is not None and entry.is_file()


def message_numbers(path: Path) -> list[int]:
    with os.scandir(path) as entries:
        return sorted(int(e.name) for e in entries if is_message_entry(e))


def is_mh(path: Path) -> bool:
    """A directory with .mh_sequences, or with numbered files that are messages (and no Maildir parts)."""
    if not path.is_dir() or (path / "cur").is_dir():
        return False
    if (path / SEQUENCES).is_file():
        return True
    try:
        numbers = message_numbers(path)
    except OSError:
        return False
    if not numbers:
        return False
    try:
        with (path / str(numbers[0])).open("rb") as handle:
            return looks_like_message(handle.read(8192))
    except OSError:
        return False


def looks_like_message(head: bytes) -> bool:
    """Header fields from the first line on, at least two (or one and a blank line), one of them a
    field mail has. The block
    ends at the blank line, or at the first line that is no field (some mail has no blank line
    before its body: kept as it is, for the server to judge)."""
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    names, blank = [], False
    for n, line in enumerate(lines):
        if line == b"":
            blank = True
            break
        if line[:1] in (b" ", b"\t") and n > 0:
            continue  # a folded continuation
        if not _FIELD.match(line):
            break
        names.append(line.split(b":", 1)[0].strip().lower())
    # One field is enough where a blank line ends it (a bare "Content-Type:" MIME message).
    return (len(names) >= 2 or (len(names) == 1 and blank)) and bool(set(names) & _MAIL_FIELDS)


class Numbers:
    """A sequence's message numbers as sorted, merged ranges: "unseen: 1-1000000" is one range,
    not a set of a million numbers (60 MB; issue 33)."""

    def __init__(self, ranges: list[tuple[int, int]] = ()):
        merged: list[tuple[int, int]] = []
        for low, high in sorted(ranges):
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        self._lows = [low for low, _ in merged]
        self._highs = [high for _, high in merged]

    def __contains__(self, number: int) -> bool:
        at = bisect.bisect_right(self._lows, number) - 1
        return at >= 0 and number <= self._highs[at]

    def __iter__(self) -> Iterator[int]:
        for low, high in zip(self._lows, self._highs):
            yield from range(low, high + 1)


def read_sequences(path: Path) -> dict[str, Numbers]:
    """name -> message numbers, from .mh_sequences ("name: 1-3 7"; lines may be continued)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    file = path / SEQUENCES
    if not file.is_file():
        return {}
    text = re.sub(r"\n[ \t]+", " ", file.read_text(errors="replace"))
    for line in text.splitlines():
        name, sep, parts = line.partition(":")
        if not sep:
            continue
        found = ranges.setdefault(name.strip().lower(), [])
        for part in parts.split():
            low, dash, high = part.partition("-")
            if low.isdigit() and (not dash or high.isdigit()) and int(high or low) >= int(low):
                found.append((int(low), int(high or low)))
    return {name: Numbers(found) for name, found in ranges.items()}


def read_mh(path: Path) -> FileMessages:
    """The folder's messages in number order, flags from its sequences; each read from its file
    when its content is wanted, only its header's first bytes now (for the plan's counts)."""
    sequences = read_sequences(path)
    unseen = sequences.get("unseen", Numbers())
    marked = [(flag, sequences[name]) for name, flag in SEQUENCE_FLAGS.items() if name in sequences]
    messages, folder = FileMessages(path), str(path)
    flag_sets: dict[tuple[bool, ...], frozenset[str]] = {}  # one per combination, not per message
    for number in message_numbers(path):
        entry = os.path.join(folder, str(number))  # a string: a Path per message cost a tenth of the time
        marks = (number not in unseen, *(number in numbers for _, numbers in marked))
        flags = flag_sets.get(marks)
        if flags is None:
            flags = flag_sets[marks] = frozenset(
                [flag for (flag, _), on in zip(marked, marks[1:]) if on] + ["\\Seen"] * marks[0])
        try:
            info, facts = file_head(entry)
        except FileNotFoundError:  # gone since the listing (refiled meanwhile): not there, as in Maildir
            continue
        messages.add(str(number), int(info.st_mtime), flags, facts)
    return messages


def read_message_file(path: Path) -> list[StoredMessage]:
    """A single-message file: one message, dated by its mtime."""
    date = datetime.fromtimestamp(int(path.stat().st_mtime), timezone.utc)
    return [PathMessage(path, frozenset(), date, path.name, "file time")]
