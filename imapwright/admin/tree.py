"""A user's folder tree as the server returns it: folder -> {message digest: flags}, in the shape
of the hierarchy model (`imapwright.models.hierarchy`), so the two compare directly."""

from __future__ import annotations

import imapclient

from ..models.hierarchy import Messages, digest
from ..servers.handle import ServerHandle

_SKIP_FLAGS = {"\\Recent"}  # session state, not the message's
_NOT_MAILBOXES = {b"\\noselect", b"\\nonexistent"}


def mailbox_messages(client: imapclient.IMAPClient, mailbox: str) -> Messages:
    client.select_folder(mailbox, readonly=True)
    try:
        uids = client.search()
        fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
    finally:
        client.unselect_folder()
    return {digest(d[b"BODY[]"]): frozenset(f.decode() for f in d[b"FLAGS"]) - _SKIP_FLAGS
            for d in fetched.values()}


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
