"""The book's Example 9-1, addusers: accounts, their default folders and a STORAGE quota, from a
file of user names. Bad lines are reported and skipped; the accounts are made by
stores/accounts.py (pipelined over parallel sessions), where a user that fails does not stop the
batch and a second run changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..protocol.dial import Dialer
from ..stores.accounts import (DEFAULT_FOLDERS, DEFAULT_QUOTA_KB, AddUsersResult, commands_for,  # noqa: F401
                               create_accounts)
# Lower-case letters, digits, - and _: safe as a mailbox name component with "." as separator.
VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Names that are not accounts: RFC 4314's identifiers for everybody, and the administrators of the
# servers the harness knows (an account of that name would hand its owner the admin's rights).
RESERVED = {"anyone": "RFC 4314's identifier for every user", "anonymous": "RFC 4314's anonymous identifier",
            "cyrus": "the Cyrus administrator", "admin": "the Dovecot administrator"}


@dataclass
class UserList:
    users: list[str]
    skipped: list[str]  # "line N: reason"


def read_user_list(path: Path) -> UserList:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read user list {path}: {exc}") from None
    users, skipped, seen = [], [], set()
    for n, raw in enumerate(text.splitlines(), 1):
        name = raw.strip()
        if not name or name.startswith("#"):
            continue
        if not VALID_NAME.match(name):
            skipped.append(f"line {n}: invalid user name {name!r}")
        elif name in RESERVED:
            skipped.append(f"line {n}: {name!r} is reserved ({RESERVED[name]})")
        elif name in seen:
            skipped.append(f"line {n}: duplicate {name!r}")
        else:
            seen.add(name)
            users.append(name)
    return UserList(users, skipped)


def addusers(dialer: Dialer, admin: str, password: str, users: list[str], *, mailbox_of: Callable[[str], str],
             quota_kb: int | None = DEFAULT_QUOTA_KB, folders: tuple[str, ...] = DEFAULT_FOLDERS,
             progress: Callable[[int], None] = lambda _n: None, connections: int = 4) -> AddUsersResult:
    """The book's addusers over a read user list: stores/accounts.create_accounts."""
    return create_accounts(dialer, admin, password, users, mailbox_of=mailbox_of, quota_kb=quota_kb, folders=folders,
                           progress=progress, connections=connections)
