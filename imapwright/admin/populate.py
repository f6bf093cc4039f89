"""A small but varied mailstore: accounts with nested folders, messages with flags, keywords and
internal dates, subscriptions, shared folders (ACLs naming other users and anyone) and quotas.
Recovery and upgrade checks snapshot it before and after."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from ..servers.handle import ServerHandle

FOLDERS = ("drafts", "work", "work.2026")
FLAG_CYCLE = [[b"\\Seen"], [b"\\Flagged", b"$Project"], [], [b"\\Answered", b"\\Seen"], [b"\\Draft"]]


def populate(server: ServerHandle, users: list[str], messages: int = 3, quota_kb: int | None = 50_000
             ) -> dict[str, str]:
    """Create and fill `users`; returns user -> password (for the snapshot's logins)."""
    accounts = {user: secrets.token_urlsafe(12) for user in users}
    when = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
    n = 0
    for i, (user, password) in enumerate(accounts.items()):
        server.create_user(user, password)
        neighbour = users[(i + 1) % len(users)]
        with server.login(user, password) as client:
            for folder in FOLDERS:
                client.create_folder(server.mailbox_name(user, folder, user))
            for folder in ("", *FOLDERS):
                own = server.mailbox_name(user, folder, user)
                for k in range(messages):
                    n += 1
                    body = (f"From: s{n}@imapwright.test\r\nTo: {user}@imapwright.test\r\nSubject: {folder or 'inbox'} {k}\r\n"
                            f"Message-ID: <{n}.{user}@populate.test>\r\n\r\nmessage {n} for {user}\r\n").encode()
                    client.append(own, body, FLAG_CYCLE[n % len(FLAG_CYCLE)], when + timedelta(hours=n))
            client.subscribe_folder(server.mailbox_name(user, "work", user))
            if neighbour != user:
                client.setacl(server.mailbox_name(user, "work", user), neighbour, "lrs")
            client.setacl(server.mailbox_name(user, "drafts", user), "anyone", "lr")
        if quota_kb is not None:
            server.set_quota(server.user_mailbox(user), storage_kb=quota_kb)
    return accounts
