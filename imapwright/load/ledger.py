"""The ledger of what the server acknowledged during a load run, and the check against the server.

Each Locust process appends lines (tab-separated: op, user, folder, Message-ID) to a file of its
own, line-buffered, so a run stopped at any moment has a ledger that is true:
- `sent` before a message goes out and `add` once the server acknowledged it; `refused` when the
  server said no (the message must not be there); a `sent` with neither after it (the command was
  killed at the run's end, or the connection broke: `unknown`) may or may not be stored.
- `removing` before an expunge and `remove` once acknowledged; a `removing` alone may or may not
  have taken effect. `remove` is written where the answers show the message expunged
  (expunge_outcome); `kept` where the expunge was answered OK and the server reported no message
  expunged at all (RFC 3501 7.4.1): the message stays, and the run counts it (Dovecot 2.3 did this
  with a UID EXPUNGE pipelined behind the STORE of its \\Deleted flag).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

OPS = ("sent", "add", "refused", "unknown", "removing", "remove", "kept")


class LedgerWriter:
    def __init__(self, directory: str, timings: bool = False, sink=None):
        """`sink` (write(line), and `timings` with write(line)) instead of files: a worker on another host sends
        its lines to the master (load/distributed.py)."""
        self._fh = self._timings = None
        if sink is not None:
            self._fh = sink
            self._timings = sink.timings if timings else None  # sent to the master with the lines
        elif directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            # Flushed at every outcome (record(..., flush=True)): each acknowledged change is on
            # disk before the next command is sent, in one write with the "sent" line before it.
            self._fh = open(Path(directory) / f"ledger-{os.getpid()}.tsv", "a")
            if timings:
                self._timings = open(Path(directory) / f"timings-{os.getpid()}.tsv", "a", buffering=1)

    def timing(self, name: str, started: float, ms: float) -> None:
        """One request's start (epoch seconds) and duration, for latency during a window of time
        (the large-list scenario: deliveries while reconstruct runs)."""
        if self._timings is not None:
            self._timings.write(f"{name}\t{started:.3f}\t{ms:.1f}\n")

    def record(self, op: str, user: str, folder: str, message_id: str, flush: bool = True) -> None:
        """One line; `flush=False` for a "sent" line that its outcome's line follows at once
        (one write system call per delivery instead of two)."""
        if self._fh is not None:
            self._fh.write(f"{op}\t{user}\t{folder}\t{message_id}\n")
            if flush and hasattr(self._fh, "flush"):
                self._fh.flush()

    def close(self) -> None:
        for fh in (self._fh, self._timings):
            if fh is not None and hasattr(fh, "close"):
                fh.close()
        self._fh = self._timings = None


def read_timings(directory: Path) -> dict[str, list[tuple[float, float]]]:
    """name -> [(start epoch seconds, ms)] from every process's timings file."""
    out: dict[str, list[tuple[float, float]]] = {}
    for path in sorted(directory.glob("timings-*.tsv")):
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                try:
                    out.setdefault(parts[0], []).append((float(parts[1]), float(parts[2])))
                except ValueError:
                    continue
    return out


@dataclass
class Expected:
    """Per (user, folder): the Message-IDs that must be there, those that may be (outcome
    unknown), and those that may be gone (an expunge whose answer never came)."""
    present: dict[tuple[str, str], Counter] = field(default_factory=dict)
    maybe: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    maybe_gone: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    acknowledged: int = 0  # adds
    removed: int = 0
    kept: int = 0  # expunges answered OK that removed nothing
    finished: int = 0  # additions whose command came back (add, refused, unknown): one request event each


def read_ledgers(directory: Path) -> Expected:
    expected = Expected()
    pending: dict[tuple[str, str], set[str]] = {}  # sent, no answer yet
    removing: dict[tuple[str, str], set[str]] = {}
    for path in sorted(directory.glob("ledger-*.tsv")):
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) != 4 or parts[0] not in OPS:
                continue  # a line cut short by a killed process
            op, user, folder, mid = parts
            key = (user, folder)
            expected.finished += op in ("add", "refused", "unknown")
            if op in ("sent", "unknown"):
                pending.setdefault(key, set()).add(mid)
            elif op == "add":
                pending.get(key, set()).discard(mid)
                expected.present.setdefault(key, Counter())[mid] += 1
                expected.acknowledged += 1
            elif op == "refused":
                pending.get(key, set()).discard(mid)
            elif op == "removing":
                removing.setdefault(key, set()).add(mid)
            elif op == "kept":  # answered, nothing expunged: it stays
                removing.get(key, set()).discard(mid)
                expected.kept += 1
            else:  # remove
                removing.get(key, set()).discard(mid)
                expected.present.setdefault(key, Counter())[mid] -= 1
                expected.removed += 1
    expected.maybe = {k: v for k, v in pending.items() if v}
    expected.maybe_gone = {k: v for k, v in removing.items() if v}
    return expected


@dataclass
class LedgerCheck:
    acknowledged: int
    removed: int
    expected: int  # messages that must be on the server now
    on_server: int  # messages found in the folders the ledger names (load messages only)
    missing: list[str]  # "user/folder Message-ID", acknowledged but not there
    extra: list[str]  # there, but never acknowledged (nor sent with an unknown outcome)
    unknown_stored: int  # sent with the outcome unknown, found stored
    unknown_removed: int = 0  # an expunge whose answer never came, found done
    kept: int = 0  # expunges the server answered OK without removing the message

    @property
    def accounted(self) -> bool:
        """The totals add up: what is on the server is what must be, give or take the commands
        whose outcome the end of the run left unknown."""
        return self.on_server == self.expected + self.unknown_stored - self.unknown_removed

    @property
    def passed(self) -> bool:
        return not self.missing and not self.extra

    def as_dict(self) -> dict:
        return {"acknowledged": self.acknowledged, "removed": self.removed, "expected": self.expected,
                "on_server": self.on_server, "missing_count": len(self.missing), "missing": self.missing[:50],
                "extra_count": len(self.extra), "extra": self.extra[:50],
                "unknown_stored": self.unknown_stored, "unknown_removed": self.unknown_removed,
                "kept": self.kept, "accounted": self.accounted, "passed": self.passed}


def compare(expected: Expected, found: dict[tuple[str, str], Counter]) -> LedgerCheck:
    """`found`: per (user, folder) the load Message-IDs on the server (see load.verify)."""
    missing, extra, unknown_stored, unknown_removed, want_total, have_total = [], [], 0, 0, 0, 0
    for key in sorted(set(expected.present) | set(found) | set(expected.maybe)):
        want = +expected.present.get(key, Counter())
        have = found.get(key, Counter())
        maybe = expected.maybe.get(key, set())
        maybe_gone = expected.maybe_gone.get(key, set())
        want_total += sum(want.values())
        have_total += sum(have.values())
        where = f"{key[0]}/{key[1]}"
        for mid, n in (want - have).items():
            if mid in maybe_gone:  # an expunge whose answer never came: gone or not, both are right
                unknown_removed += n
                continue
            missing += [f"{where} {mid}"] * n
        for mid, n in (have - want).items():
            if mid in maybe:
                unknown_stored += n
            else:
                extra += [f"{where} {mid}"] * n
    return LedgerCheck(expected.acknowledged, expected.removed, want_total, have_total,
                       missing, extra, unknown_stored, unknown_removed, expected.kept)


_FETCH_UID = re.compile(rb"^\* (\d+) FETCH \(.*\bUID (\d+)\b", re.IGNORECASE)
_EXPUNGE = re.compile(rb"^\* (\d+) EXPUNGE$", re.IGNORECASE)


def expunge_outcome(untagged: list[bytes], uid: int) -> str:
    """What the untagged responses of a STORE \\Deleted and its UID EXPUNGE (in the order they came)
    say of message `uid`: "remove" where an EXPUNGE names the sequence number a FETCH gave it
    (counting down past the messages expunged before it); "kept" where no EXPUNGE came at all (a
    server reports each message it expunges, RFC 3501 7.4.1); else "" (other sessions' expunges
    came too and none can be told for this one: the ledger's "removing" alone, gone or not)."""
    seq, any_expunge = None, False
    for line in untagged:
        m = _FETCH_UID.match(line)
        if m is not None and int(m.group(2)) == uid:
            seq = int(m.group(1))
            continue
        m = _EXPUNGE.match(line)
        if m is None:
            continue
        any_expunge, n = True, int(m.group(1))
        if seq is not None:
            if n == seq:
                return "remove"
            if n < seq:
                seq -= 1
    return "" if any_expunge else "kept"
