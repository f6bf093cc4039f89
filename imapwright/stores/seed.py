"""Fill a server's mailbox list fast: mailboxes created with pipelined CREATE on several admin
sessions at once, for benchmarks and load scenarios that need 10k or 100k entries.

Entries are numbered: entry i is folder i % (folders + 1) of account i // (folders + 1), so the list
looks like a real one (accounts with a few folders each) and can be grown in steps (1k, then up to
10k, ...) by seeding the next range of numbers.
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol.dial import Dialer
from ..protocol.imap import pipeline, pipeline_groups, quote

FOLDERS = ("drafts", "sent-mail", "trash", "archive")
CHUNK = 250  # CREATEs per pipelined session; one progress step each


class SeedError(RuntimeError):
    """A CREATE the server refused for a reason other than "already exists"."""


def seed_names(start: int, stop: int, mailbox_of: Callable[[str], str], prefix: str = "seed",
               folders: tuple[str, ...] = FOLDERS) -> list[str]:
    """Mailbox names of entries start..stop-1; `mailbox_of`: the family's account mailbox
    (server.user_mailbox), folders below it with "." as separator."""
    per_account = len(folders) + 1
    names = []
    for i in range(start, stop):
        account, slot = divmod(i, per_account)
        base = mailbox_of(f"{prefix}{account:06d}")
        names.append(base if slot == 0 else f"{base}.{folders[slot - 1]}")
    return names


def seed_mailboxes(dialer: Dialer, admin: str, password: str, names: list[str],
                   connections: int = 4, progress: Callable[[int], None] = lambda _n: None) -> int:
    """Create `names` (each account before its folders, as seed_names orders them); returns how
    many were new. Mailboxes that already exist count as done, so an interrupted seed can be re-run.

    Chunks go to parallel sessions in order, so an account split across two chunks is normally
    created before its folders; a folder that raced ahead of its account is retried at the end.
    """
    created, retry = 0, []
    answers = pipeline_groups(dialer, admin, password, [[f"CREATE {quote(n)}"] for n in names], CHUNK,
                              connections, progress)
    for name, [(status, text)] in zip(names, answers):
        if status == "OK":
            created += 1
        elif "exists" not in text.lower():
            retry.append((name, text))
    if retry:
        answers = pipeline(dialer, admin, password, [f"CREATE {quote(n)}" for n, _ in retry])
        failed = [(n, t) for (n, _), (s, t) in zip(retry, answers) if s != "OK" and "exists" not in t.lower()]
        if failed:
            raise SeedError(f"{len(failed)} mailboxes not created, first {failed[0][0]}: {failed[0][1]}")
        created += sum(1 for s, _ in answers if s == "OK")
    return created
