"""Fresh users for each test, so tests share a server without sharing state."""

from __future__ import annotations

import contextlib
import itertools
import secrets
from dataclasses import dataclass, field

import imapclient

from ..servers.handle import ServerHandle

_run_token = secrets.token_hex(2)  # keeps names unique across runs on a long-lived target
_counter = itertools.count(1)


@dataclass
class User:
    name: str
    password: str = field(repr=False)
    mailbox: str  # the admin's name for the account's top mailbox, e.g. user.bob

    def __str__(self) -> str:
        return self.name


class UserFactory:
    """`create()` makes a user with a unique name; `prefix` is unique to the test."""

    # Every account this session's tests make starts so (other tests' accounts carry their damage
    # and their servers' listed deviations: a test that samples a server's accounts leaves them out).
    run_prefix = f"iw{_run_token}t"

    def __init__(self, server: ServerHandle):
        self.server = server
        self.prefix = f"{self.run_prefix}{next(_counter)}"
        self.created: list[User] = []
        self._clients: list[imapclient.IMAPClient] = []

    def create(self, name: str = "") -> User:
        """A new account named PREFIX+name (PREFIX+uN when no name is given)."""
        full = self.prefix + (name or f"u{len(self.created) + 1}")
        user = User(full, secrets.token_urlsafe(12), self.server.user_mailbox(full))
        self.server.create_user(user.name, user.password)
        self.created.append(user)
        return user

    def login(self, user: User) -> imapclient.IMAPClient:
        client = self.server.login(user.name, user.password)
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.logout()
        self._clients.clear()

    def remove_all(self) -> list[str]:
        """Delete what the test created (only needed on servers the harness did not start).

        Returns what could not be removed, so the caller can say so instead of hiding it.
        """
        failures = []
        for user in self.created:
            try:
                self.server.delete_user(user.name)
            except Exception as exc:
                failures.append(f"{user.name}: {exc}")
        return failures
