"""Verify's comparison of one folder, source against server, in both directions.

Each message is kept as what comparing needs (its content key, a digest, its Message-ID, flags,
date and where to read it again), never its content: a folder of 100,000 messages held as
messages took gigabytes (issue 33). Content is read again only for the few messages a
difference names (missing, extra, or stored other than sent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from ..mailstore import rewrites
from ..mailstore.message import StoredMessage, fingerprint, normalize, without_trace

EVERYTHING = frozenset({"flags", "date", "trace"})


@dataclass
class Difference:
    folder: str
    kind: str  # "missing" (in source, not on server) | "extra" | "flags" | "date" | "folder" | "status"
    text: str

    def __str__(self) -> str:
        return f"{self.folder}: {self.kind}: {self.text}"


@dataclass(slots=True)
class _Seen:
    key: str  # rewrites.key: what the server's documented rewrites cannot change
    raw: bytes  # digest of the content as compared (trace fields left out if the method adds its own)
    mid: bytes | None  # its Message-ID (source side only: for duplicate suppression)
    flags: frozenset[str]
    date: datetime | None
    ref: int  # where to read it again: its index in the source, its UID (or index) on the server


# Where to read messages again: refs -> {ref: message}.
Reread = Callable[[list[int]], dict[int, StoredMessage]]


def _index(messages: Iterable[StoredMessage], rules: frozenset[str], trace: bool, ids: bool,
           by_uid: bool) -> dict[str, list[_Seen]]:
    out: dict[str, list[_Seen]] = {}
    flag_sets: dict[frozenset[str], frozenset[str]] = {}  # one object per distinct set
    for i, m in enumerate(messages):
        content = m.content
        raw = hashlib.sha256(normalize(content if trace else without_trace(content))).digest()
        seen = _Seen(rewrites.key(content, rules, trace), raw, rewrites.message_id(content) if ids else None,
                     flag_sets.setdefault(m.flags, m.flags), m.date, m.uid if by_uid else i)
        out.setdefault(seen.key, []).append(seen)
    for group in out.values():  # duplicates pair up in date order
        group.sort(key=lambda s: (s.date is None, s.date))
    return out


def _second(date: datetime | None) -> datetime | None:
    return date.astimezone(timezone.utc).replace(microsecond=0) if date else None


def _by_position(messages: Sequence[StoredMessage]) -> Reread:
    return lambda refs: {r: messages[r] for r in refs}


def compare_folder(name: str, source: Sequence[StoredMessage], server: Iterable[StoredMessage],
                   carries: frozenset[str] = EVERYTHING, rules: frozenset[str] = frozenset(),
                   reread_server: Reread | None = None) -> list[Difference]:
    """Both directions, by a content key the server's documented rewrites (`rules`) cannot change;
    then, for messages that match, the flags and date the method can carry. A matched message the
    server rewrote is "altered" (naming the rules: expected, not a failure); a source message the
    server dropped under a rule is "dropped" with the rule; duplicates pair up in date order.
    `server` may be a stream read once (then `reread_server` reads messages again by UID)."""
    trace = "trace" in carries
    ours = _index(source, rules, trace, ids=True, by_uid=False)
    if reread_server is None:  # read again by position: a one-shot stream is kept (before it is read)
        server = server if isinstance(server, Sequence) else list(server)
        reread_server = _by_position(server)
        by_uid = False
    else:
        by_uid = True
    theirs = _index(server, rules, trace, ids=False, by_uid=by_uid)
    # Message-IDs of source messages found stored: a duplicate-suppression drop is only the second
    # of two source messages with one Message-ID, never a message whose ID is elsewhere.
    stored_ids = {s.mid for d in ours for s in ours[d][:len(theirs.get(d, []))] if s.mid is not None}
    keys = sorted(set(ours) | set(theirs))
    # What must be read again: the unmatched, and matched pairs stored other than sent.
    want_ours, want_theirs = [], []
    for digest in keys:
        a, b = ours.get(digest, []), theirs.get(digest, [])
        want_ours += [s.ref for s in a[len(b):]]
        want_theirs += [s.ref for s in b[len(a):]]
        if rules:
            changed = [(x, y) for x, y in zip(a, b) if x.raw != y.raw]
            want_ours += [x.ref for x, _ in changed]
            want_theirs += [y.ref for _, y in changed]
    mine = {r: source[r] for r in want_ours}
    yours = reread_server(sorted(set(want_theirs))) if want_theirs else {}
    diffs = []
    for digest in keys:
        a, b = ours.get(digest, []), theirs.get(digest, [])
        for s in a[len(b):]:
            m = mine[s.ref]
            rule = rewrites.dropped_by(m.content, rules, stored_ids)
            if rule:
                diffs.append(Difference(name, "dropped", f"{m.source} {fingerprint(m).describe()} dropped by the "
                                                         f"server: {rewrites.RULES[rule]} [{rule}]"))
            else:
                diffs.append(Difference(name, "missing", f"{m.source} {fingerprint(m).describe()} not on the server"))
        for s in b[len(a):]:
            m = yours[s.ref]
            diffs.append(Difference(name, "extra", f"{m.source} {fingerprint(m).describe()} not in the source"))
        for x, y in zip(a, b):
            changed = rewrites.explain(mine[x.ref].content, yours[y.ref].content, rules, trace) \
                if rules and x.raw != y.raw else []
            if changed == ["(unexplained)"]:
                diffs.append(Difference(name, "changed", f"{_label(source, x)}: stored differently, by no rule listed "
                                                         "for this server"))
            elif changed:
                diffs.append(Difference(name, "altered", f"{_label(source, x)}: altered by the server: "
                                        + "; ".join(f"{rewrites.RULES[r]} [{r}]" for r in changed)))
            if "flags" in carries and x.flags != y.flags:
                diffs.append(Difference(name, "flags", f"{_label(source, x)}: source {' '.join(sorted(x.flags)) or 'none'}, "
                                                       f"server {' '.join(sorted(y.flags)) or 'none'}"))
            if "date" in carries and _second(x.date) != _second(y.date):
                diffs.append(Difference(name, "date", f"{_label(source, x)}: source {_second(x.date)}, "
                                                      f"server {_second(y.date)}"))
    return diffs


def _label(source: Sequence[StoredMessage], seen: _Seen) -> str:
    """Where a source message came from ("work/2026: message 3"), read when a difference names it."""
    return source[seen.ref].source
