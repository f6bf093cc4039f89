"""Everything a user's account holds, as the user sees it over IMAP, in a form two snapshots can be
compared with: folders, subscriptions, per folder its ACL, quota, UIDVALIDITY, and per message
(by content digest) its UID, flags and internal date. Disaster recovery and upgrade checks diff these."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imapclient
import imapclient.exceptions

from ..errors import UserError
from ..models.hierarchy import digest
from ..protocol.imap import quota_root
from .tree import FolderCounts, fetch_chunked, iter_messages, own_folders, status_mismatches
from ..servers.handle import ServerHandle

Snapshot = dict[str, dict]  # user -> account state (JSON-able)


def login_patiently(server: ServerHandle, user: str, password: str, notes: list[str] | None = None,
                    attempts: int = 3) -> imapclient.IMAPClient:
    """Log in; a refusal is retried (after half a second, then a second) and noted. Under load
    (CI: several servers starting at once) Cyrus has refused a valid password once: recorded
    as a note, where a refusal every time stays an error."""
    for attempt in range(1, attempts + 1):
        try:
            return server.login(user, password)
        except imapclient.exceptions.LoginError as exc:
            if attempt == attempts:
                raise
            if notes is not None:
                notes.append(f"login of {user} refused once ({exc}), accepted on a retry")
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


class NoSuchAccount(Exception):
    """The admin can act as the name, but it has no INBOX: no account of that name."""


def account_snapshot(server: ServerHandle, user: str, password: str | None, views: bool = False,
                     notes: list[str] | None = None) -> dict:
    """`views`: also what the user sees of other accounts' folders (its seen state as a sharer)
    and its Sieve scripts. `password` None: the admin reads as the user (proxy authorization), as
    on a server whose users' passwords the harness does not know. Read-only throughout (EXAMINE,
    BODY.PEEK, FLAGS)."""
    session = server.user_session(user) if password is None else login_patiently(server, user, password, notes)
    with session as client:
        if not client.list_folders("", "INBOX"):
            raise NoSuchAccount(user)  # Cyrus lets the admin act as a name that has no account
        # Scripts before quotas: a server that moves scripts into the account on their first
        # access (Cyrus 3.6 after 3.2) then shows the quota that includes them in this snapshot.
        scripts = _sieve(server, user) if views and "sieve" in server.features and server.sieve is not None else None
        folders = own_folders(server, client, user)
        inbox_prefix = server.mailbox_name(user, "x", user)[:-1]
        subscribed = sorted(("" if n == folders[""] else n[len(inbox_prefix):])
                            for _f, _s, n in client.list_sub_folders())
        # Quota: each root once per account (usage and limits), each folder naming its roots, so
        # one changed limit is one difference, not one per folder under the root.
        state: dict = {"subscribed": subscribed, "quota": {}, "folders": {}}
        for folder, name in sorted(folders.items()):
            selected: dict = {}
            counts = FolderCounts()
            # Each message's entry as it is read (a folder of a million messages was held whole).
            entries = {digest(m.content): [sorted(m.flags), m.date.isoformat(), m.uid, _label(m.content)]
                       for m in map(counts.add, iter_messages(client, name, selected))}
            # EXAMINE's UIDVALIDITY: the mailbox's own. Where STATUS says otherwise (asked alone,
            # Cyrus 3.2 after its mailbox list is restored says 0), the status entry records it.
            mismatches = status_mismatches(client, name, counts, selected)
            uidvalidity = selected[b"UIDVALIDITY"]
            roots, quotas = _quota(client, name)
            for q in quotas:
                state["quota"][f"{q.quota_root} {q.resource}"] = [q.usage, q.limit]
            state["folders"][folder] = {
                "uidvalidity": int(uidvalidity),
                "acl": {i.decode(): "".join(sorted(r.decode())) for i, r in client.getacl(name)},
                "quota": roots,
                "messages": entries,
            }
            if mismatches:  # absent when STATUS agrees (older snapshots compare as they did)
                state["folders"][folder]["status"] = mismatches
        if views:
            state["views"] = _views(client)
    if scripts is not None:
        state["sieve"] = scripts
    return state


def _label(content: bytes) -> str:
    """How a person knows a message: its Subject and Message-ID (the digest alone names nothing)."""
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    fields = {}
    for name in (b"subject", b"message-id"):
        m = re.search(rb"(?im)^" + name + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)", head)
        if m:
            fields[name] = re.sub(rb"\s+", b" ", m[1]).strip().decode("utf-8", "replace")[:80]
    subject, mid = fields.get(b"subject"), fields.get(b"message-id")
    return ", ".join(p for p in (f"Subject {subject!r}" if subject is not None else "", mid or "") if p)


def _quota(client, name: str) -> tuple[list[str], list]:
    """(root names, quotas) of a mailbox; a reply the client cannot parse is recorded as such
    (a server after an upgrade may answer oddly: that is a difference, not a crash)."""
    if not client.has_capability("QUOTA"):
        return [], []
    try:
        roots, quotas = quota_root(client, name)
    except (IndexError, ValueError) as exc:
        return [f"(unreadable: {type(exc).__name__})"], []
    return sorted(roots.quota_roots), quotas


def _views(client) -> dict:
    """Other users' folders this user can see: per message (by UID: the owner's snapshot has the
    content) the flags this user sees; None for a folder it may list but not read. FLAGS only,
    read-only: no body is read twice."""
    ns = client.namespace()
    out = {}
    for prefix in (n[0] for n in ns.other or () if n[0]):
        for flags, _sep, name in client.list_folders("", prefix + "*"):
            if {f.lower() for f in flags} & {b"\\noselect", b"\\nonexistent"}:
                continue
            try:
                client.select_folder(name, readonly=True)
            except imapclient.exceptions.IMAPClientError:
                # Listed but not readable (l without r: a negative entry): that is what it sees.
                out[name] = None
                continue
            try:
                uids = client.search()
                fetched = fetch_chunked(client, uids, ["FLAGS"])
            finally:
                client.unselect_folder()
            out[name] = {str(uid): sorted(f.decode() for f in data[b"FLAGS"] if f != b"\\Recent")
                         for uid, data in sorted(fetched.items())}
    return out


def _sieve(server: ServerHandle, user: str) -> dict:
    client = server.admin_sieve(user)
    try:
        return {name: {"active": active, "script": client.get_script(name)}
                for name, active in sorted(client.list_scripts().items())}
    finally:
        client.close()


def store_snapshot(server: ServerHandle, accounts: dict[str, str], connections: int = 8,
                   progress=lambda _n: None, notes: list[str] | None = None) -> Snapshot:
    """Every account with its views and scripts, read over parallel connections."""
    def one(item: tuple[str, str]) -> tuple[str, dict]:
        state = account_snapshot(server, item[0], item[1], views=True, notes=notes)
        progress(1)
        return item[0], state
    with ThreadPoolExecutor(max_workers=connections) as pool:
        return dict(pool.map(one, sorted(accounts.items())))


def server_snapshot(server: ServerHandle, users: list[str], partial: Path, connections: int = 8,
                    progress=lambda _n: None, skip_missing: bool = False) -> tuple[Snapshot, list[str]]:
    """A server the harness did not populate: every account read as the admin acting for it, and
    the accounts it cannot act as (no such account; a UserError naming the first unless
    `skip_missing`). Each account is appended to `partial` (JSON lines) as it is done, so a run cut
    short resumes where it stopped; accounts already there are not read again."""
    done: Snapshot = {}
    if partial.exists():
        for line in partial.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):  # a line cut short by the interruption
                entry = json.loads(line)
                done[entry["user"]] = entry["state"]
    progress(len([u for u in users if u in done]))
    lock = threading.Lock()
    with partial.open("a") as out:
        def one(user: str) -> tuple[str, dict | None]:
            try:
                state = account_snapshot(server, user, None, views=True)
            except (imapclient.exceptions.LoginError, NoSuchAccount):
                if not skip_missing:
                    raise UserError(f"account {user!r}: the admin cannot act as it (no such account?); "
                                    "--skip-missing records such accounts as missing") from None
                progress(1)
                return user, None
            with lock:
                out.write(json.dumps({"user": user, "state": state}) + "\n")
                out.flush()
            progress(1)
            return user, state
        with ThreadPoolExecutor(max_workers=connections) as pool:
            done.update(pool.map(one, [u for u in users if u not in done]))
    return {u: done[u] for u in sorted(users) if done[u] is not None}, sorted(u for u in users if done[u] is None)


def snapshot(server: ServerHandle, accounts: dict[str, str]) -> Snapshot:
    """`accounts`: user -> password."""
    return {user: account_snapshot(server, user, password) for user, password in sorted(accounts.items())}


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """One line per difference: what an admin reads to see what a recovery or upgrade changed."""
    out = []
    for user in sorted(set(before) | set(after)):
        if user not in after or user not in before:
            out.append(f"{user}: account {'missing' if user not in after else 'appeared'}")
            continue
        a, b = before[user], after[user]
        if a["subscribed"] != b["subscribed"]:
            out.append(f"{user}: subscriptions {a['subscribed']} -> {b['subscribed']}")
        qa, qb = a.get("quota", {}), b.get("quota", {})
        for root in sorted(set(qa) | set(qb)):
            if qa.get(root) != qb.get(root):
                out.append(f"{user}: quota {root} (usage, limit) {qa.get(root)} -> {qb.get(root)}")
        renamed = _renames(a["folders"], b["folders"])
        moved_children = {old for old in renamed if any(_child_of(old, p) for p in renamed)}
        for old, new in sorted(renamed.items()):
            if old not in moved_children:
                children = sum(_child_of(o, old) for o in renamed)
                out.append(f"{user}/{old or 'INBOX'}: folder renamed to {new}"
                           + (f" with its {children} sub-folder(s)" if children else ""))
        for folder in sorted((set(a["folders"]) | set(b["folders"])) - set(renamed) - set(renamed.values())):
            where = f"{user}/{folder or 'INBOX'}"
            if folder not in b["folders"] or folder not in a["folders"]:
                out.append(f"{where}: folder {'missing' if folder not in b['folders'] else 'appeared'}")
                continue
            out += _folder_differences(where, a["folders"][folder], b["folders"][folder])
        for old, new in sorted(renamed.items()):  # what else changed with the folder it was
            out += _folder_differences(f"{user}/{new}", a["folders"][old], b["folders"][new])
        out += _view_differences(user, a.get("views", {}), b.get("views", {}))
        if a.get("sieve") != b.get("sieve"):
            out.append(f"{user}: sieve scripts {_sieve_text(a.get('sieve'))} -> {_sieve_text(b.get('sieve'))}")
    return out


def status_problems(snapshot: Snapshot) -> list[str]:
    """Every folder whose STATUS disagreed with what EXAMINE and FETCH showed when it was read."""
    return [f"{user}/{folder or 'INBOX'}: {m}" for user, account in sorted(snapshot.items())
            for folder, state in sorted(account["folders"].items()) for m in state.get("status", [])]


def _folder_differences(where: str, fa: dict, fb: dict) -> list[str]:
    out = []
    if fa.get("status") != fb.get("status"):
        out.append(f"{where}: STATUS {'; '.join(fa.get('status', [])) or 'agreed'} -> "
                   f"{'; '.join(fb.get('status', [])) or 'agrees'}")
    for key, what in (("uidvalidity", "uidvalidity"), ("quota", "quota roots")):
        if fa[key] != fb[key]:
            out.append(f"{where}: {what} {fa[key]} -> {fb[key]}")
    for identifier in sorted(set(fa["acl"]) | set(fb["acl"])):  # one line per identifier whose rights changed
        ra, rb = fa["acl"].get(identifier), fb["acl"].get(identifier)
        if ra != rb:
            out.append(f"{where}: acl {identifier} [{ra if ra is not None else 'none'}] -> "
                       f"[{rb if rb is not None else 'none'}]")
    return out + _message_differences(where, fa["messages"], fb["messages"])


def _child_of(name: str, parent: str) -> bool:
    """Whether `name` is below `parent` ("a.b" below "a", whatever the separator)."""
    return len(name) > len(parent) + 1 and name.startswith(parent) and not name[len(parent)].isalnum() \
        and parent != ""


def _alike(fa: dict, fb: dict) -> bool:
    return set(fa["messages"]) == set(fb["messages"]) and fa["acl"] == fb["acl"]


def _renames(a: dict, b: dict) -> dict[str, str]:
    """Folders that vanished and reappeared under another name with the same messages and ACL:
    old name -> new name. Sub-folders follow their parent's new name; an empty folder is taken as
    renamed only where one candidate alone fits."""
    gone = sorted((f for f in a if f not in b), key=len)  # parents before their children
    new = [f for f in b if f not in a]
    out: dict[str, str] = {}
    for old in gone:
        parent = next((p for p in sorted(out, key=len, reverse=True) if _child_of(old, p)), None)
        if parent is not None:
            moved = out[parent] + old[len(parent):]
            if moved in new and moved not in out.values() and _alike(a[old], b[moved]):
                out[old] = moved
            continue
        fits = [n for n in new if n not in out.values() and _alike(a[old], b[n])]
        same_leaf = [n for n in fits if _leaf(n) == _leaf(old)]
        if a[old]["messages"] and fits:
            out[old] = (same_leaf or fits)[0]
        elif len(fits) == 1:
            out[old] = fits[0]
    return out


def _leaf(name: str) -> str:
    return re.split(r"[^\w -]", name)[-1]


def _sieve_text(scripts: dict | None) -> str:
    if scripts is None:
        return "(not read)"
    return ", ".join(f"{n}{' (active)' if s['active'] else ''} {digest(s['script'].encode())[:8]}"
                     for n, s in scripts.items()) or "none"


def _view_differences(user: str, a: dict, b: dict) -> list[str]:
    out = []
    # A sharer's view of a renamed folder: the same messages (UIDs and flags) under the new name.
    moved: dict[str, str] = {}
    for old in sorted(n for n in a if n not in b and a[n]):
        fits = [n for n in b if n not in a and n not in moved.values() and b[n] == a[old]]
        if len(fits) == 1:
            moved[old] = fits[0]
            out.append(f"{user} sees {old}: now as {fits[0]}")
    for name in sorted((set(a) | set(b)) - set(moved) - set(moved.values())):
        where = f"{user} sees {name}"
        if name not in a or name not in b:
            out.append(f"{where}: folder {'no longer visible' if name not in b else 'newly visible'}")
            continue
        if a[name] is None or b[name] is None:
            if (a[name] is None) != (b[name] is None):
                out.append(f"{where}: folder {'no longer readable' if b[name] is None else 'newly readable'}")
            continue
        for message in sorted(set(a[name]) | set(b[name])):
            fa, fb = a[name].get(message), b[name].get(message)
            if fa != fb:
                out.append(f"{where}: UID {message} flags {fa} -> {fb}")
    return out


def _message_differences(where: str, a: dict, b: dict) -> list[str]:
    out = []
    for message in sorted(set(a) | set(b)):
        ma, mb = a.get(message), b.get(message)
        known = ma or mb
        # Named as a person knows it (Subject, Message-ID, date) beside its digest; snapshots from
        # before labels were kept name it by digest and date.
        label = ", ".join(p for p in ((known[3] if len(known) > 3 else ""), f"dated {known[1][:10]}") if p)
        name = f"message {message[:12]} ({label})"
        if ma is None or mb is None:
            out.append(f"{where}: {name} {'lost' if mb is None else 'appeared'}")
            continue
        for i, what in enumerate(("flags", "internal date", "UID")):
            if ma[i] != mb[i]:
                out.append(f"{where}: {name} {what} {ma[i]} -> {mb[i]}")
    return out

