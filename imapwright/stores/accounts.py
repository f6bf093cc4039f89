"""Accounts made in bulk over IMAP, as the book's addusers makes them (Example 9-1): each
account, its folders in order, and a STORAGE quota, pipelined over parallel admin sessions
(protocol/imap.pipeline_groups). The account's mailbox name is the family's (server.user_mailbox,
given as `mailbox_of`). A user that fails does not stop the batch; a second run changes nothing.
The file-reading workflow around it is admin/addusers.py; the upgrade store (stores/store.py)
uses this directly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..protocol.dial import Dialer
from ..protocol.imap import pipeline_groups, quote

DEFAULT_QUOTA_KB = 15360
DEFAULT_FOLDERS = ("drafts", "sent-mail")
CHUNK = 50  # users per pipelined session; one progress step each


def commands_for(account: str, quota_kb: int | None, folders: tuple[str, ...]) -> list[str]:
    """For one account mailbox (the family's name for it, e.g. user.bob): CREATE it, its folders
    in order, and SETQUOTA (None: no SETQUOTA, e.g. where quota limits are not set over IMAP, as
    on Dovecot)."""
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


def create_accounts(dialer: Dialer, admin: str, password: str, users: list[str], *,
                    mailbox_of: Callable[[str], str], quota_kb: int | None = DEFAULT_QUOTA_KB,
                    folders: tuple[str, ...] = DEFAULT_FOLDERS, progress: Callable[[int], None] = lambda _n: None,
                    connections: int = 4) -> AddUsersResult:
    """Create each user's account, folders and quota; `progress(n)` after every n users."""
    groups = [commands_for(mailbox_of(u), quota_kb, folders) for u in users]
    answers = pipeline_groups(dialer, admin, password, groups, CHUNK, connections, progress)
    result = AddUsersResult()
    for user, outcome in zip(users, answers):
        kind, text = _outcome(outcome)
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
