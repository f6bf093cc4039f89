"""Accounts made side by side (the store's populate sets passwords from several threads) all log
in: Cyrus's sasldb is one Berkeley DB file that saslpasswd2 opens without locking, so two writers
at once could lose one of the entries ("user not found: checkpass failed" at the user's first
login, seen on a busy CI machine)."""

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from imapwright.pytest_plugin.users import User

pytestmark = pytest.mark.requires("exec")


def test_passwords_set_from_many_threads_all_log_in(server, users):
    names = [f"{users.prefix}pw{n}" for n in range(96)]
    passwords = {u: secrets.token_urlsafe(12) for u in names}
    # Removed after the test on a server the harness did not start.
    users.created += [User(u, passwords[u], server.user_mailbox(u)) for u in names]
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(lambda u: server.set_password(u, passwords[u]), names))
    refused = []
    try:
        for u in names:
            try:
                server.login(u, passwords[u]).logout()
            except Exception as exc:  # noqa: BLE001 - each refusal is the finding
                refused.append(f"{u}: {exc}")
    finally:
        # Accounts a login made but nothing used: gone, so later read-only checks see a quiet store.
        for u in names:
            server.delete_user(u)
        users.created = [u for u in users.created if u.name not in passwords]
    assert not refused, f"{len(refused)} of {len(names)} accounts cannot log in: {refused[:3]}"
