"""Source trees for the migration suites and the measurement of what a method carried."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from imapwright.mailstore.corpus import mbox_bytes
from imapwright.mailstore.message import StoredMessage, content_digest, fingerprint


def write_user(root: Path, folders: dict[str, list[StoredMessage]], uw_header: bool = True) -> Path:
    """root/ with one mbox file per folder ("INBOX" first, with UW's internal-data message)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, messages in folders.items():
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(mbox_bytes(messages, uw_header=uw_header and name == "INBOX"))
    return root


@dataclass
class Carried:
    """What arrived of a source folder set: kinds lost, messages that are not the source's (an
    altered copy counts lost and extra), and whether flags, dates and the exact header block
    survived for every message that did arrive."""
    lost: list[str] = field(default_factory=list)
    extra: int = 0
    flags: bool = True
    dates: bool = True
    headers: bool = True

    def as_dict(self) -> dict:
        return {"lost": sorted(self.lost), "extra": self.extra, "flags": self.flags, "dates": self.dates,
                "headers": self.headers}


def measure(source: dict[str, list[StoredMessage]], server: dict[str, list[StoredMessage]]) -> Carried:
    out = Carried()
    for folder, messages in source.items():
        arrived: dict[str, list[StoredMessage]] = {}
        for m in server.get(folder, []):
            arrived.setdefault(content_digest(m.content, trace=False), []).append(m)
        for m in messages:
            matches = arrived.get(content_digest(m.content, trace=False))
            if not matches:
                out.lost.append(m.source)
                continue
            got = matches.pop(0)
            out.flags &= got.flags == m.flags
            out.dates &= fingerprint(got).date == fingerprint(m).date
            out.headers &= content_digest(got.content) == content_digest(m.content)
        out.extra += sum(len(v) for v in arrived.values())
    return out


def counts(server_folders: dict[str, list[StoredMessage]]) -> Counter:
    return Counter({name: len(messages) for name, messages in server_folders.items()})
