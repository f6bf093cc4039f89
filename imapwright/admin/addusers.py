"""The book's Example 9-1, addusers: accounts, their default folders and a STORAGE quota, from a
file of user names, in one pipelined IMAP session. Bad lines are reported and skipped; a user
that fails does not stop the batch; a second run changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..protocol.dial import Dialer
from ..protocol.imap import pipeline, quote

DEFAULT_QUOTA_KB = 15360
DEFAULT_FOLDERS = ("drafts", "sent-mail")
# Lower-case letters, digits, - and _: safe as a mailbox name component with "." as separator.
VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Names that are not accounts: RFC 4314's identifiers for everybody, and the administrators of the
# servers the harness knows (an account of that name would hand its owner the admin's rights).
RESERVED = {"anyone": "RFC 4314's identifier for every user", "anonymous": "RFC 4314's anonymous identifier",
            "cyrus": "the Cyrus administrator", "admin": "the Dovecot administrator"}
CHUNK = 50  # users per progress step


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


def commands_for(user: str, quota_kb: int | None, folders: tuple[str, ...]) -> list[str]:
    """The account, its folders in order, and its quota (None: no SETQUOTA, e.g. where quota
    limits are not set over IMAP, as on Dovecot)."""
    account = f"user.{user}"
    return ([f"CREATE {quote(account)}"] + [f"CREATE {quote(f'{account}.{f}')}" for f in folders]
            + [f"SETQUOTA {quote(account)} (STORAGE {quota_kb})"] * (quota_kb is not None))


@dataclass
class AddUsersResult:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self, skipped: int = 0) -> str:
        return (f"{len(self.created)} created, {len(self.existing)} existing, {len(self.failed)} failed"
                + (f", {skipped} lines skipped" if skipped else ""))


def addusers(dialer: Dialer, admin: str, password: str, users: list[str],
             quota_kb: int | None = DEFAULT_QUOTA_KB, folders: tuple[str, ...] = DEFAULT_FOLDERS,
             progress: Callable[[int], None] = lambda _n: None, connections: int = 4) -> AddUsersResult:
    """Create each user's account, folders and quota; `progress(n)` after every n users.

    Chunks of users go to `connections` pipelined sessions at once: the server, not the network,
    is the limit (benchmarks/addusers_speed.py: pipelining alone gains nothing on Cyrus, parallel
    sessions do), and a user's commands always stay in one session, in order.
    """
    per_user = len(commands_for("x", quota_kb, folders))

    def run(chunk: list[str]) -> list[tuple[str, str, str]]:
        answers = pipeline(dialer, admin, password,
                           [c for u in chunk for c in commands_for(u, quota_kb, folders)])
        outcomes = [(user, *_outcome(answers[i * per_user:(i + 1) * per_user])) for i, user in enumerate(chunk)]
        progress(len(chunk))
        return outcomes

    chunks = [users[start:start + CHUNK] for start in range(0, len(users), CHUNK)]
    result = AddUsersResult()
    with ThreadPoolExecutor(max_workers=max(1, connections)) as pool:
        for outcomes in pool.map(run, chunks):
            for user, kind, text in outcomes:
                if kind == "created":
                    result.created.append(user)
                elif kind == "existing":
                    result.existing.append(user)
                else:
                    result.failed[user] = text
    return result


def _outcome(answers: list[tuple[str, str]]) -> tuple[str, str]:
    """("created" | "existing" | "failed", reason) from one user's CREATE, folder CREATEs, SETQUOTA."""
    (status, text), rest = answers[0], answers[1:]
    if status == "OK":
        bad = [t for s, t in rest if s != "OK" and "already exists" not in t.lower()]
        return ("failed", bad[0]) if bad else ("created", "")
    if "exists" in text.lower():
        bad = [t for s, t in rest if s != "OK" and "exists" not in t.lower()]
        return ("failed", bad[0]) if bad else ("existing", "")
    return "failed", text or status
