"""A mailbox owned by one user, a grantee, and the real operations each RFC 4314 right controls."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import imapclient

from imapwright.models.acl import ACL, PROFILES, RightsProfile
from imapwright.protocol.imap import command, list_names, quote
from imapwright.pytest_plugin.users import User, UserFactory
from imapwright.servers.handle import ServerHandle

ADMIN_ALL = "lrswipkxtea"


def message(subject: str = "acl test") -> bytes:
    msgid = f"<{secrets.token_hex(8)}@imapwright.test>"
    return (f"From: owner@imapwright.test\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
            "Date: Sun, 29 Nov 2026 05:00:00 +0000\r\n\r\nbody\r\n").encode()


@dataclass
class Scene:
    server: ServerHandle
    users: UserFactory
    owner: User
    grantee: User
    mailbox: str  # the shared mailbox, as both the admin and the grantee name it
    profile: RightsProfile

    @classmethod
    def build(cls, server: ServerHandle, users: UserFactory, messages: int = 2) -> Scene:
        owner, grantee = users.create("owner"), users.create("grantee")
        mailbox = f"{owner.mailbox}.shared"
        with server.admin_imap() as admin:
            admin.create_folder(mailbox)
            admin.setacl(mailbox, server.admin_user, ADMIN_ALL)  # Cyrus admins may not append otherwise
            for i in range(messages):
                admin.append(mailbox, message(f"message {i + 1}"))
        return cls(server, users, owner, grantee, mailbox, PROFILES[server.family_name])

    @staticmethod
    def profile_of(server: ServerHandle) -> RightsProfile:
        return PROFILES[server.family_name]

    # -- ACL ---------------------------------------------------------------------------------------
    def grant(self, rights: frozenset[str] | str, identifier: str | None = None) -> None:
        """Set the grantee's (or identifier's) entry to exactly these rights (real letters only)."""
        letters = rights if isinstance(rights, str) else "".join(sorted(rights))
        with self.server.admin_imap() as admin:
            typ, data = command(admin, "SETACL", quote(self.mailbox), quote(identifier or self.grantee.name),
                                quote(letters))
            assert typ == "OK", (letters, data)

    def login(self) -> imapclient.IMAPClient:
        return self.users.login(self.grantee)

    # -- independent observation (as the admin) ---------------------------------------------------
    def count(self, mailbox: str | None = None) -> int:
        with self.server.admin_imap() as admin:
            return admin.folder_status(mailbox or self.mailbox, ["MESSAGES"])[b"MESSAGES"]

    def flags(self, uid: int = 1) -> set[bytes]:
        with self.server.admin_imap() as admin:
            admin.select_folder(self.mailbox, readonly=True)
            return set(admin.fetch([uid], ["FLAGS"]).get(uid, {}).get(b"FLAGS", ()))

    def exists(self, mailbox: str) -> bool:
        with self.server.admin_imap() as admin:
            return mailbox in list_names(admin, mailbox)


def ok(client: imapclient.IMAPClient, name: str, *args: str) -> bool:
    return command(client, name, *args)[0] == "OK"


def myrights(profile: RightsProfile, client: imapclient.IMAPClient, mailbox: str) -> frozenset[str] | None:
    """MYRIGHTS as a rights set; None when the server refuses (e.g. the mailbox is invisible)."""
    typ, data = command(client, "MYRIGHTS", quote(mailbox))
    if typ != "OK":
        return None
    text = data[0].decode() if isinstance(data[0], bytes) else str(data[0])
    return profile.parse_reported(text.rsplit(" ", 1)[-1])


def getacl(server: ServerHandle, mailbox: str) -> ACL:
    """The mailbox's ACL as the admin reads it (GETACL)."""
    with server.admin_imap() as admin:
        return ACL.parse_entries(PROFILES[server.family_name],
                                 [(i.decode(), r.decode()) for i, r in admin.getacl(mailbox)])
