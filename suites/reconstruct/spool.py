"""A populated mailbox for fault injection, and what a client sees of it before and after repair."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from imapwright.servers.faults.spool import Victim
from imapwright.pytest_plugin.users import User, UserFactory
from imapwright.servers.handle import ServerHandle

FOLDER = "victim"
# Flags of the six messages: system flags, a custom keyword, and none at all.
FLAGS = [("\\Seen",), ("\\Flagged", "$Custom"), ("\\Answered", "\\Seen"), ("\\Draft",), ("$Custom",), ()]
SHARER_SEEN = (1, 4)  # 1-based positions the second user has read (its own seen state)
FIRST_DATE = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Seen:
    """One message as a client sees it."""
    uid: int
    flags: frozenset[str]
    date: str


@dataclass
class View:
    uidvalidity: int
    owner: dict[str, Seen]  # body digest -> the owner's view
    sharer_seen: frozenset[str]  # digests the sharer has \\Seen


@dataclass
class Populated:
    server: ServerHandle
    owner: User
    sharer: User
    victim: Victim

    def view(self) -> View:
        own = self.server.mailbox_name(self.owner.name, FOLDER, self.owner.name)
        with self.server.login(self.owner.name, self.owner.password) as client:
            info = client.select_folder(own, readonly=True)
            uids = client.search()
            data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]) if uids else {}
            owner = {hashlib.sha256(d[b"BODY[]"]).hexdigest():
                     Seen(uid, frozenset(f.decode() for f in d[b"FLAGS"]) - {"\\Recent"},
                          d[b"INTERNALDATE"].isoformat()) for uid, d in data.items()}
        shared = self.server.mailbox_name(self.owner.name, FOLDER, self.sharer.name)
        with self.server.login(self.sharer.name, self.sharer.password) as client:
            client.select_folder(shared, readonly=True)
            uids = client.search()
            data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
            seen = frozenset(hashlib.sha256(d[b"BODY[]"]).hexdigest() for d in data.values()
                             if b"\\Seen" in d[b"FLAGS"])
        return View(int(info[b"UIDVALIDITY"]), owner, seen)


def populate(server: ServerHandle, users: UserFactory) -> Populated:
    owner, sharer = users.create("owner"), users.create("sharer")
    own = server.mailbox_name(owner.name, FOLDER, owner.name)
    with server.login(owner.name, owner.password) as client:
        client.create_folder(own)
        for n, flags in enumerate(FLAGS):
            body = (f"From: sender{n}@imapwright.test\r\nSubject: message {n}\r\n"
                    f"Message-ID: <{n}.{owner.name}@reconstruct.test>\r\nDate: Sun, 1 Jun 2025 12:00:00 +0000\r\n"
                    f"\r\nbody of message {n}\r\n").encode()
            client.append(own, body, [f.encode() for f in flags], FIRST_DATE + timedelta(days=n, minutes=n))
        client.setacl(own, sharer.name, "lrs")
        client.select_folder(own, readonly=True)
        uids = sorted(client.search())
    with server.login(sharer.name, sharer.password) as client:
        client.select_folder(server.mailbox_name(owner.name, FOLDER, sharer.name))
        client.add_flags([uids[i - 1] for i in SHARER_SEEN], [b"\\Seen"])
    victim = Victim(server.mailbox_name(owner.name, FOLDER), uids, own, owner.name)
    return Populated(server, owner, sharer, victim)
