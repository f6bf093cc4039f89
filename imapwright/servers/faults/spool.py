"""Faults in a mailbox's own files: index, header, cache and message files damaged on disk.

Each fault finds its files through the server's path tool (Cyrus `mbpath`, Dovecot `doveadm
mailbox path`), never through a hard-coded layout, and names the documented repair that follows it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..handle import ExecResult, ServerHandle

# Cyrus index header fields that every index version since 2.2 keeps in place (mailbox.h).
CYRUS_START_OFFSET, CYRUS_RECORD_SIZE = 12, 16
GARBAGE = bytes(range(7, 250, 3)) * 4  # not zero, not text: what a bad disk block looks like


@dataclass(frozen=True)
class Victim:
    """The mailbox a fault is applied to, and which of its messages (by UID) it aims at."""
    mailbox: str  # the admin's name, e.g. user.bob
    uids: list[int]  # its messages, ascending
    folder: str  # as the owner names it (Dovecot's path tool wants this)
    user: str


@dataclass(frozen=True)
class Fault:
    name: str
    family: str
    what: str  # one line for the report
    damage: Callable[[ServerHandle, Victim], None]
    repair: Callable[[ServerHandle, Victim], ExecResult]  # runs the documented repair
    destroys: int = 0  # messages the fault itself takes away (the victim's second message)
    keeps_index: bool = True  # flags and dates have to survive when the index is untouched
    adds: int = 0  # messages the fault adds (a stray file the repair should adopt)


# -- Cyrus ---------------------------------------------------------------------------------------
def _cyrus_dir(server: ServerHandle, victim: Victim, metadata: bool = False) -> str:
    return server.tool("mbpath", "-M" if metadata else "-D", victim.mailbox
                       ).check("mbpath").stdout.strip()


def _meta(server: ServerHandle, victim: Victim, name: str) -> str:
    return f"{_cyrus_dir(server, victim, metadata=True)}/{name}"


def _message_file(server: ServerHandle, victim: Victim, uid: int) -> str:
    return f"{_cyrus_dir(server, victim)}/{uid}."


def _zero_index_record(server: ServerHandle, victim: Victim) -> None:
    path = _meta(server, victim, "cyrus.index")
    data = bytearray(server.read_file(path))
    start, size = struct.unpack(">II", bytes(data[CYRUS_START_OFFSET:CYRUS_RECORD_SIZE + 4]))
    offset = start + size  # the second record
    if offset + size > len(data):
        raise ValueError(f"{path}: {len(data)} bytes, no second record at {offset}")
    data[offset:offset + size] = bytes(size)
    server.write_file(path, bytes(data))


def _truncate(name: str, keep: float) -> Callable[[ServerHandle, Victim], None]:
    def damage(server: ServerHandle, victim: Victim) -> None:
        path = _meta(server, victim, name)
        server.truncate_file(path, int(len(server.read_file(path)) * keep))
    return damage


def _delete(name: str) -> Callable[[ServerHandle, Victim], None]:
    return lambda server, victim: server.delete_file(_meta(server, victim, name))


def _scribble(name: str, at: float) -> Callable[[ServerHandle, Victim], None]:
    def damage(server: ServerHandle, victim: Victim) -> None:
        path = _meta(server, victim, name)
        data = server.read_file(path)
        offset = int(len(data) * at)
        server.write_file(path, data[:offset] + GARBAGE[:len(data) - offset] + data[offset + len(GARBAGE):])
    return damage


def _stray_message(server: ServerHandle, victim: Victim) -> None:
    uid = max(victim.uids) + 5
    server.write_file(_message_file(server, victim, uid),
                      b"From: stray@imapwright.test\r\nSubject: stray file\r\n"
                      b"Date: Sun, 1 Mar 2026 10:00:00 +0000\r\n\r\nfound on disk, not in the index\r\n")


def _remove_message(server: ServerHandle, victim: Victim) -> None:
    server.delete_file(_message_file(server, victim, victim.uids[1]))


def _change_message(server: ServerHandle, victim: Victim) -> None:
    path = _message_file(server, victim, victim.uids[1])
    data = server.read_file(path)
    server.write_file(path, data.replace(b"body", b"BODY", 1) if b"body" in data else data + b"changed\r\n")


def _change_uidvalidity(server: ServerHandle, victim: Victim) -> None:
    """The mailbox list's UIDVALIDITY no longer matches the mailbox's own (dump, edit, undump)."""
    dump = json.loads(server.tool("ctl_mboxlist", "-d").check("ctl_mboxlist -d").stdout)
    entry = dump[victim.mailbox]
    entry["uidvalidity"] = str(int(entry["uidvalidity"]) + 1000)
    server.write_file("/tmp/iw-mboxlist.one", json.dumps({victim.mailbox: entry}).encode(), mode=0o644)
    server.tool("ctl_mboxlist", "-u", stdin_file="/tmp/iw-mboxlist.one").check("ctl_mboxlist -u")


def _reconstruct(*flags: str) -> Callable[[ServerHandle, Victim], ExecResult]:
    def repair(server: ServerHandle, victim: Victim) -> ExecResult:
        return server.tool("reconstruct", *flags, victim.mailbox)
    return repair


CYRUS_FAULTS = [
    Fault("index-deleted", "cyrus", "cyrus.index deleted", _delete("cyrus.index"), _reconstruct(),
          keeps_index=False),
    Fault("index-truncated", "cyrus", "cyrus.index cut to half its size", _truncate("cyrus.index", 0.5),
          _reconstruct(), keeps_index=False),
    Fault("index-record-zeroed", "cyrus", "one cyrus.index record overwritten with zeros",
          _zero_index_record, _reconstruct(), keeps_index=False),
    Fault("header-deleted", "cyrus", "cyrus.header deleted", _delete("cyrus.header"), _reconstruct()),
    Fault("header-damaged", "cyrus", "cyrus.header overwritten with garbage from byte 40",
          _scribble("cyrus.header", 0.25), _reconstruct()),
    Fault("cache-deleted", "cyrus", "cyrus.cache deleted", _delete("cyrus.cache"), _reconstruct()),
    Fault("cache-damaged", "cyrus", "cyrus.cache overwritten with garbage in the middle",
          _scribble("cyrus.cache", 0.5), _reconstruct("-G")),
    Fault("stray-message", "cyrus", "a message file the index does not list", _stray_message,
          _reconstruct(), adds=1),
    Fault("message-missing", "cyrus", "a message file the index lists, deleted", _remove_message,
          _reconstruct(), destroys=1),
    Fault("message-changed", "cyrus", "a message file's content changed (GUID mismatch)",
          _change_message, _reconstruct("-G", "-R"), destroys=1, adds=1),
    Fault("uidvalidity-changed", "cyrus", "the mailbox list's UIDVALIDITY differs from the index",
          _change_uidvalidity, _reconstruct()),
]


# -- Dovecot -------------------------------------------------------------------------------------
def _dovecot_dir(server: ServerHandle, victim: Victim, kind: str = "") -> str:
    """`kind`: "index" or "control"; "" for the mail itself."""
    argv = ["doveadm", "mailbox", "path", "-u", victim.user, *(["-t", kind] if kind else []), victim.folder]
    return server.exec(argv).check("doveadm mailbox path").stdout.strip()


def _dovecot_files(server: ServerHandle, victim: Victim, kind: str, pattern: str) -> list[str]:
    directory = _dovecot_dir(server, victim, kind)
    return [f"{directory}/{name}" for name in server.list_dir(directory) if name.startswith(pattern)]


def _dovecot_delete(kind: str, prefix: str) -> Callable[[ServerHandle, Victim], None]:
    def damage(server: ServerHandle, victim: Victim) -> None:
        files = _dovecot_files(server, victim, kind, prefix)
        if not files:
            raise FileNotFoundError(f"no {prefix}* for {victim.folder}")
        for path in files:
            server.delete_file(path)
    return damage


def _dovecot_scribble_index(server: ServerHandle, victim: Victim) -> None:
    files = _dovecot_files(server, victim, "index", "dovecot.index")
    # The main index if there is one yet; a young mailbox has only its transaction log.
    path = next((p for p in files if p.endswith(".index")), None) or next(p for p in files if p.endswith(".index.log"))
    data = server.read_file(path)
    offset = len(data) // 3
    server.write_file(path, data[:offset] + GARBAGE[:len(data) - offset] + data[offset + len(GARBAGE):])


def _dovecot_remove_message(server: ServerHandle, victim: Victim) -> None:
    directory = _dovecot_dir(server, victim)
    res = server.exec(["doveadm", "fetch", "-u", victim.user, "guid uid", "mailbox", victim.folder,
                       "uid", str(victim.uids[1])])
    # Maildir: the file name starts with the message's base name; find it by its UID's GUID.
    guid = next((line.split(":", 1)[1].strip() for line in res.stdout.splitlines() if line.startswith("guid:")), "")
    for sub in ("cur", "new"):
        for name in server.list_dir(f"{directory}/{sub}"):
            if guid and name.startswith(guid):
                server.delete_file(f"{directory}/{sub}/{name}")
                return
    raise FileNotFoundError(f"message uid {victim.uids[1]} of {victim.folder} not found on disk")


def _force_resync(server: ServerHandle, victim: Victim) -> ExecResult:
    return server.exec(["doveadm", "force-resync", "-u", victim.user, victim.folder])


DOVECOT_FAULTS = [
    Fault("index-deleted", "dovecot", "dovecot.index* deleted", _dovecot_delete("index", "dovecot.index"),
          _force_resync, keeps_index=False),
    Fault("index-damaged", "dovecot", "dovecot.index overwritten with garbage from a third in",
          _dovecot_scribble_index, _force_resync, keeps_index=False),
    Fault("uidlist-deleted", "dovecot", "dovecot-uidlist deleted", _dovecot_delete("control", "dovecot-uidlist"),
          _force_resync),
    Fault("message-missing", "dovecot", "a message file deleted", _dovecot_remove_message, _force_resync,
          destroys=1),
]

FAULTS = {(f.family, f.name): f for f in CYRUS_FAULTS + DOVECOT_FAULTS}


def faults_for(family: str) -> list[Fault]:
    return [f for f in CYRUS_FAULTS + DOVECOT_FAULTS if f.family == family]
