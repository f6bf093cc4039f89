"""Maildir folders: one file per message, flags in the name after ":2,", the internal date in the
file's mtime. Reading goes through the standard library (its get_bytes returns the file as it
is: tests/test_mbox.py checks); writing is done here because mailbox.Maildir.add re-renders
message objects and takes flags and date only from them."""

from __future__ import annotations

import mailbox
import os
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path

from .message import StoredMessage

# Maildir info letters (https://cr.yp.to/proto/maildir.html) and the IMAP flags they stand for.
LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def read_maildir(path: Path) -> list[StoredMessage]:
    """Messages of new/ and cur/, oldest first (by internal date, then name)."""
    box = mailbox.Maildir(str(path), factory=None, create=False)
    messages = []
    for key in box.keys():
        info = box.get_message(key)  # flags and date only; the bytes come from get_bytes
        flags = frozenset(LETTERS[c] for c in info.get_flags() if c in LETTERS)
        date = datetime.fromtimestamp(int(info.get_date()), timezone.utc)
        messages.append((date, key, StoredMessage(box.get_bytes(key), flags, date, source=f"{path.name}/{key}")))
    return [m for _, _, m in sorted(messages, key=lambda t: (t[0], t[1]))]


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
