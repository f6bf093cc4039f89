"""Maildir folders: one file per message, flags in the name after ":2," (or "!2," where ":" is
not allowed in file names), the internal date in the file's mtime. Read file by file from new/ and
cur/: the standard library's mailbox.Maildir keys messages by their unique name, so two files of
the same name in new/ and cur/ (a crash between delivery and the move, a copy by hand) became one.
Writing is done here too: mailbox.Maildir.add re-renders message objects and takes flags and date
only from them."""

from __future__ import annotations

import functools
import os
import secrets
import stat
import time
from array import array
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from .message import PathMessage, StoredMessage, file_facts, key_bytes, key_number, risk_counts

# Maildir info letters (https://cr.yp.to/proto/maildir.html) and the IMAP flags they stand for.
LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
PARTS = ("cur", "new", "tmp")


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def flags_of(name: str) -> frozenset[str]:
    for mark in (":2,", "!2,"):
        if mark in name:
            return _flags_of_info(name.rsplit(mark, 1)[1])
    return frozenset()


@functools.lru_cache(maxsize=1024)  # one set per distinct info part, shared: a set each was ~200 bytes a message
def _flags_of_info(info: str) -> frozenset[str]:
    return frozenset(LETTERS[c] for c in info if c in LETTERS)


class MaildirMessages(Sequence):
    """The messages of one Maildir as a plan keeps them: columns (its file's name, mtime, a key of
    its Message-ID, whether it has a Date:, an index into the folder's few flag sets), about 110
    bytes a message; a PathMessage is made when one is looked at. An object per message took
    1,172 MB for a Maildir of a million (issue 33), four times mailbox.Maildir reading them."""

    def __init__(self, path: Path):
        self.path = path
        self._names: list[str] = []  # "cur/NAME"
        self._mtime = array("q")  # seconds since the epoch
        self._mid = array("q")  # header_facts' Message-ID key as a number; 0: none
        self._dated = bytearray()
        self._kind = array("I")  # index into _flag_sets
        self._flag_sets: list[frozenset[str]] = []
        self._kind_of: dict[frozenset[str], int] = {}

    def _add(self, name: str, mtime: int, flags: frozenset[str], facts: tuple[bytes | None, bool]) -> None:
        index = self._kind_of.get(flags)
        if index is None:
            index = self._kind_of[flags] = len(self._flag_sets)
            self._flag_sets.append(flags)
        self._names.append(name)
        self._mtime.append(mtime)
        self._mid.append(key_number(facts[0]))
        self._dated.append(facts[1])
        self._kind.append(index)

    def _order_by_date(self) -> None:
        """Oldest first; equal dates in the order added (cur/ before new/, then by name)."""
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


def read_maildir(path: Path) -> MaildirMessages:
    """Messages of new/ and cur/ (hidden files, as Maildir readers do, left out), oldest first (by
    internal date, then place); each read from its file when its content is wanted, only its
    header's first bytes now (for the plan's counts)."""
    messages = MaildirMessages(path)
    for sub in ("cur", "new"):
        with os.scandir(path / sub) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith("."))
        for name in names:
            entry = path / sub / name
            try:
                info = entry.stat()
            except FileNotFoundError:  # gone since the listing (a client moved it): not there
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            flags = flags_of(name) if sub == "cur" else frozenset()
            messages._add(f"{sub}/{name}", int(info.st_mtime), flags, file_facts(entry))
    messages._order_by_date()
    return messages


def write_maildir(path: Path, messages: list[StoredMessage]) -> None:
    """A Maildir (created if missing) holding these messages in cur/ with flags and mtimes."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    host = "imapwright"
    for n, message in enumerate(messages):
        letters = "".join(sorted(c for c, flag in LETTERS.items() if flag in message.flags))
        name = f"{int(time.time())}.M{n}P{os.getpid()}R{secrets.token_hex(4)}.{host}"
        tmp = path / "tmp" / name
        tmp.write_bytes(message.content)
        if message.date:
            stamp = message.date.timestamp()
            os.utime(tmp, (stamp, stamp))
        tmp.rename(path / "cur" / f"{name}:2,{letters}")
