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
from pathlib import Path

from .message import FileMessages, StoredMessage, file_head

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


def read_maildir(path: Path) -> FileMessages:
    """Messages of new/ and cur/ (hidden files, as Maildir readers do, left out), oldest first (by
    internal date, then place); each read from its file when its content is wanted, only its
    header's first bytes now (for the plan's counts)."""
    messages = FileMessages(path)
    for sub in ("cur", "new"):
        with os.scandir(path / sub) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith("."))
        folder = os.path.join(path, sub)
        for name in names:
            entry = os.path.join(folder, name)  # a string: a Path per message cost a tenth of the time
            try:
                info, facts = file_head(entry)
            except FileNotFoundError:  # gone since the listing (a client moved it): not there
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            flags = flags_of(name) if sub == "cur" else frozenset()
            messages.add(f"{sub}/{name}", int(info.st_mtime), flags, facts)
    messages.order_by_date()
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
