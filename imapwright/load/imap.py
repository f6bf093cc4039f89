"""IMAP for Locust on imapclient: one persistent session, one request event per IMAP command
(LOGIN, SELECT, FETCH, STORE, APPEND, EXPUNGE, IDLE, LIST, ...), never one for several.

imapclient talks through the standard library's sockets, which Locust's gevent monkey-patching
makes cooperative."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError

from . import budget
from .ledger import LedgerWriter

_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


class IMAPCommandFailed(Exception):
    """The server answered NO or BAD, or the connection broke."""


def _size(result: Any) -> int:
    """Bytes of payload in a command's result (FETCH data, LIST lines), for Locust's size column."""
    if isinstance(result, (bytes, bytearray)):
        return len(result)
    if isinstance(result, dict):
        return sum(_size(v) for v in result.values())
    if isinstance(result, (list, tuple)):
        return sum(_size(v) for v in result)
    return 0


class IMAPLoadClient:
    def __init__(self, host: str, port: int, environment, ledger: LedgerWriter | None = None,
                 timeout: float = 60, tls: str = "", context=None):
        self.host, self.port, self.environment, self.timeout = host, port, environment, timeout
        self.tls, self.context = tls, context  # "imaps" or "starttls" with its ssl.SSLContext; "" plain
        self.ledger = ledger or LedgerWriter("")
        self.conn: imapclient.IMAPClient | None = None
        self.user = ""
        self.selected: str | None = None
        # Set while a command runs: if Locust kills the user mid-command (stop timeout), the
        # session is in an unknown state (e.g. inside IDLE) and is dropped, not logged out.
        self._busy = False

    def command(self, name: str, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """Any command on this session, `fn` calling the imapclient connection (self.conn): one
        request taken from the budget, one request event named `name`. (ok, result)."""
        budget.spend()
        return self._call_taken(name, fn)

    def _call_taken(self, name: str, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """One command, one event; the request was taken from the budget already."""
        start = time.perf_counter()
        exception, result = None, None
        self._busy = True
        try:
            result = fn()
            self._busy = False
        except (IMAPClientError, OSError, socket.timeout, EOFError) as exc:
            exception = IMAPCommandFailed(f"{name}: {exc}")
            if isinstance(exc, (OSError, EOFError)) or "socket" in str(exc).lower():
                self._drop()
        self.environment.events.request.fire(
            request_type="IMAP", name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=_size(result), exception=exception, context={"user": self.user})
        return exception is None, result

    def _drop(self) -> None:
        conn, self.conn, self.selected, self._busy = self.conn, None, None, False
        if conn is not None:
            try:
                conn.shutdown()
            except Exception:
                pass

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def connect(self) -> bool:
        def open_connection():
            self.conn = imapclient.IMAPClient(self.host, port=self.port, ssl=self.tls == "imaps",
                                              ssl_context=self.context, timeout=self.timeout)
            if self.tls == "starttls":
                self.conn.starttls(self.context)
            # imapclient writes some commands in two pieces (line, then CRLF): with Nagle's
            # algorithm and delayed ACKs each waited ~40 ms, and the generator, not the server,
            # set the pace (benchmarks/generator_ceiling.py: 551 commands/s before, see README).
            self.conn.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.command("CONNECT", open_connection)[0]

    def login(self, user: str, password: str) -> bool:
        self.user = user
        if self.conn is None and not self.connect():
            return False
        return self.command("LOGIN", lambda: self.conn.login(user, password))[0]

    def logout(self) -> bool:
        if self.conn is None:
            return True
        if self._busy or not budget.take():  # mid-command, or no request left: hang up
            self._drop()
            return False
        ok, _ = self._call_taken("LOGOUT", self.conn.logout)
        self.conn, self.selected = None, None
        return ok

    def list(self, pattern: str = "*") -> list:
        ok, result = self.command("LIST", lambda: self.conn.list_folders("", pattern))
        return result if ok else []

    def select(self, mailbox: str = "INBOX") -> dict | None:
        ok, result = self.command("SELECT", lambda: self.conn.select_folder(mailbox))
        self.selected = mailbox if ok else None
        return result if ok else None

    def search(self, criteria: str = "ALL") -> list[int]:
        ok, result = self.command("SEARCH", lambda: self.conn.search(criteria))
        return result if ok else []

    def fetch(self, uids: list[int], items: list[str], name: str = "FETCH") -> dict:
        ok, result = self.command(name, lambda: self.conn.fetch(uids, items))
        return result if ok else {}

    def store_flags(self, uids: list[int], flags: list[bytes], add: bool = True) -> bool:
        fn = self.conn.add_flags if add else self.conn.remove_flags
        return self.command("STORE", lambda: fn(uids, flags))[0]

    def append(self, mailbox: str, message: bytes, message_id: str, flags: tuple = ()) -> int | None:
        """APPEND; on OK the ledger gets the message and the UID (UIDPLUS, RFC 4315) is returned."""
        start_user = self.user
        self.ledger.record("sent", start_user, mailbox, message_id)
        ok, result = self.command("APPEND", lambda: self.conn.append(mailbox, message, flags))
        if ok:
            self.ledger.record("add", start_user, mailbox, message_id)
            m = _APPENDUID.search(result or b"")
            return int(m.group(1)) if m else None
        # A NO or BAD: it must not be there; a broken connection: the outcome is unknown.
        self.ledger.record("refused" if self.conn is not None else "unknown", start_user, mailbox, message_id)
        return None

    def expunge_uid(self, uid: int, message_id: str) -> bool:
        """Remove one message: STORE \\Deleted, then UID EXPUNGE of just that UID (UIDPLUS), so
        messages other sessions flagged are left alone. Two commands, two events."""
        if not self.store_flags([uid], [imapclient.DELETED]):
            return False
        self.ledger.record("removing", self.user, self.selected or "INBOX", message_id)
        ok, _ = self.command("EXPUNGE", lambda: self.conn.expunge([uid]))
        if ok:
            self.ledger.record("remove", self.user, self.selected or "INBOX", message_id)
        return ok

    def idle(self, seconds: float) -> bool:
        """IDLE for `seconds` (one event for the whole IDLE ... DONE exchange: it is one command)."""
        def run():
            self.conn.idle()
            try:
                return self.conn.idle_check(timeout=seconds)
            finally:
                self.conn.idle_done()
        return self.command("IDLE", run)[0]

    def close(self) -> None:
        self._drop()
