"""The awkward corpus: messages and folder trees that migrations get wrong, written as real files.

Generated rather than stored (a 10 MB message does not belong in git), deterministic (seeded), and
described message by message so a report can say which kind was lost.
"""

from __future__ import annotations

import base64
import gzip
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .maildir import write_maildir
from .mbox import MboxMessage, write_mbox
from .message import StoredMessage, with_metadata
from .tree import encode_component

BASE_DATE = datetime(2024, 3, 1, 9, 30, 15, tzinfo=timezone.utc)
UW_INTERNAL = (b"Date: Fri, 01 Mar 2024 09:00:00 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@localhost>\n"
               b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nMessage-ID: <uw@localhost>\n"
               b"X-IMAP: 1709283600 0000000012\nStatus: RO\n\n"
               b"This text is part of the internal format of your mail folder, and is not\na real message.\n")


def _message(n: int, subject: str, body: bytes, extra: bytes = b"", message_id: str | None = "",
             newline: bytes = b"\n") -> bytes:
    mid = f"<corpus-{n}@imapwright.test>" if message_id == "" else message_id
    head = [b"From: Corpus Sender <sender@imapwright.test>", b"To: user@imapwright.test",
            f"Subject: {subject}".encode(), f"Date: {(BASE_DATE + timedelta(hours=n)):%a, %d %b %Y %H:%M:%S +0000}".encode()]
    if mid:
        head.append(f"Message-ID: {mid}".encode())
    head += [line for line in extra.split(b"\n") if line]
    return newline.join(head) + newline + newline + body


def awkward_messages(big: bool = True, seed: int = 7) -> list[StoredMessage]:
    """Each kind once, with varied flags and internal dates; `big` adds the 10 MB message."""
    rng = random.Random(seed)
    blob = bytes(rng.getrandbits(8) for _ in range(3000))
    boundary = b"=-=corpus=-="
    attachment = (b"--" + boundary + b"\nContent-Type: text/plain\n\nsee attachment\n--" + boundary +
                  b"\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
                  b"Content-Disposition: attachment; filename=blob.bin\n\n" +
                  base64.encodebytes(blob) + b"--" + boundary + b"--\n")
    kinds = [
        ("plain", _message(1, "plain", b"Hello.\n")),
        ("From lines in the body", _message(2, "from lines", b"text\n\nFrom the start\n>From quoted\n>>From twice\nFrom\n")),
        ("CRLF and LF mixed", _message(3, "mixed line ends", b"crlf line\r\nlf line\ncrlf again\r\n", newline=b"\r\n")),
        ("8-bit body", _message(4, "8bit", "Grüße aus Köln, ½ € — ok\n".encode(),
                                b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit")),
        ("binary attachment (base64)", _message(5, "attachment", attachment,
                                                b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" + boundary + b"\"")),
        ("no final newline", _message(6, "no final newline", b"last line has no newline")),
        ("empty body", _message(7, "empty body", b"")),
        ("10,000-character line", _message(8, "long line", b"x" * 10000 + b"\n")),
        ("duplicate Message-ID (first)", _message(9, "duplicate id one", b"one\n", message_id="<same@imapwright.test>")),
        ("duplicate Message-ID (second)", _message(10, "duplicate id two", b"two\n", message_id="<same@imapwright.test>")),
        ("no Message-ID", _message(11, "no message id", b"none\n", message_id=None)),
        ("identical copy (first)", _message(12, "identical", b"twice the same\n")),
        ("identical copy (second)", _message(12, "identical", b"twice the same\n")),
    ]
    if big:
        payload = base64.encodebytes(rng.randbytes(7_600_000))  # about 10 MB once encoded
        kinds.append(("10 MB message", _message(14, "big", payload,
                                                b"MIME-Version: 1.0\nContent-Type: application/octet-stream\n"
                                                b"Content-Transfer-Encoding: base64")))
    flag_cycle = [frozenset(), frozenset({"\\Seen"}), frozenset({"\\Seen", "\\Answered"}),
                  frozenset({"\\Flagged"}), frozenset({"\\Seen", "$Label1"}), frozenset({"\\Draft"}),
                  frozenset({"\\Seen", "\\Flagged", "\\Answered", "Later"})]
    return [StoredMessage(content, flag_cycle[i % len(flag_cycle)], BASE_DATE + timedelta(days=i, minutes=7 * i),
                          "sender@imapwright.test", kind)
            for i, (kind, content) in enumerate(kinds)]


def mbox_bytes(messages: list[StoredMessage], variant: str = "mboxrd", uw_header: bool = False) -> bytes:
    """An mbox file of these messages, flags in Status/X-Status/X-Keywords headers."""
    entries = [MboxMessage(UW_INTERNAL, "MAILER-DAEMON", BASE_DATE)] if uw_header else []
    entries += [MboxMessage(with_metadata(m.content, m.flags), m.sender, m.date) for m in messages]
    return write_mbox(entries, variant)


# Folder names a migration must encode or keep: spaces, ! & * . and non-ASCII.
AWKWARD_FOLDERS = ("Project Plans", "s!me", "R&D", "star*", "v1.2 notes", "Entwürfe")


def write_awkward_tree(root: Path, messages: list[StoredMessage], variant: str = "mboxrd") -> dict[str, int]:
    """One user's source directory: INBOX (with UW's internal-data message first), awkward
    folder names, a nested folder, a Maildir folder, and everything the plan must skip.
    Returns the expected folder -> message count."""
    root.mkdir(parents=True, exist_ok=True)
    expected = {}
    half = len(messages) // 2
    (root / "INBOX").write_bytes(mbox_bytes(messages[:half], variant, uw_header=True))
    expected["INBOX"] = half
    rest = messages[half:]
    for i, name in enumerate(AWKWARD_FOLDERS):
        chunk = rest[i::len(AWKWARD_FOLDERS)] or rest[:1]
        (root / name).write_bytes(mbox_bytes(chunk, variant))
        expected[encode_component(name)] = len(chunk)
    (root / "archive" / "2023").mkdir(parents=True)
    (root / "archive" / "2023" / "old mail").write_bytes(mbox_bytes(messages[:2], variant))
    expected["archive.2023.old mail"] = 2
    write_maildir(root / "maildir folder", messages[2:4])
    expected["maildir folder"] = 2
    # Skipped, each for its reason.
    (root / ".mailboxlist").write_text("INBOX\n")
    (root / "empty").write_bytes(b"")
    (root / "old.gz").write_bytes(gzip.compress(mbox_bytes(messages[:1], variant)))
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(range(256)))
    (root / "notes.txt").write_text("not mail, just notes\n")
    return expected
