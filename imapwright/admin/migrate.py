"""The book's migration toolkit as one workflow.

  plan     bsd2cyrus: map each user's mbox files and Maildirs to mailbox names, skipping what the
           book skips; read every message, so bad input is found before anything is written
  apply    append  (user2cyrus, Example 9-6): IMAP APPEND as the user, with flags and internal
                   date, line ends made CRLF, UW's "FOLDER INTERNAL DATA" message left out
           deliver (extract-and-deliver): LMTP to user+folder, one transaction per message
           copy    (extract-and-copy, Cyrus): message files written into the spool, then reconstruct
  verify   both directions per folder, by fingerprint (see mailstore.message)
  revert   Example 9-7: the server's mailboxes back into mbox files, under lock

A mailbox that already exists is never overwritten: if everything in it came from the source (an
earlier, perhaps interrupted run) only the missing messages are added, so a re-run duplicates
nothing; if it holds anything else, the user is refused before any of its folders is touched.
"""

from __future__ import annotations

import dataclasses
import functools
import fcntl
import mmap
import os
import re
import tempfile
import threading
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import imapclient

from ..errors import ServerError, UserError
from ..mailstore.maildir import read_maildir
from ..mailstore.mh import read_message_file, read_mh
from ..protocol.imap import command, quote
from ..mailstore.mbox import MboxError, MboxMessage, MboxMessages, header_block, scan_mbox, unquoted, write_mbox_to
from ..mailstore.message import (FileMessages, StoredMessage, fingerprint, header_facts, metadata, parse_date,
                                 split_metadata, to_crlf, with_metadata)
from ..mailstore import rewrites
from .folder_compare import EVERYTHING, Difference, compare_folder
from ..mailstore.tree import Folder, Skipped, decode_component, scan_user
from ..resources import fixture
from ..servers.handle import ServerHandle
from ..servers.logs import trouble_tail
from .addusers import VALID_NAME
from ..stores.tree import FolderCounts, fetch_uids, iter_messages, own_folders, read_messages, status_mismatches

METHODS = ("append", "deliver", "copy")


@functools.cache  # per user and folder otherwise: one parse of the file is enough
def rewrite_rules(method: str | None, family: str) -> frozenset[str]:
    """What the server does to messages of this method, as measured and listed in
    fixtures/migration/methods.toml [rewrites.METHOD.FAMILY]. With no method, the alterations of
    every method but no drop: a drop excuses a missing message only where the method is known."""
    table = tomllib.loads(fixture("migration", "methods.toml").read_text()).get("rewrites", {})
    if method:
        return frozenset(table.get(method, {}).get(family, {}).get("rules", []))
    return frozenset(r for m in table for r in table[m].get(family, {}).get("rules", [])) - rewrites.DROPPING.keys()
def documented_rewrites(method: str) -> list[dict]:
    """What each server family is known to do to messages of `method` (methods.toml
    [rewrites.METHOD.FAMILY]: reason, reference, and `keep`: how to have them stored as they are)."""
    table = tomllib.loads(fixture("migration", "methods.toml").read_text()).get("rewrites", {})
    return [{"family": family, **entry} for family, entry in sorted(table.get(method, {}).items())]


# A folder's messages kept as columns: risks and date sources are counted from them.
_COLUMNS = (MboxMessages, FileMessages)


def delivery_risks(plan: Plan) -> dict[str, int]:
    """Messages a delivering method changes or drops on servers that rewrite: a Message-ID that an
    earlier message of the same folder already has (duplicate suppression keeps one), and
    messages without a Message-ID or a Date (a server adds its own: no longer the same message)."""
    shared = without_id = without_date = 0
    for user in plan.users:
        for folder in user.folders:
            if isinstance(folder.messages, _COLUMNS):  # no file read again
                counts = folder.messages.risk_counts()
                shared, without_id, without_date = (a + b for a, b in zip((shared, without_id, without_date), counts))
                continue
            ids: set[bytes] = set()
            for m in folder.messages:
                mid, dated = m.header_facts()
                if mid is None:
                    without_id += 1
                elif mid in ids:
                    shared += 1
                else:
                    ids.add(mid)
                without_date += not dated
    return {"duplicate-message-id-dropped": shared, "message-id-added": without_id, "date-added": without_date}


def _date_sources(messages: Sequence[StoredMessage]) -> Iterator[str]:
    if isinstance(messages, _COLUMNS):
        return messages.date_sources()
    return (m.date_source for m in messages)


# The words for delivery_risks' counts (keyed by the rewrite rule that touches those messages).
RISK_WORDS = {"duplicate-message-id-dropped": "share a Message-ID with an earlier message of their folder",
              "message-id-added": "have no Message-ID", "date-added": "have no Date"}


# What a method can carry besides the message text: flags, internal date, and "trace" (the
# content arrives without header fields added on top; deliveries add Return-Path, Received...).
# verify compares only these; suites/migration measures what really survives per server.
CARRIES = {"append": EVERYTHING, "deliver": frozenset(), "copy": frozenset({"date", "trace"})}


ON_ERROR = ("skip-user", "skip-message", "stop")


@dataclass
class FolderPlan:
    folder: Folder
    messages: Sequence[StoredMessage]  # what will be migrated (an mbox's: MboxMessages)
    internal_data: int = 0  # UW imapd pseudo-messages left out
    bad: list[str] = field(default_factory=list)  # messages that cannot be migrated, with the reason

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def found(self) -> int:
        return len(self.messages) + self.internal_data + len(self.bad)


@dataclass
class UserPlan:
    user: str
    root: Path
    folders: list[FolderPlan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # every reason this user cannot go as planned

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Plan:
    users: list[UserPlan]
    problems: list[str]  # every problem of every user (and of users that could not be read at all)

    def check(self) -> None:
        """--on-error stop: any problem and nothing is applied."""
        if self.problems:
            more = f" (and {len(self.problems) - 1} more; `imapwright migrate plan` lists them)" \
                if len(self.problems) > 1 else ""
            raise UserError(f"{self.problems[0]}{more}")

    @property
    def message_count(self) -> int:
        return sum(len(f.messages) for u in self.users for f in u.folders)

    def ledger(self) -> dict[str, object]:
        """Every source file and message accounted for; the totals are checked here."""
        folders = [f for u in self.users for f in u.folders]
        found = sum(f.found for f in folders)
        dates = Counter(source or "none" for f in folders for source in _date_sources(f.messages))
        out = {"users": len(self.users), "files read": len(folders),
               "files skipped": sum(len(u.skipped) for u in self.users),
               "messages found": found, "to migrate": self.message_count,
               "left out (FOLDER INTERNAL DATA)": sum(f.internal_data for f in folders),
               "cannot be migrated": sum(len(f.bad) for f in folders),
               "dates from": dict(sorted(dates.items()))}
        if found != out["to migrate"] + out["left out (FOLDER INTERNAL DATA)"] + out["cannot be migrated"]:
            raise AssertionError(f"migration ledger does not add up: {out}")  # a harness bug, not input
        return out


def _date_of(content: bytes, fallback: datetime | None) -> tuple[datetime | None, str]:
    """A message's Date: header as its internal date, else the fallback (the file's time)."""
    head = content.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"(?im)^Date:[ \t]*(.+(?:\r?\n[ \t].+)*)", head)
    when = parse_date(re.sub(rb"\s+", b" ", m[1]).decode("latin-1")) if m else None
    if when is not None:
        return when, "Date header"
    return fallback, "file time" if fallback else ""


RELEASE_BYTES = 32 << 20


def read_folder(folder: Folder, variant: str) -> FolderPlan:
    """Every message of one source folder, metadata headers turned into flags; a message that
    cannot be migrated is listed with its reason. MboxError or OSError for a file that cannot be
    read as mail at all."""
    if folder.kind == "maildir":
        return FolderPlan(folder, read_maildir(folder.path))
    if folder.kind == "mh":
        return FolderPlan(folder, read_mh(folder.path))
    if folder.kind == "message":
        return FolderPlan(folder, read_message_file(folder.path))
    mtime = datetime.fromtimestamp(int(folder.path.stat().st_mtime), timezone.utc)
    messages, internal, bad = MboxMessages(folder.path, variant, folder.name), 0, []
    with folder.path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return FolderPlan(folder, [], 0, [])
        # A memory map, scanned once; only each message's header is read now, its content when it
        # is sent: a plan of a mbox of several GB keeps offsets and a few numbers (#33).
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            released = 0
            for n, span in enumerate(scan_mbox(data, variant), 1):
                if span.problem:
                    bad.append(f"{folder.path}: {span.problem}")
                    continue
                head = unquoted(header_block(data, span), variant)
                flags, pseudo = metadata(head)  # the header is not made anew without them: not needed
                if pseudo and n == 1:
                    internal += 1
                    continue
                date, date_source = (span.date, "From_ line") if span.date else _date_of(head, mtime)
                messages.add(n, span, flags, date, date_source, header_facts(head))
                if span.stop - released > RELEASE_BYTES:  # what was scanned leaves this process's memory
                    upto = span.stop - span.stop % mmap.PAGESIZE
                    data.madvise(mmap.MADV_DONTNEED, released, upto - released)
                    released = upto
    return FolderPlan(folder, messages, internal, bad)


def make_plan(source: Path, users: list[str] | None = None, variant: str = "mboxrd") -> Plan:
    """The plan for `users` (default: every directory under `source`); reads, never writes."""
    if not source.is_dir():
        raise UserError(f"source {source} is not a directory")
    names = users if users is not None else sorted(p.name for p in source.iterdir()
                                                    if p.is_dir() and not p.name.startswith("."))
    plans, problems = [], []
    for user in names:
        root = source / user
        if not VALID_NAME.match(user):
            problems.append(f"{root}: {user!r} is not a valid user name")
            continue
        if not root.is_dir():
            problems.append(f"{root}: no such directory for user {user}")
            continue
        folders, skipped = scan_user(root)
        plan = UserPlan(user, root, skipped=skipped)
        seen: dict[str, Path] = {}
        for folder in folders:
            if folder.name in seen:
                plan.problems.append(f"{folder.path}: maps to {folder.name} like {seen[folder.name]}")
                continue
            seen[folder.name] = folder.path
            try:
                fp = read_folder(folder, variant)
            except MboxError as exc:
                plan.problems.append(f"{folder.path}: {exc}")
                continue
            except OSError as exc:
                plan.problems.append(f"{folder.path}: cannot read: {exc.strerror or exc}")
                continue
            plan.folders.append(fp)
            plan.problems += fp.bad
        problems += plan.problems
        plans.append(plan)
    return Plan(plans, problems)


# -- the server side ---------------------------------------------------------------------------
class UserRefused(UserError):
    """One user cannot be migrated (no account, a mailbox holding other mail): the batch goes on."""


@contextmanager
def user_session(server: ServerHandle, user: str) -> Iterator[imapclient.IMAPClient]:
    """The admin acting as `user` (ServerHandle.user_session); a user it cannot act as (no
    account) is refused in one line, so a batch goes on with the others."""
    try:
        with server.user_session(user) as client:
            # Cyrus lets its admin act as a user that has no account: the login works, the INBOX
            # does not exist (found migrating to a fresh --target; it ended in a traceback).
            try:
                client.folder_status(server.mailbox_name(user, "", user), [b"MESSAGES"])
            except imapclient.exceptions.IMAPClientError as exc:
                raise UserRefused(f"{user}: has no INBOX on the server ({_short(exc)}): does the account "
                                  "exist? (`imapwright admin addusers` makes it)") from None
            yield client
    except imapclient.exceptions.LoginError as exc:
        raise UserRefused(f"{user}: the admin cannot log in as this user ({_short(exc)}): "
                          "does the account exist? (`imapwright admin addusers` makes it)") from None


def server_folders(server: ServerHandle, user: str) -> dict[str, list[StoredMessage]]:
    """Every folder of `user` on the server ("INBOX", "work.2026", ...) with its messages."""
    with user_session(server, user) as client:
        return {relative or "INBOX": read_messages(client, mailbox)
                for relative, mailbox in own_folders(server, client, user).items()}


@dataclass
class FolderState:
    mailbox: str  # the user's own name for it
    exists: bool
    present: Counter  # content digest -> count already on the server


def preflight(server: ServerHandle, plan: UserPlan, trace: bool = True,
              rules: frozenset[str] = frozenset()) -> dict[str, FolderState]:
    """Where each planned folder stands on the server; UserError if one holds mail that is not
    from the source (the book: never overwrite an existing mailbox). Messages are known by a key
    the server's documented rewrites cannot change: its own altered copies are the source's."""
    with user_session(server, plan.user) as client:
        existing = own_folders(server, client, plan.user)
        states = {}
        for fp in plan.folders:
            relative = "" if fp.name == "INBOX" else fp.name
            mailbox = server.mailbox_name(plan.user, relative, plan.user)
            present = Counter()
            if relative in existing:
                # Streamed: a re-run into a folder of a million keeps keys, not messages (#33).
                present = Counter(rewrites.key(m.content, rules, trace) for m in iter_messages(client, mailbox))
            if present:  # an empty mailbox (addusers made it) holds nothing foreign: no source read for it
                source = Counter(rewrites.key(m.content, rules, trace) for m in fp.messages)
                foreign = present - source
                if foreign:
                    raise UserRefused(f"{plan.user}: mailbox {mailbox} already exists with "
                                    f"{sum(foreign.values())} messages not from {fp.folder.path}; not overwritten")
            states[fp.name] = FolderState(mailbox, relative in existing, present)
        return states


@dataclass
class ApplyResult:
    added: int = 0  # acknowledged and found stored
    already: int = 0  # on the server from an earlier run
    refused: list[str] = field(default_factory=list)  # "folder: message N: server's answer"
    dropped: int = 0  # acknowledged (or copied) but not stored
    dropped_notes: list[str] = field(default_factory=list)


def _todo(fp: FolderPlan, state: FolderState, trace: bool, rules: frozenset[str]) -> tuple[Sequence[StoredMessage], int]:
    """Messages still to add: the source less what an earlier run already put there."""
    if not state.present:  # nothing there yet: every message, none read twice or held (#33)
        return fp.messages, 0
    left, todo = Counter(state.present), []
    for message in fp.messages:
        d = rewrites.key(message.content, rules, trace)
        if left[d] > 0:
            left[d] -= 1
        else:
            todo.append(message)
    return todo, len(fp.messages) - len(todo)


def apply_user(server: ServerHandle, plan: UserPlan, method: str,
               progress: Callable[[int], None] = lambda _n: None) -> ApplyResult:
    if method not in METHODS:
        raise UserError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    if method == "copy" and "spool-copy" not in server.features:
        raise UserError(f"{server.name}: method copy writes into the spool, which needs a server the harness "
                        f"started (or an exec= target) whose store takes copied files")
    trace = "trace" in CARRIES[method]
    rules = rewrite_rules(method, server.family_name)
    with _server_trouble(server, plan.user, "looking at what is there"):
        states = preflight(server, plan, trace, rules)
    result = ApplyResult()
    with user_session(server, plan.user) as client:
        for fp in plan.folders:
            state = states[fp.name]
            todo, already = _todo(fp, state, trace, rules)
            result.already += already
            progress(already)
            if not state.exists:
                client.create_folder(state.mailbox)
            if todo:
                before = client.folder_status(state.mailbox, [b"MESSAGES"])[b"MESSAGES"]
                added = result.added
                try:
                    _METHOD[method](server, client, plan.user, fp, state, todo, result, progress)
                except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
                    # A source file read when its message is sent (PathMessage, FileMessage) went or
                    # changed since the plan: the user's to look at, not the server's.
                    raise UserError(f"{plan.user}: {exc.filename}: {exc.strerror} (changed since the plan?); "
                                    "a re-run adds only what is missing") from None
                except (imapclient.exceptions.IMAPClientAbortError, OSError) as exc:
                    raise ServerError(f"{plan.user}: the connection to {server.name} broke during {method} "
                                      f"into {state.mailbox} ({_short(exc)}); a re-run adds only what is "
                                      f"missing{_log_tail(server)}") from None
                # What the server acknowledged is not always what it stored (duplicate suppression,
                # a repair leaving a file out): count, and say so.
                stored = client.folder_status(state.mailbox, [b"MESSAGES"])[b"MESSAGES"] - before
                if stored < result.added - added:
                    missing = result.added - added - stored
                    result.added -= missing
                    result.dropped += missing
                    result.dropped_notes.append(f"{fp.name}: {missing} acknowledged but not stored (see "
                                                "`migrate verify` for which)")
    return result


# MULTIAPPEND batches (RFC 3502): one round trip, and one commit on the server, per batch. One
# APPEND at a time moved 250-340 messages/s into Cyrus with neither side busy (each waited on the
# other's round trip and fsync), and into Dovecot's Maildir it fell to ~23/s at 36,000 messages.
# In a large folder commits are what grows: Dovecot 2.3 re-reads its whole dovecot-uidlist per
# commit (2.2 s at 372,000 messages, then 0.7 ms a message: 85/s in batches of 200, 367/s of
# 1,000). In small folders batches of 2,600 cost both servers more than 200 did (100,000 messages
# as 8 users: 80 s against 67 on Cyrus, 62 against 49 on Dovecot); 1,000: 77 s and 40 s.
BATCH_MESSAGES, BATCH_BYTES = 1000, 8 << 20


def _append(server, client, user, fp, state, todo, result, progress) -> None:
    if not client.has_capability("MULTIAPPEND"):
        for message in todo:
            _append_one(client, fp, state, message, to_crlf(message.content), result, progress)
        return
    batch, size = [], 0
    for message in todo:
        content = to_crlf(message.content)
        batch.append((message, content))
        size += len(content)
        if len(batch) >= BATCH_MESSAGES or size >= BATCH_BYTES:
            _append_batch(client, fp, state, batch, result, progress)
            batch, size = [], 0
    if batch:
        _append_batch(client, fp, state, batch, result, progress)


def _append_batch(client, fp, state, batch, result, progress) -> None:
    items = [{"msg": content, "flags": sorted(m.flags), **({"date": m.date} if m.date else {})}
             for m, content in batch]
    try:
        # imapclient returns a NO here rather than raising it (its _raw_command checks nothing).
        refused = client.multiappend(state.mailbox, items)[0] != "OK"
    except imapclient.exceptions.IMAPClientAbortError:
        raise
    except imapclient.exceptions.IMAPClientError:
        refused = True
    if refused:
        # All or nothing (RFC 3502 3): none of the batch is there. One at a time, so each message
        # gets the server's own answer (a refused one named, the others stored).
        for message, content in batch:
            _append_one(client, fp, state, message, content, result, progress)
        return
    result.added += len(batch)
    progress(len(batch))


def _append_one(client, fp, state, message, content, result, progress) -> None:
    try:
        client.append(state.mailbox, content, sorted(message.flags), message.date)
        result.added += 1
    except imapclient.exceptions.IMAPClientAbortError:
        raise
    except imapclient.exceptions.IMAPClientError as exc:
        result.refused.append(f"{fp.name}: {message.source}: {exc}")
    progress(1)


def _deliver(server, client, user, fp, state, todo, result, progress) -> None:
    # LMTP's user+detail addresses the folder (RFC 5233 subaddress): Cyrus's lmtpd (preauthorized,
    # -a) and Dovecot (lmtp_save_to_detail_mailbox) file the message there.
    relative = "" if fp.name == "INBOX" else fp.name
    recipient = user
    if relative:
        # The detail is the folder's name in UTF-8 (RFC 6531); a local part with spaces or other
        # specials is quoted (RFC 5321 4.1.2).
        local = f"{user}+{relative}"
        recipient = local if re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+", local) else \
            '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    right = server.detail_delivery_right if relative else None
    before = None
    if right:  # the owner opens its folder to posting for the migration, then closes it again
        before = dict(client.getacl(state.mailbox)).get(b"anyone", b"").decode()
        client.setacl(state.mailbox, "anyone", before + right)
    try:
        with server.lmtp_client() as lmtp:
            for message in todo:
                [outcome] = lmtp.deliver(to_crlf(message.content), [recipient],
                                         sender=message.sender or "MAILER-DAEMON")
                if outcome.accepted:
                    result.added += 1
                else:
                    result.refused.append(f"{fp.name}: {message.source}: {outcome.code} {outcome.text}")
                progress(1)
    finally:
        if right and before:
            client.setacl(state.mailbox, "anyone", before)
        elif right:
            typ, data = command(client, "DELETEACL", quote(state.mailbox), "anyone")
            if typ != "OK":
                raise RuntimeError(f"DELETEACL {state.mailbox} anyone: {typ} {data}")


def _copy(server, client, user, fp, state, todo, result, progress) -> None:
    first = client.folder_status(state.mailbox, [b"UIDNEXT"])[b"UIDNEXT"]
    admin_name = server.tool_name(server.mailbox_name(user, "" if fp.name == "INBOX" else fp.name))
    server.copy_into(admin_name, ((to_crlf(m.content), m.date.timestamp() if m.date else None)
                                  for m in todo), first)  # read as the files are written: not held (#33)
    result.added += len(todo)
    progress(len(todo))


_METHOD = {"append": _append, "deliver": _deliver, "copy": _copy}


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:160]


@dataclass
class BatchResult:
    """apply over every user of a plan: what happened to each, and the ledger of the whole."""
    users: dict[str, dict] = field(default_factory=dict)
    ledger: dict[str, object] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [f"{u}: {r['reason']}" for u, r in self.users.items() if r["status"] != "applied"] + [
            f"{u}: {line}" for u, r in self.users.items() for line in r["refused"] + r.get("notes", [])]


class _Stopped(Exception):
    """A parallel user's session told to stop (Ctrl-C, or another user's broken connection)."""


def apply_all(server: ServerHandle, plan: Plan, method: str, on_error: str = "skip-user",
              progress: Callable[[int], None] = lambda _n: None,
              say: Callable[[str], None] = lambda _t: None, jobs: int = 1) -> BatchResult:
    """Every user of the plan. A user with problems is, by `on_error`: refused before anything of
    theirs is written (skip-user), migrated without the messages that cannot go (skip-message), or
    the whole batch refused before anything is written (stop). A user the server refuses (no
    account, a mailbox with other mail) does not stop the others. `jobs` users at a time, each in
    a session of its own: one session leaves both sides idle half the time (each waits on the
    other's answer), so the server is the limit only with several."""
    if on_error not in ON_ERROR:
        raise UserError(f"--on-error {on_error!r}: one of {', '.join(ON_ERROR)}")
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: at least 1")
    if on_error == "stop":
        plan.check()
    batch = BatchResult()
    runnable = []
    for user in plan.users:
        count = sum(len(f.messages) for f in user.folders)
        entry = {"status": "applied", "reason": "", "added": 0, "already": 0, "refused": [], "dropped": 0,
                 "cannot be migrated": sum(len(f.bad) for f in user.folders), "to migrate": count}
        batch.users[user.user] = entry
        if user.problems and on_error == "skip-user":
            entry.update(status="refused", reason=f"{len(user.problems)} problems, first: {user.problems[0]} "
                                                  "(nothing written; --on-error skip-message migrates the rest)")
            progress(count)
            say(f"{user.user}: refused: {entry['reason']}")
            continue
        runnable.append(user)

    def settle(user: UserPlan, run: Callable[[], ApplyResult]) -> None:
        entry = batch.users[user.user]
        try:
            result = run()
        except UserRefused as exc:
            entry.update(status="refused", reason=str(exc).removeprefix(f"{user.user}: "))
            progress(entry["to migrate"])
            say(f"{user.user}: refused: {entry['reason']}")
            return
        entry.update(added=result.added, already=result.already, refused=result.refused,
                     dropped=result.dropped, notes=result.dropped_notes)
        say(f"{user.user}: {result.added} added, {result.already} already there, {len(result.refused)} refused"
            + (f", {result.dropped} dropped by the server" if result.dropped else "")
            + (f", {entry['cannot be migrated']} could not be migrated" if entry["cannot be migrated"] else ""))

    if jobs == 1:
        for user in runnable:
            settle(user, functools.partial(apply_user, server, user, method, progress))
    else:
        _apply_parallel(server, runnable, method, progress, settle, jobs)
    batch.ledger = {**plan.ledger(), "method": method, "on_error": on_error,
                    "stored": sum(e["added"] for e in batch.users.values()),
                    "already there": sum(e["already"] for e in batch.users.values()),
                    "refused by the server": sum(len(e["refused"]) for e in batch.users.values()),
                    "dropped by the server": sum(e["dropped"] for e in batch.users.values()),
                    "not sent (user refused)": sum(e["to migrate"] for e in batch.users.values()
                                                   if e["status"] != "applied"),
                    "users refused": sorted(u for u, e in batch.users.items() if e["status"] != "applied")}
    sent = (batch.ledger["stored"] + batch.ledger["already there"] + batch.ledger["refused by the server"]
            + batch.ledger["dropped by the server"])
    if sent + batch.ledger["not sent (user refused)"] != batch.ledger["to migrate"]:
        raise AssertionError(f"migration ledger does not add up: {batch.ledger}")  # a harness bug
    return batch


def _apply_parallel(server, users, method, progress, settle, jobs) -> None:
    """Users `jobs` at a time. Anything raised here or in a user's session (Ctrl-C in the main
    thread, a broken connection in one) stops the others after the batch each has in flight (a
    re-run adds what is missing), then goes on up."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    stop = threading.Event()

    def tick(n: int) -> None:
        if stop.is_set():
            raise _Stopped()
        progress(n)

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="migrate")
    try:
        running = {pool.submit(apply_user, server, user, method, tick): user for user in users}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                settle(running.pop(future), future.result)
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# -- verify ------------------------------------------------------------------------------------
# What was left out of a migration, by class (verify --accept CLASS lets one pass): the reason a
# file was skipped or a message could not go, as tree.scan_user and mbox.read_mbox word them.
LEFT_OUT = (("skipped:hidden", "hidden"), ("skipped:compressed", "compressed"), ("skipped:binary", "binary"),
            ("skipped:not-mbox", "not an mbox"), ("skipped:special", "not a regular file"),
            ("skipped:unreadable", "unreadable"), ("skipped:removed", "a removed message"),
            ("message:not-mail", "not mail"), ("message:cut-short", "cut short"))


def dropped_class(rule: str) -> str:
    """verify --accept's name for messages a server drops under a rule."""
    return "dropped:" + rule.removesuffix("-dropped")


def left_out_class(reason: str) -> str:
    return next((cls for cls, words in LEFT_OUT if words in reason), "other")


def not_migrated(plan: Plan, accepted: set[str]) -> list[str]:
    """Source files skipped and messages that could not be migrated, less the accepted classes
    (empty files hold no mail and are never counted)."""
    known = [cls for cls, _ in LEFT_OUT] + [dropped_class(rule) for rule in rewrites.DROPPING]
    unknown = accepted - set(known)
    if unknown:
        raise UserError(f"--accept {sorted(unknown)[0]!r}: one of {', '.join(known)}")
    out = []
    for user in plan.users:
        for skipped in user.skipped:
            cls = left_out_class(skipped.reason)
            if skipped.reason != "empty" and cls not in accepted:
                out.append(f"{user.user}: {skipped.path}: skipped ({skipped.reason}) [{cls}]")
        for line in (b for fp in user.folders for b in fp.bad):
            cls = left_out_class(line)
            if cls not in accepted:
                out.append(f"{user.user}: {line} [{cls}]")
    return out
# Differences verify reports without failing: the server did what its documentation says.
EXPECTED_KINDS = {"altered"}


@contextmanager
def _server_trouble(server: ServerHandle, user: str, doing: str) -> Iterator[None]:
    """A server that fails a read (a broken connection, an answer imaplib refuses) is one line
    naming the user and what was under way, not a traceback."""
    try:
        yield
    except (imapclient.exceptions.IMAPClientError, OSError) as exc:
        raise ServerError(f"{user}: {server.name} failed while {doing} ({_short(exc)}){_log_tail(server)}") from None


def _log_tail(server: ServerHandle) -> str:
    """The server's last trouble line, where its log can be read: why it hung up (dovecot:2.3's
    imap process out of memory under a folder of 869,000 messages reset the connection)."""
    tail = trouble_tail(server, datetime.now(timezone.utc) - timedelta(minutes=5), 1)
    return f"; server log: {tail[0].strip()}" if tail else ""


def verify_user(server: ServerHandle, plan: UserPlan, carries: frozenset[str] = EVERYTHING,
                method: str | None = None) -> list[Difference]:
    with _server_trouble(server, plan.user, "verify read its folders"):
        return _verify_user(server, plan, carries, method)


def _verify_user(server: ServerHandle, plan: UserPlan, carries: frozenset[str],
                 method: str | None) -> list[Difference]:
    rules = rewrite_rules(method, server.family_name)
    with user_session(server, plan.user) as client:
        existing = own_folders(server, client, plan.user)
        diffs = []
        planned = {"" if fp.name == "INBOX" else fp.name: fp for fp in plan.folders}
        for relative in sorted(set(planned) | set(existing)):
            name = relative or "INBOX"
            if relative not in existing:
                diffs.append(Difference(name, "folder", "in the source, not on the server"))
                continue
            selected: dict = {}
            counts = FolderCounts()
            # Read once, as a stream (FETCH_CHUNK messages at a time), counted as it goes.
            on_server = (counts.add(m) for m in iter_messages(client, existing[relative], selected))
            found = []
            if relative not in planned:
                for _ in on_server:
                    pass
                if counts.messages:
                    found.append(Difference(name, "folder", f"on the server with {counts.messages} messages, "
                                                            f"not in the source"))
            else:
                reread = functools.partial(fetch_uids, client, existing[relative])
                if planned[relative].folder.kind == "mbox":
                    # An mbox holds Status, X-Status, X-Keywords... as its own metadata, never as a
                    # message's content: a server message carrying them (stored from a Maildir or
                    # MH file, then reverted to mbox) is compared as an mbox can hold it.
                    on_server = map(_as_in_mbox, on_server)
                    reread = functools.partial(_reread_as_in_mbox, reread)
                found = compare_folder(name, planned[relative].messages, on_server, carries, rules, reread)
            # STATUS must count what is there (a migrated folder's unseen count is what the source
            # said, through the flags compared): a stale status cache is a difference too.
            diffs += [Difference(name, "status", m) for m in status_mismatches(client, existing[relative], counts,
                                                                                selected)]
            diffs += found
        return diffs


def _as_in_mbox(m: StoredMessage) -> StoredMessage:
    content = split_metadata(m.content)[0]
    return m if content == m.content else dataclasses.replace(m, content=content)


def _reread_as_in_mbox(reread: Callable[[list[int]], dict[int, StoredMessage]],
                       uids: list[int]) -> dict[int, StoredMessage]:
    return {uid: _as_in_mbox(m) for uid, m in reread(uids).items()}


# -- revert ------------------------------------------------------------------------------------
@contextmanager
def locked(path: Path) -> Iterator[None]:
    """The mbox locks mail readers honour: a dot-lock file and an fcntl lock (the book's revert
    holds a lock while it writes, so no delivery agent writes the file at the same time)."""
    dotlock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(dotlock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise UserError(f"{path} is locked ({dotlock} exists)") from None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)
        dotlock.unlink(missing_ok=True)


def mbox_path(dest: Path, relative: str, has_children: bool) -> Path:
    """Where a folder's messages go: decoded names as directories; a folder that has subfolders
    keeps its own messages in NAME.mbox beside the directory NAME (a name cannot be both a file
    and a directory; tree.scan_user reads NAME.mbox back as NAME)."""
    if not relative:
        return dest / "INBOX"
    parts = [decode_component(p) for p in relative.split(".")]
    path = dest.joinpath(*parts)
    return path.with_name(path.name + ".mbox") if has_children else path


def revert_user(server: ServerHandle, user: str, dest: Path, variant: str = "mboxrd") -> dict[str, int]:
    """Write every folder of `user` to mbox files under dest/USER/; returns messages per folder.
    Each file is written to a temporary name and renamed under the lock: never half a file."""
    counts = {}
    with user_session(server, user) as client:
        folders = own_folders(server, client, user)
        for relative, mailbox in sorted(folders.items()):
            has_children = any(other.startswith(relative + ".") for other in folders if relative)
            path = mbox_path(dest / user, relative, has_children)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Streamed from the server into the temporary file (a folder of a million messages
            # was read whole, then written whole: twice its size in memory; issue 33).
            messages = (MboxMessage(with_metadata(m.content.replace(b"\r\n", b"\n"), m.flags),
                                    _return_path(m.content), m.date) for m in iter_messages(client, mailbox))
            with locked(path):
                tmp = tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".revert-")
                try:
                    with tmp:
                        count = write_mbox_to(tmp, messages, variant)
                    if has_children and not count:
                        os.unlink(tmp.name)  # only a level of the hierarchy: the directory stands for it
                        continue
                    os.replace(tmp.name, path)
                except BaseException:
                    Path(tmp.name).unlink(missing_ok=True)  # never half a file, under its name or another
                    raise
            counts[relative or "INBOX"] = count
    return counts


def _return_path(content: bytes) -> str:
    """The envelope sender for the From_ line, from a Return-Path header if there is one."""
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.splitlines():
        if line.lower().startswith(b"return-path:"):
            value = line.split(b":", 1)[1].strip().strip(b"<>").decode("latin-1")
            return value or "MAILER-DAEMON"
    return "MAILER-DAEMON"

