"""A populated mailstore for upgrade validation: what an admin's real store holds, at a size the
run can afford. Accounts made with the account workflow (addusers), nested folders, messages with
flags, keywords and internal dates, seen state for owners and for sharers, ACLs naming users, a
group with members, `anyone` and negative entries, quotas with nested roots where the server has
them, subscriptions, Sieve scripts where the server has them, a shared folder and a bulletin board.

Account i shares its "work" folder with account i+1 (who marks messages seen there), so every
account is both owner and sharer. Account 0 also owns the bulletin board (anyone may read and
post; seen state per reader) and the team folder (the group may write; one seen state where the
server can keep one).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import imapclient

from ..models.acl import PROFILES
from ..servers.handle import ServerHandle
from .accounts import create_accounts
from .snapshot import login_patiently

FOLDERS = ("drafts", "sent-mail", "work", "work.2026", "work.2026.q1")
# Flags and keywords in turn, so every combination the snapshot compares occurs.
FLAG_CYCLE = [[b"\\Seen"], [b"\\Flagged", b"$Project"], [], [b"\\Answered", b"\\Seen"], [b"\\Draft"],
              [b"\\Seen", b"$Label1"], [b"\\Deleted"], [b"\\Seen", b"\\Flagged"]]
GROUP = "staff"
# The small recovery store (populate): fewer folders, the first five flag sets.
SMALL_FOLDERS = ("drafts", "work", "work.2026")
SMALL_FLAGS = FLAG_CYCLE[:5]
SIEVE_SCRIPT = 'require ["fileinto"];\nif header :contains "subject" "report" {\n  fileinto "work";\n}\n'


def append_patiently(client, notes: list[str], mailbox: str, message: bytes, flags, when) -> None:
    """APPEND, once more after a transient server error, noted. Under CI load Cyrus 3.6 answered
    "System I/O error" once, its log saying its staging file already existed
    (append_newstage_full: File exists); the store is test data, the note keeps it visible."""
    try:
        client.append(mailbox, message, flags, when)
    except imapclient.exceptions.IMAPClientError as exc:
        if "I/O error" not in str(exc):
            raise
        notes.append(f"APPEND to {mailbox} failed once ({exc}), done on a retry")
        time.sleep(0.2)
        client.append(mailbox, message, flags, when)


@dataclass(frozen=True)
class StoreSize:
    users: int
    messages: int  # per account, spread over INBOX and its folders

    @classmethod
    def named(cls, name: str) -> StoreSize:
        return {"ci": cls(12, 12), "full": cls(300, 12)}[name]


@dataclass
class Store:
    """What was made: the accounts and their passwords (the snapshot logs in as each), and what
    the server could not do (recorded, not fatal: e.g. no per-mailbox shared seen state)."""
    accounts: dict[str, str]
    board: str = ""  # owner/folder of the bulletin board and the team folder
    team: str = ""
    skipped: list[str] = field(default_factory=list)


def account_names(count: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(count)]


def group_members(users: list[str], most: int = 20) -> list[str]:
    """Every third account, up to `most`, is in the group: members see everyone's work and
    sent-mail (group lr; not the sent-mail whose negative entry names them) and the team folder.
    Bounded because each member's view of every account is read twice per upgrade (100 members
    of 300 accounts made the full store's snapshots take 4.5 minutes each)."""
    return users[2::3][:most]


def _message(n: int, user: str, folder: str) -> bytes:
    subject = "report" if n % 5 == 0 else f"note {n}"
    return (f"From: sender{n % 17}@imapwright.test\r\nTo: {user}@imapwright.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 3 Mar 2025 08:00:00 +0000\r\nMessage-ID: <{n}.{user}@store.imapwright.test>\r\n"
            f"\r\nMessage {n} for {user} in {folder or 'INBOX'}.\r\n" + "x" * (n % 7 * 300) + "\r\n").encode()


def populate_store(server: ServerHandle, size: StoreSize, prefix: str = "u",
                   progress: Callable[[int], None] = lambda _n: None, connections: int = 4) -> Store:
    """Make the store; `progress(1)` after each account."""
    users = account_names(size.users, prefix)
    store = Store({u: secrets.token_urlsafe(12) for u in users})
    profile = PROFILES[server.family_name]
    group = profile.group(GROUP)
    server.create_group(GROUP)
    nested_quota = "quota-roots" in server.features
    when = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)

    # The account workflow (the book's addusers): accounts and folders over pipelined admin
    # sessions; passwords through the server's own tool, quotas below (the family's way).
    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(lambda u: server.set_password(u, store.accounts[u]), users))
    for member in group_members(users):  # after the passwords: Dovecot keeps groups beside them
        server.set_groups(member, [GROUP], settle=False)  # settled with the quotas, at the end
    made = create_accounts(server.dialer(), server.admin_user, server.admin_password, users,
                           mailbox_of=server.user_mailbox, quota_kb=None, folders=FOLDERS, connections=connections)
    if made.failed:
        user, reason = next(iter(made.failed.items()))
        raise RuntimeError(f"addusers failed for {len(made.failed)} accounts, first {user}: {reason}")

    def make(i: int) -> None:
        user, password = users[i], store.accounts[users[i]]
        sharer, other = users[(i + 1) % len(users)], users[(i + 2) % len(users)]
        with login_patiently(server, user, password, store.skipped) as client:
            own = lambda folder: server.mailbox_name(user, folder, user)  # noqa: E731
            places = ("", *FOLDERS)
            for k in range(size.messages):
                n = i * 1000 + k
                folder = places[k % len(places)]
                append_patiently(client, store.skipped, own(folder), _message(n, user, folder),
                                 FLAG_CYCLE[n % len(FLAG_CYCLE)],
                              when + timedelta(hours=n % 5000, minutes=k))
            for folder in ("work", "work.2026", "drafts"):
                client.subscribe_folder(own(folder))
            client.setacl(own("work"), sharer, "lrsw")
            client.setacl(own("work"), group, "lr")
            client.setacl(own("sent-mail"), group, "lr")
            client.setacl(own("sent-mail"), f"-{other}", "r")  # a negative entry
        # Not settled one by one (Dovecot re-reads a changed userdb file after a second): the
        # store is settled once, at the end.
        server.set_quota(server.user_mailbox(user), storage_kb=100_000, settle=False)
        if nested_quota:
            server.set_quota(server.mailbox_name(user, "work"), storage_kb=20_000, settle=False)
        if "sieve" in server.features and server.sieve is not None:
            sieve = server.admin_sieve(user)
            try:
                sieve.put_script("filter", SIEVE_SCRIPT)
                sieve.set_active("filter")
            finally:
                sieve.close()
        progress(1)

    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(make, range(len(users))))

    # Sharers' seen state: each account marks the first message of its neighbour's "work" seen.
    def mark(i: int) -> None:
        owner, sharer = users[i], users[(i + 1) % len(users)]
        with login_patiently(server, sharer, store.accounts[sharer], store.skipped) as client:
            client.select_folder(server.mailbox_name(owner, "work", sharer))
            uids = client.search()
            if uids:
                client.add_flags(uids[:1], [b"\\Seen"])
    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(mark, range(len(users))))

    _boards(server, store, users, group, when)
    server.settle()  # the quota limits and group memberships written without settling (see above)
    return store


def _boards(server: ServerHandle, store: Store, users: list[str], group: str, when: datetime) -> None:
    owner = users[0]
    with login_patiently(server, owner, store.accounts[owner], store.skipped) as client:
        board, team = server.mailbox_name(owner, "board", owner), server.mailbox_name(owner, "team", owner)
        for name in (board, team):
            client.create_folder(name)
            for k in range(3):
                append_patiently(client, store.skipped, name, _message(900_000 + k, owner, name), [],
                                 when + timedelta(days=k))
        client.setacl(board, "anyone", "lrsp")  # the book's bulletin board: anyone reads and posts
        client.setacl(team, group, "lrswi")
    store.board, store.team = f"{owner}/board", f"{owner}/team"
    try:
        server.share_seen_state(server.mailbox_name(owner, "team"))
    except NotImplementedError as exc:
        store.skipped.append(f"shared seen state on the team folder: {exc}")
    # Readers of the board keep their own seen state: every third account reads its first message.
    for reader in users[1::3]:
        with login_patiently(server, reader, store.accounts[reader], store.skipped) as client:
            client.select_folder(server.mailbox_name(owner, "board", reader))
            uids = client.search()
            client.add_flags(uids[:1], [b"\\Seen"])
            client.subscribe_folder(server.mailbox_name(owner, "board", reader))


def store_problems(server: ServerHandle, store: Store, snapshot: dict) -> list[str]:
    """Where the server's store is not what populate_store made: every sharer reads its
    neighbour's work folder and every account the bulletin board; group members read the team
    folder and everyone's sent-mail but the one whose negative entry names them (listed, since
    the group's l remains, but not readable); other accounts do not see sent-mail at all."""
    users = sorted(store.accounts)
    members = set(group_members(users))
    problems = []
    for i, user in enumerate(users):
        views = snapshot[user].get("views", {})

        def seen(who: str, folder: str):
            return views.get(server.mailbox_name(who, folder, user), "absent")
        readable = [(users[i - 1], "work", "shared with it by SETACL"), (users[0], "board", "anyone lrsp")]
        if user in members:
            readable.append((users[0], "team", f"group {GROUP} lrswi"))
            readable += [(o, "sent-mail", f"group {GROUP} lr") for o in users if o not in (user, users[i - 2])]
            if seen(users[i - 2], "sent-mail") is not None:
                problems.append(f"{user} reads {users[i - 2]}'s sent-mail (its negative entry -{user} r denies it)")
        else:
            problems += [f"{user} sees {o}'s sent-mail (shared only with group {GROUP})"
                         for o in users if o != user and seen(o, "sent-mail") != "absent"]
        for who, folder, why in readable:
            if who != user and seen(who, folder) in ("absent", None):
                problems.append(f"{user} cannot read {who}'s {folder} ({why})")
    return problems


def populate(server: ServerHandle, users: list[str], messages: int = 3, quota_kb: int | None = 50_000
             ) -> dict[str, str]:
    """The small store the recovery suites snapshot before and after (nested folders, flags and
    keywords, internal dates, a subscription, shared folders, a quota): `users` created and
    filled; returns user -> password (for the snapshot's logins)."""
    accounts = {user: secrets.token_urlsafe(12) for user in users}
    when = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
    n = 0
    for i, (user, password) in enumerate(accounts.items()):
        server.create_user(user, password)
        neighbour = users[(i + 1) % len(users)]
        with server.login(user, password) as client:
            for folder in SMALL_FOLDERS:
                client.create_folder(server.mailbox_name(user, folder, user))
            for folder in ("", *SMALL_FOLDERS):
                own = server.mailbox_name(user, folder, user)
                for k in range(messages):
                    n += 1
                    body = (f"From: s{n}@imapwright.test\r\nTo: {user}@imapwright.test\r\nSubject: {folder or 'inbox'} {k}\r\n"
                            f"Message-ID: <{n}.{user}@populate.test>\r\n\r\nmessage {n} for {user}\r\n").encode()
                    client.append(own, body, SMALL_FLAGS[n % len(SMALL_FLAGS)], when + timedelta(hours=n))
            client.subscribe_folder(server.mailbox_name(user, "work", user))
            if neighbour != user:
                client.setacl(server.mailbox_name(user, "work", user), neighbour, "lrs")
            client.setacl(server.mailbox_name(user, "drafts", user), "anyone", "lr")
        if quota_kb is not None:
            server.set_quota(server.user_mailbox(user), storage_kb=quota_kb)
    return accounts
