"""An account with a quota, driven over IMAP and LMTP, shadowed by the quota reference model."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import imapclient

from imapwright.admin.quota import usage_of
from imapwright.models.quota import PROFILES, QuotaModel
from imapwright.pytest_plugin.users import User, UserFactory
from imapwright.servers.handle import ServerHandle


def message(size: int, subject: str = "quota test") -> bytes:
    """A message of exactly `size` bytes (CRLF line ends, so every server counts it the same)."""
    head = (f"From: q@imapwright.test\r\nSubject: {subject}\r\nMessage-ID: <{secrets.token_hex(8)}@imapwright.test>\r\n"
            "Date: Sun, 29 Nov 2026 05:00:00 +0000\r\n\r\n").encode()
    body_lines, remaining = [], size - len(head)
    while remaining > 0:
        line = b"q" * max(0, min(998, remaining - 2)) + b"\r\n"
        line = line[:remaining]
        body_lines.append(line)
        remaining -= len(line)
    return head + b"".join(body_lines)


@dataclass
class QuotaAccount:
    server: ServerHandle
    user: User
    client: imapclient.IMAPClient
    model: QuotaModel

    @classmethod
    def build(cls, server: ServerHandle, users: UserFactory, storage_kb: int | None = 100,
              messages: int | None = None, folders: tuple[str, ...] = ()) -> QuotaAccount:
        user = users.create(f"quota{len(users.created)}")
        model = QuotaModel(PROFILES[server.family_name], grace=server.delivery_grace())
        server.set_quota(user.mailbox, storage_kb, messages)
        model.set_root(user.mailbox, **({"storage": storage_kb} if storage_kb is not None else {}),
                       **({"message": messages} if messages is not None else {}))
        model.create(user.mailbox)
        account = cls(server, user, users.login(user), model)
        for folder in folders:
            account.client.create_folder(account.own(folder))
            model.create(account.key(folder))
        return account

    # -- names -----------------------------------------------------------------------------------
    def own(self, folder: str = "") -> str:
        """The user's own name for a folder ("" = INBOX)."""
        return self.server.mailbox_name(self.user.name, folder, self.user.name)

    def key(self, folder: str = "") -> str:
        """The model's (hierarchical) name: user.NAME[.folder]."""
        return self.user.mailbox + (f".{folder}" if folder else "")

    # -- operations, mirrored in the model ---------------------------------------------------------
    def append(self, size: int, folder: str = "") -> bool:
        data = message(size)
        try:
            self.client.append(self.own(folder), data)
        except imapclient.exceptions.IMAPClientError:
            return False
        self.model.store(self.key(folder), len(data))
        return True

    def deliver(self, size: int, folder: str = ""):
        """LMTP delivery (to user+folder when a folder is given); returns the recipient result."""
        rcpt = f"{self.user.name}{'+' + folder if folder else ''}@imapwright.test"
        with self.server.lmtp_client() as lmtp:
            [result] = lmtp.deliver(message(size), [rcpt])
        if result.accepted:
            self.model.store(self.key(folder), self.newest_size(folder))
        return result

    def newest_size(self, folder: str = "") -> int:
        """RFC822.SIZE of the newest message: what the server stored (LMTP adds trace headers)."""
        self.client.select_folder(self.own(folder), readonly=True)
        uid = max(self.client.search())
        size = self.client.fetch([uid], ["RFC822.SIZE"])[uid][b"RFC822.SIZE"]
        self.client.unselect_folder()
        return size

    # -- observation -------------------------------------------------------------------------------
    def reported(self, folder: str = "") -> dict[str, tuple[int, int]]:
        """GETQUOTAROOT as the user sees it for a folder: resource -> (usage, limit)."""
        return usage_of(self.client, self.own(folder))

    def expected(self, folder: str = "") -> dict[str, tuple[int, int]]:
        return self.model.report(self.model.root_of(self.key(folder)))
