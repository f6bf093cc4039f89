"""A user's folder tree as the server returns it: folder -> {message digest: flags}, in the shape
of the hierarchy model (`imapwright.models.hierarchy`), so the two compare directly."""

from __future__ import annotations

import contextlib

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timezone

import imapclient

from ..mailstore.message import StoredMessage
from ..models.hierarchy import Messages, digest
from ..servers.handle import ServerHandle

_SKIP_FLAGS = {"\\Recent"}  # session state, not the message's
_NOT_MAILBOXES = {b"\\noselect", b"\\nonexistent"}


FETCH_CHUNK = 500  # UIDs per FETCH: a large folder's whole UID list is too long a command for Cyrus
# ("[TOOBIG] Word too long" at 100,000 messages) and its answer too large to hold at once


def iter_messages(client: imapclient.IMAPClient, mailbox: str, selected: dict | None = None) -> Iterator[StoredMessage]:
    """Every message of a mailbox in UID order: content, flags (less \\Recent), internal date in
    UTC and UID, fetched FETCH_CHUNK at a time. The mailbox is opened read-only, so reading
    changes no \\Seen flag; it is closed again when the iteration ends. `selected` receives what
    EXAMINE said (EXISTS, UIDVALIDITY, UIDNEXT)."""
    answer = client.select_folder(mailbox, readonly=True)
    if selected is not None:
        selected.update(answer)
    try:
        uids = sorted(client.search())
        for i in range(0, len(uids), FETCH_CHUNK):
            fetched = client.fetch(uids[i:i + FETCH_CHUNK], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
            for uid in sorted(fetched):
                yield _stored(mailbox, uid, fetched[uid])
    except BaseException:
        # The first failure is the one to report: UNSELECT on a session left mid-answer fails too.
        with contextlib.suppress(Exception):
            client.unselect_folder()
        raise
    client.unselect_folder()


def fetch_chunked(client: imapclient.IMAPClient, uids: list[int], items: list) -> dict[int, dict]:
    """client.fetch of any number of UIDs of the selected mailbox, FETCH_CHUNK at a time."""
    out: dict[int, dict] = {}
    for i in range(0, len(uids), FETCH_CHUNK):
        out.update(client.fetch(uids[i:i + FETCH_CHUNK], items))
    return out


def fetch_uids(client: imapclient.IMAPClient, mailbox: str, uids: list[int]) -> dict[int, StoredMessage]:
    """The messages of these UIDs (read-only, FETCH_CHUNK at a time), by UID."""
    client.select_folder(mailbox, readonly=True)
    try:
        fetched = fetch_chunked(client, uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
        return {uid: _stored(mailbox, uid, data) for uid, data in fetched.items()}
    finally:
        client.unselect_folder()


def read_messages(client: imapclient.IMAPClient, mailbox: str, selected: dict | None = None) -> list[StoredMessage]:
    """iter_messages, as a list."""
    return list(iter_messages(client, mailbox, selected))


def _stored(mailbox: str, uid: int, data: dict) -> StoredMessage:
    when = data[b"INTERNALDATE"]
    when = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    flags = frozenset(f.decode() for f in data[b"FLAGS"]) - _SKIP_FLAGS
    return StoredMessage(data[b"BODY[]"], flags, when, source=f"{mailbox} UID {uid}", uid=uid)


@dataclass
class FolderCounts:
    """What STATUS should say of a folder, counted from its messages as they were read."""
    messages: int = 0
    unseen: int = 0
    size: int = 0
    top_uid: int = 0

    def add(self, m: StoredMessage) -> StoredMessage:
        self.messages += 1
        self.unseen += "\\Seen" not in m.flags
        self.size += len(m.content)
        self.top_uid = max(self.top_uid, m.uid or 0)
        return m

    @classmethod
    def of(cls, messages: Iterable[StoredMessage]) -> FolderCounts:
        counts = cls()
        for m in messages:
            counts.add(m)
        return counts


def status_mismatches(client: imapclient.IMAPClient, mailbox: str, messages: Iterable[StoredMessage] | FolderCounts,
                      selected: dict) -> list[str]:
    """Where STATUS (asked with the mailbox not selected, RFC 9051 6.3.11) disagrees with what
    EXAMINE and FETCH showed (the messages read, or their counts): MESSAGES, UNSEEN, UIDNEXT,
    UIDVALIDITY (asked with the others and alone), and SIZE where offered. A
    server keeping STATUS in a cache of its own (Cyrus's statuscache) can let it go stale."""
    counts = messages if isinstance(messages, FolderCounts) else FolderCounts.of(messages)
    items = [b"MESSAGES", b"UNSEEN", b"UIDNEXT", b"UIDVALIDITY"]
    if client.has_capability("STATUS=SIZE"):
        items.append(b"SIZE")
    status = client.folder_status(mailbox, items)
    seen = {
        b"MESSAGES": counts.messages,
        b"UNSEEN": counts.unseen,
        b"UIDVALIDITY": selected.get(b"UIDVALIDITY"),
        b"SIZE": counts.size,
    }
    out = [f"STATUS {item.decode()} {status[item]}, EXAMINE/FETCH {want}" for item, want in seen.items()
           if item in status and want is not None and int(status[item]) != int(want)]
    # Asked alone, UIDVALIDITY may come from elsewhere than with MESSAGES: after a Cyrus 3.2
    # mailbox list is restored from its dump, STATUS (UIDVALIDITY) says 0 (the list entry, which
    # 3.2's dump does not carry) while STATUS with MESSAGES and EXAMINE give the mailbox's value.
    alone = client.folder_status(mailbox, [b"UIDVALIDITY"]).get(b"UIDVALIDITY")
    if alone is not None and seen[b"UIDVALIDITY"] is not None and int(alone) != int(seen[b"UIDVALIDITY"]):
        out.append(f"STATUS UIDVALIDITY asked alone {alone}, EXAMINE {seen[b'UIDVALIDITY']}")
    top = counts.top_uid
    uidnext = selected.get(b"UIDNEXT")
    if b"UIDNEXT" in status and (int(status[b"UIDNEXT"]) <= top or (uidnext and int(status[b"UIDNEXT"]) != int(uidnext))):
        out.append(f"STATUS UIDNEXT {status[b'UIDNEXT']}, EXAMINE {uidnext}, highest UID {top}")
    return out


def mailbox_messages(client: imapclient.IMAPClient, mailbox: str) -> Messages:
    return {digest(m.content): m.flags for m in iter_messages(client, mailbox)}


def own_folders(server: ServerHandle, client: imapclient.IMAPClient, user: str) -> dict[str, str]:
    """Relative folder name ("" for INBOX) -> the user's own name for it, other namespaces and
    server-internal mailboxes left out."""
    inbox = server.mailbox_name(user, "", user)
    prefix = server.mailbox_name(user, "x", user)[:-1]  # "INBOX." on Cyrus, "" on Dovecot
    ns = client.namespace()
    foreign = [n[0] for group in (ns.other, ns.shared) for n in group or () if n[0]]
    out = {"": inbox}
    for flags, _sep, name in client.list_folders("", prefix + "*"):
        if {f.lower() for f in flags} & _NOT_MAILBOXES or server.is_internal_mailbox(name):
            continue
        if name != inbox and name.startswith(prefix) and not any(name.startswith(p) for p in foreign):
            out[name[len(prefix):]] = name
    return out


def read_tree(server: ServerHandle, client: imapclient.IMAPClient, user: str) -> dict[str, Messages]:
    """Every folder of `user` (logged in on `client`), by its relative name ("" for INBOX)."""
    return {folder: mailbox_messages(client, name) for folder, name in own_folders(server, client, user).items()}
