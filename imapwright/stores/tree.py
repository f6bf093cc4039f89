"""A user's folder tree as the server returns it: folder -> {message digest: flags}, in the shape
of the hierarchy model (`imapwright.models.hierarchy`), so the two compare directly."""

from __future__ import annotations

from datetime import timezone

import imapclient

from ..mailstore.message import StoredMessage
from ..models.hierarchy import Messages, digest
from ..servers.handle import ServerHandle

_SKIP_FLAGS = {"\\Recent"}  # session state, not the message's
_NOT_MAILBOXES = {b"\\noselect", b"\\nonexistent"}


def read_messages(client: imapclient.IMAPClient, mailbox: str, selected: dict | None = None) -> list[StoredMessage]:
    """Every message of a mailbox in UID order: content, flags (less \\Recent), internal date in
    UTC and UID. The mailbox is opened read-only, so reading changes no \\Seen flag. `selected`
    receives what EXAMINE said (EXISTS, UIDVALIDITY, UIDNEXT)."""
    answer = client.select_folder(mailbox, readonly=True)
    if selected is not None:
        selected.update(answer)
    try:
        uids = client.search()
        fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]) if uids else {}
    finally:
        client.unselect_folder()
    out = []
    for uid in sorted(fetched):
        data = fetched[uid]
        when = data[b"INTERNALDATE"]
        when = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
        flags = frozenset(f.decode() for f in data[b"FLAGS"]) - _SKIP_FLAGS
        out.append(StoredMessage(data[b"BODY[]"], flags, when, source=f"{mailbox} UID {uid}", uid=uid))
    return out


def status_mismatches(client: imapclient.IMAPClient, mailbox: str, messages: list[StoredMessage],
                      selected: dict) -> list[str]:
    """Where STATUS (asked with the mailbox not selected, RFC 9051 6.3.11) disagrees with what
    EXAMINE and FETCH showed: MESSAGES, UNSEEN, UIDNEXT, UIDVALIDITY (asked with the others and
    alone), and SIZE where offered. A
    server keeping STATUS in a cache of its own (Cyrus's statuscache) can let it go stale."""
    items = [b"MESSAGES", b"UNSEEN", b"UIDNEXT", b"UIDVALIDITY"]
    if client.has_capability("STATUS=SIZE"):
        items.append(b"SIZE")
    status = client.folder_status(mailbox, items)
    seen = {
        b"MESSAGES": len(messages),
        b"UNSEEN": sum("\\Seen" not in m.flags for m in messages),
        b"UIDVALIDITY": selected.get(b"UIDVALIDITY"),
        b"SIZE": sum(len(m.content) for m in messages),
    }
    out = [f"STATUS {item.decode()} {status[item]}, EXAMINE/FETCH {want}" for item, want in seen.items()
           if item in status and want is not None and int(status[item]) != int(want)]
    # Asked alone, UIDVALIDITY may come from elsewhere than with MESSAGES: after a Cyrus 3.2
    # mailbox list is restored from its dump, STATUS (UIDVALIDITY) says 0 (the list entry, which
    # 3.2's dump does not carry) while STATUS with MESSAGES and EXAMINE give the mailbox's value.
    alone = client.folder_status(mailbox, [b"UIDVALIDITY"]).get(b"UIDVALIDITY")
    if alone is not None and seen[b"UIDVALIDITY"] is not None and int(alone) != int(seen[b"UIDVALIDITY"]):
        out.append(f"STATUS UIDVALIDITY asked alone {alone}, EXAMINE {seen[b'UIDVALIDITY']}")
    top = max((m.uid for m in messages if m.uid), default=0)
    uidnext = selected.get(b"UIDNEXT")
    if b"UIDNEXT" in status and (int(status[b"UIDNEXT"]) <= top or (uidnext and int(status[b"UIDNEXT"]) != int(uidnext))):
        out.append(f"STATUS UIDNEXT {status[b'UIDNEXT']}, EXAMINE {uidnext}, highest UID {top}")
    return out


def mailbox_messages(client: imapclient.IMAPClient, mailbox: str) -> Messages:
    return {digest(m.content): m.flags for m in read_messages(client, mailbox)}


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
