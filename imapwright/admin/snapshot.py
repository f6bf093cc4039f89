"""Everything a user's account holds, as the user sees it over IMAP, in a form two snapshots can be
compared with: folders, subscriptions, per folder its ACL, quota, UIDVALIDITY, and per message
(by content digest) its UID, flags and internal date. Disaster recovery and upgrade checks diff these."""

from __future__ import annotations

from ..models.hierarchy import digest
from .tree import own_folders, read_messages
from ..servers.handle import ServerHandle

Snapshot = dict[str, dict]  # user -> account state (JSON-able)


def account_snapshot(server: ServerHandle, user: str, password: str) -> dict:
    with server.login(user, password) as client:
        folders = own_folders(server, client, user)
        inbox_prefix = server.mailbox_name(user, "x", user)[:-1]
        subscribed = sorted(("" if n == folders[""] else n[len(inbox_prefix):])
                            for _f, _s, n in client.list_sub_folders())
        state: dict = {"subscribed": subscribed, "folders": {}}
        for folder, name in sorted(folders.items()):
            messages = read_messages(client, name)
            uidvalidity = client.folder_status(name, [b"UIDVALIDITY"])[b"UIDVALIDITY"]
            _roots, quotas = client.get_quota_root(name) if client.has_capability("QUOTA") else (None, [])
            state["folders"][folder] = {
                "uidvalidity": int(uidvalidity),
                "acl": {i.decode(): "".join(sorted(r.decode())) for i, r in client.getacl(name)},
                "quota": {f"{q.quota_root} {q.resource}": [q.usage, q.limit] for q in quotas},
                "messages": {digest(m.content): [sorted(m.flags), m.date.isoformat(), m.uid] for m in messages},
            }
    return state


def snapshot(server: ServerHandle, accounts: dict[str, str]) -> Snapshot:
    """`accounts`: user -> password."""
    return {user: account_snapshot(server, user, password) for user, password in sorted(accounts.items())}


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """One line per difference: what an admin reads to see what a recovery or upgrade changed."""
    out = []
    for user in sorted(set(before) | set(after)):
        if user not in after or user not in before:
            out.append(f"{user}: account {'missing' if user not in after else 'appeared'}")
            continue
        a, b = before[user], after[user]
        if a["subscribed"] != b["subscribed"]:
            out.append(f"{user}: subscriptions {a['subscribed']} -> {b['subscribed']}")
        for folder in sorted(set(a["folders"]) | set(b["folders"])):
            where = f"{user}/{folder or 'INBOX'}"
            if folder not in b["folders"] or folder not in a["folders"]:
                out.append(f"{where}: folder {'missing' if folder not in b['folders'] else 'appeared'}")
                continue
            fa, fb = a["folders"][folder], b["folders"][folder]
            for key in ("uidvalidity", "acl", "quota"):
                if fa[key] != fb[key]:
                    out.append(f"{where}: {key} {fa[key]} -> {fb[key]}")
            for message in sorted(set(fa["messages"]) | set(fb["messages"])):
                ma, mb = fa["messages"].get(message), fb["messages"].get(message)
                if ma is None or mb is None:
                    out.append(f"{where}: message {message[:12]} {'lost' if mb is None else 'appeared'}")
                    continue
                for i, what in enumerate(("flags", "internal date", "UID")):
                    if ma[i] != mb[i]:
                        out.append(f"{where}: message {message[:12]} {what} {ma[i]} -> {mb[i]}")
    return out
