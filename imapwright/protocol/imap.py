"""IMAP helpers on top of imapclient for commands it does not wrap (CREATE with a partition...)."""

from __future__ import annotations

import dataclasses
import imaplib
import re
from concurrent.futures import ThreadPoolExecutor

import imapclient
from imapclient import imap_utf7

from .dial import Dialer


_UTF7_AS_IS = re.compile(r"[\x20-\x25\x27-\x7e]*")


def quote(name: str) -> str:
    """An IMAP quoted string for a mailbox name as the harness holds it: decoded, the way
    imapclient's LIST gives it back. It goes out in modified UTF-7 (RFC 3501 section 5.1.3): non-ASCII
    characters encoded, and '&' written '&-'."""
    if not _UTF7_AS_IS.fullmatch(name):  # printable ASCII but '&' is as is (encoding it costs a loop per call)
        name = imap_utf7.encode(name).decode("ascii")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quota_root(client: imapclient.IMAPClient, mailbox: str):
    """GETQUOTAROOT of a mailbox named as the harness holds it: imapclient's get_quota_root sends
    the name as given (no modified UTF-7, no quotes: "with space" or "caf\u00e9" fail), and gives
    the roots back encoded. (MailboxQuotaRoots with decoded names, [Quota with decoded roots])."""
    roots, quotas = client.get_quota_root(quote(mailbox))
    decode = _decode_name
    return (dataclasses.replace(roots, mailbox=decode(roots.mailbox), quota_roots=[decode(r) for r in roots.quota_roots]),
            [dataclasses.replace(q, quota_root=decode(q.quota_root)) for q in quotas])


def _decode_name(name: str) -> str:
    return imap_utf7.decode(name.encode()) if "&" in name else name


# imaplib refuses commands it does not know; these are RFC 4314's.
imaplib.Commands.setdefault("LISTRIGHTS", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("MYRIGHTS", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("GETMETADATA", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))
# The untagged response a command's data come in, where its name differs from the command's.
# SEARCH ALL of a folder of a million answers one line of about 7 MB; imaplib refuses any line
# over 1 MB ("got more than 1000000 bytes": verify of a migrated million ended in a traceback).
# Still a bound, far above what a folder's UID list needs.
imaplib._MAXLINE = max(imaplib._MAXLINE, 256 << 20)

_UNTAGGED = {"GETACL": "ACL", "GETMETADATA": "METADATA", "GETQUOTA": "QUOTA", "GETQUOTAROOT": "QUOTAROOT"}


# The one place private library internals are used. imapclient wraps imaplib (its `_imap`) and
# exposes neither arbitrary commands (RFC 4314's, CREATE with a partition, SETQUOTA with no
# resources) nor SASL ANONYMOUS; imaplib's own `_simple_command` is the only way to send a command
# it does not know and still get its tagged status. Both are stable in practice (imaplib since
# Python 2, imapclient 2-4); a change shows in tests/test_imap_helpers.py and the ACL suite.
def _imaplib(client: imapclient.IMAPClient) -> imaplib.IMAP4:
    return client._imap


def _send(imap: imaplib.IMAP4, name: str, *args: str) -> tuple[str, list]:
    return imap._simple_command(name, *args)


def authenticate_anonymous(client: imapclient.IMAPClient, trace: bytes = b"imapwright@test") -> None:
    """SASL ANONYMOUS (RFC 4505) on a fresh connection; the session is then authenticated."""
    imap = _imaplib(client)
    imap.authenticate("ANONYMOUS", lambda _challenge: trace)
    imap.state = "AUTH"


def command(client: imapclient.IMAPClient, name: str, *args: str) -> tuple[str, list[bytes]]:
    """Send one command and return (tagged status, data) without raising on NO or BAD.

    For OK the data are the command's untagged responses (ACL for GETACL, MYRIGHTS, LISTRIGHTS...);
    for NO and BAD the tagged response text.
    """
    imap = _imaplib(client)
    if name.upper() in ("SELECT", "EXAMINE"):  # through imaplib's select: it tracks the session state
        try:
            typ, data = imap.select(args[0], readonly=name.upper() == "EXAMINE")
        except imaplib.IMAP4.readonly:
            # SELECT succeeded but the server made it read-only (e.g. no write rights): say so,
            # and let imaplib carry on in that state instead of raising on every later command.
            imap.untagged_responses.pop("READ-ONLY", None)
            imap.is_readonly = True
            return "OK", [b"[READ-ONLY]"]
        except imaplib.IMAP4.error as exc:
            return "BAD", [str(exc).encode()]
        return typ, [d for d in data if d is not None]
    if name.upper() == "CLOSE":
        try:
            typ, data = imap.close()
        except imaplib.IMAP4.error as exc:
            return "BAD", [str(exc).encode()]
        return typ, [d for d in data if d is not None]
    if name.upper().startswith("UID "):  # "UID FETCH ..." is the UID command with FETCH as argument
        name, args = "UID", (name[4:], *args)
    try:
        typ, data = _send(imap, name, *args)
    except imaplib.IMAP4.error as exc:  # imaplib raises on BAD: "NAME command error: BAD [b'text']"
        m = re.search(r""": BAD \[b?['"](.*)['"]\]$""", str(exc))
        return "BAD", [(m.group(1) if m else str(exc)).encode()]
    key = _UNTAGGED.get(name.upper(), name.upper() if name.upper() != "UID" else args[0].upper())
    if typ == "OK" and key in imap.untagged_responses:
        data = imap.untagged_responses.pop(key)
    return typ, [d for d in data if d is not None]


def status_text(data: list[bytes]) -> str:
    return b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data).decode(errors="replace")


def list_names(client: imapclient.IMAPClient, pattern: str, reference: str = "") -> list[str]:
    return [name for _flags, _sep, name in client.list_folders(reference, pattern)]


def pipeline_groups(dialer: Dialer, user: str, password: str, groups: list[list[str]], per_session: int,
                    connections: int = 4, progress=lambda _n: None) -> list[list[tuple[str, str]]]:
    """Many groups of commands (an account and its folders, one mailbox) over `connections`
    pipelined sessions at once, `per_session` groups to a session: a group's commands always stay
    in one session, in order, and sessions are handed out in order (what comes first is normally
    done first). Returns each group's answers, in the order given; `progress(n)` after each session.
    The server, not the network, is the limit: parallel sessions gain where pipelining alone does
    not (benchmarks/addusers_speed.py)."""
    chunks = [groups[i:i + per_session] for i in range(0, len(groups), per_session)]

    def run(chunk: list[list[str]]) -> list[list[tuple[str, str]]]:
        answers = pipeline(dialer, user, password, [c for group in chunk for c in group])
        out, at = [], 0
        for group in chunk:
            out.append(answers[at:at + len(group)])
            at += len(group)
        progress(len(chunk))
        return out

    with ThreadPoolExecutor(max_workers=max(1, connections)) as pool:
        return [answers for outcome in pool.map(run, chunks) for answers in outcome]


def pipeline(dialer: Dialer, user: str, password: str, commands: list[str], window: int = 200,
             timeout: float = 60) -> list[tuple[str, str]]:
    """Send many commands on one connection without waiting for each answer (RFC 9051 5.5 allows
    pipelining of independent commands); returns each command's tagged (status, text).

    At most `window` commands are outstanding, so neither side's socket buffers fill up.
    """
    sock, reader, _greeting = dialer.connect(timeout)
    lines = [f"L LOGIN {quote(user)} {quote(password)}"] + [f"P{i} {c}" for i, c in enumerate(commands)]
    status: dict[str, tuple[str, str]] = {}
    sent = 0
    try:
        while len(status) < len(lines):
            while sent < len(lines) and sent - len(status) < window:
                sock.sendall(lines[sent].encode() + b"\r\n")
                sent += 1
            line = reader.readline()
            if not line:
                raise ConnectionError("server closed the connection during a pipeline")
            tag, _, rest = line.decode(errors="replace").partition(" ")
            if tag != "*" and tag != "+":
                word, _, text = rest.strip().partition(" ")
                status[tag] = (word, text)
        if status["L"][0] != "OK":
            raise ConnectionError(f"pipeline login as {user} refused")
        sock.sendall(b"Z LOGOUT\r\n")
    finally:
        reader.close()
        sock.close()
    return [status[f"P{i}"] for i in range(len(commands))]


_METADATA_LITERAL = re.compile(rb'"?(/[^\s()"]+)"? \{\d+\+?\}$')
_METADATA_PAIR = re.compile(rb'"?(/[^\s()"]+)"? (NIL|"(?:[^"\\]|\\.)*")', re.I)


def get_metadata(client: imapclient.IMAPClient, mailbox: str, *entries: str) -> dict[str, str | None]:
    """GETMETADATA (RFC 5464) for quoted-string values: entry -> value (None for NIL)."""
    typ, data = command(client, "GETMETADATA", quote(mailbox), "(" + " ".join(entries) + ")")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"GETMETADATA {mailbox}: {typ} {status_text(data)}")
    out: dict[str, str | None] = {}
    for item in data:
        raw = item
        if isinstance(item, tuple):  # imaplib's (text before a literal, the literal)
            raw, literal = item
            m = _METADATA_LITERAL.search(raw)
            if m:
                out[m.group(1).decode().lower()] = literal.decode()
        for entry, value in _METADATA_PAIR.findall(raw):
            out[entry.decode().lower()] = None if value.upper() == b"NIL" else \
                value[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\").decode()
    return out


def set_metadata(client: imapclient.IMAPClient, mailbox: str, values: dict[str, str | None]) -> None:
    pairs = " ".join(f"{k} {'NIL' if v is None else quote(v)}" for k, v in values.items())
    typ, data = command(client, "SETMETADATA", quote(mailbox), f"({pairs})")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"SETMETADATA {mailbox}: {typ} {status_text(data)}")


def peer_certificate(client: imapclient.IMAPClient) -> dict:
    """The verified certificate of a TLS connection's server (ssl's getpeercert form)."""
    return client._imap.sock.getpeercert()  # imaplib keeps the socket private
