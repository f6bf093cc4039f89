"""Messages for load: unique Message-IDs (Cyrus suppresses duplicate deliveries, and the ledger
counts by them) and a size mix like real mail (mostly small, a tail of attachments)."""

from __future__ import annotations

import email.utils
import itertools
import os
import random
import time
import uuid

# Sizes in bytes with weights. Overridden with IMAPWRIGHT_LOAD_OPT_SIZE=N (one fixed size).
SIZES = ((2_000, 40), (6_000, 30), (20_000, 18), (100_000, 9), (1_000_000, 3))
MID_DOMAIN = "load.imapwright.test"  # the check reads back only messages with this domain
_counter = itertools.count()
_LINE = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"


_ids = ["", itertools.count(), ""]  # this process's random part, a counter, ".pid@domain>"


def _new_process() -> None:
    _ids[:] = [f"<{uuid.uuid4().hex[:16]}.", itertools.count(), f".{os.getpid()}@{MID_DOMAIN}>"]


_new_process()
os.register_at_fork(after_in_child=_new_process)  # Locust's --processes forks: each its own IDs


def new_message_id() -> str:
    """Unique per process and run: a random part drawn once per process (a uuid4 per message cost
    a getrandom system call and ~3% of a delivery's CPU), a counter, and the pid last (the runner
    attributes a lost worker's in-flight mail by it)."""
    return f"{_ids[0]}{next(_ids[1])}{_ids[2]}"


_dates: list = [0, ""]  # (second, its RFC 5322 date): formatted once a second, not per message


def _date() -> str:
    """Now as a Date: header value. Real mail has one, and Cyrus 3.2's reconstruct reports every
    Date-less message (sentdate/gmtime mismatch), which would fail the run's consistency check."""
    now = int(time.time())
    if _dates[0] != now:
        _dates[:] = [now, email.utils.formatdate(now, usegmt=True)]
    return _dates[1]


_BODIES: dict[int, bytes] = {}  # body by line count: made once per size, not per message


def make_message(size: int, subject: str = "load") -> tuple[str, bytes]:
    """(Message-ID, RFC 5322 message of about `size` bytes) in wire form: CRLF line ends, no line
    starting with a dot, a final CRLF (LMTP DATA and IMAP APPEND take it as it is)."""
    mid = new_message_id()
    return mid, compose(mid, size, f"{subject} {next(_counter)}")


def compose(message_id: str, size: int, subject: str, sender: str = "load@imapwright.test") -> bytes:
    """A message of about `size` bytes in wire form with this Message-ID and Subject."""
    head = (f"From: {sender}\r\nTo: population@imapwright.test\r\nDate: {_date()}\r\n"
            f"Subject: {subject}\r\nMessage-ID: {message_id}\r\n\r\n").encode()
    lines = max(1, (size - len(head)) // len(_LINE))
    body = _BODIES.get(lines)
    if body is None:
        body = _BODIES.setdefault(lines, _LINE * lines)
    return head + body


class SizeMix:
    def __init__(self, fixed: str = "", rng: random.Random | None = None):
        self.rng = rng or random.Random()
        self.sizes, weights = zip(*(((int(fixed), 1),) if fixed else SIZES))
        self.cum_weights = list(itertools.accumulate(weights))

    def pick(self) -> int:
        if len(self.sizes) == 1:  # a fixed size: no draw
            return self.sizes[0]
        return self.rng.choices(self.sizes, cum_weights=self.cum_weights)[0]
