"""IMAP for Locust: one persistent session, one request event per IMAP command (LOGIN, SELECT,
FETCH, STORE, APPEND, EXPUNGE, IDLE, LIST, ...), never one for several.

Sessions speak through protocol/imap_wire.py (raw socket, imapclient's wire form, responses kept
as bytes): imapclient cost 0.235 CPU seconds per 1,000 commands of the mixed scenario against the
null responder, 8x a delivery (benchmarks/generator_ceiling.py, README). Standard-library sockets,
which Locust's gevent monkey-patching makes cooperative."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import gevent

from ..protocol.imap_wire import IMAPNo, IMAPWireError, WireIMAP, uid_set
from . import budget
from .ledger import LedgerWriter, expunge_outcome
from .watchdog import watch

_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


class IMAPCommandFailed(Exception):
    """The server answered NO or BAD, or the connection broke."""


def _size(result: Any) -> int:
    """Bytes of a command's untagged responses (FETCH data, LIST lines), for Locust's size column."""
    if isinstance(result, list):  # untagged responses; SEARCH hits (numbers) count 0 as before
        return sum(map(len, result)) if result and isinstance(result[0], bytes) else 0
    return len(result) if isinstance(result, bytes) else 0


class IMAPLoadClient:
    def __init__(self, host: str, port: int, environment, ledger: LedgerWriter | None = None,
                 timeout: float = 60, tls: str = "", context=None, pipeline: bool = False):
        self.host, self.port, self.environment, self.timeout = host, port, environment, timeout
        # The recorded imap_pipeline option: APPEND's message in its command's write (LITERAL+,
        # where offered) and STORE \Deleted with its UID EXPUNGE in one write. Fewer round trips,
        # and EXPUNGE's time then runs from the write both went out in.
        self.pipeline = pipeline
        self.tls, self.context = tls, context  # "imaps" or "starttls" with its ssl.SSLContext; "" plain
        self.ledger = ledger or LedgerWriter("")
        self.conn: WireIMAP | None = None
        self.user = ""
        self.selected: str | None = None
        # Set while a command runs (monotonic seconds it must end by; 0: none under way): the
        # watchdog ends a command past it, and if Locust kills the user mid-command (stop
        # timeout) the session is in an unknown state (e.g. inside IDLE): dropped, not logged out.
        self.deadline = 0.0
        self.expired = False
        watch(self)

    def command(self, name: str, fn: Callable[..., Any], *args, longer: float = 0.0) -> tuple[bool, Any]:
        """Any command on this session, `fn(*args)` calling the wire connection (self.conn, e.g.
        `self.conn.run, b"CREATE " + mailbox(name)`): one request taken from the budget, one
        request event named `name`. (ok, result)."""
        budget.spend()
        return self._call_taken(name, fn, *args, longer=longer)

    def _call_taken(self, name: str, fn: Callable[..., Any], *args, longer: float = 0.0) -> tuple[bool, Any]:
        """One command, one event; the request was taken from the budget already. It may take the
        client's timeout (plus `longer`) before the watchdog ends it."""
        start = time.perf_counter()
        exception, result = None, None
        self.deadline = start + self.timeout + longer
        try:
            result = fn(*args)
        except IMAPNo as exc:
            exception = IMAPCommandFailed(f"{name}: {exc}")
        except (OSError, ValueError) as exc:  # IMAPWireError, the watchdog, TLS: the session is gone
            exception = IMAPCommandFailed(f"{name}: {self._lost(exc, longer)}")
        self.deadline = 0.0
        self._fire(name, start, result, exception)
        return exception is None, result

    def _lost(self, exc: Exception, longer: float = 0.0) -> str:
        """The session is gone (a broken connection, the watchdog): dropped; why, for the event."""
        reason = f"no answer within {self.timeout + longer:g} s" if self.expired else str(exc)
        self.expired = False
        self._drop()
        return reason

    def _fire(self, name: str, start: float, result: Any, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="IMAP", name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=_size(result), exception=exception, context={"user": self.user})

    def _drop(self) -> None:
        conn, self.conn, self.selected, self.deadline = self.conn, None, None, 0.0
        if conn is not None:
            conn.close()

    def expire(self) -> None:
        """Called by the watchdog: closing the socket wakes the command waiting on it with an error."""
        self.expired = True
        if self.conn is not None:
            self.conn.close()

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def connect(self) -> bool:
        def open_connection():
            # TCP_NODELAY inside: a command waiting for a delayed ACK set the pace (~40 ms) when
            # imapclient wrote some commands in two pieces (README, generator ceiling). No socket
            # timeout (a gevent timer per wait): the watchdog bounds commands, a timer of its own
            # the connection, whose socket it cannot reach yet.
            with gevent.Timeout(self.timeout, IMAPWireError(f"no greeting within {self.timeout:g} s")):
                self.conn = WireIMAP(self.host, self.port, timeout=None, tls=self.tls, context=self.context)
        return self.command("CONNECT", open_connection)[0]

    def login(self, user: str, password: str) -> bool:
        self.user = user
        if self.conn is None and not self.connect():
            return False
        return self.command("LOGIN", self.conn.login, user, password)[0]

    def logout(self) -> bool:
        if self.conn is None:
            return True
        if self.deadline or not budget.take():  # mid-command, or no request left: hang up
            self._drop()
            return False
        ok, _ = self._call_taken("LOGOUT", self.conn.logout)  # closes the socket whatever the answer
        self.conn, self.selected = None, None
        return ok

    def list(self, pattern: str = "*") -> list:
        ok, result = self.command("LIST", self.conn.list, "", pattern)
        return result if ok else []

    def select(self, mailbox: str = "INBOX", name: str = "SELECT") -> list | None:
        ok, result = self.command(name, self.conn.select, mailbox)
        self.selected = mailbox if ok else None
        return result if ok else None

    def search(self, criteria: bytes = b"ALL", name: str = "SEARCH") -> list[int]:
        ok, result = self.command(name, self.conn.uid_search, criteria)
        return result if ok else []

    def fetch(self, uids: list[int], items: list[str], name: str = "FETCH") -> list[bytes]:
        ok, result = self.command(name, self.conn.uid_fetch, uids, items)
        return result if ok else []

    def store_flags(self, uids: list[int], flags: list[bytes], add: bool = True, name: str = "STORE") -> bool:
        op = b"+FLAGS" if add else b"-FLAGS"
        return self.command(name, self.conn.uid_store, uids, op, flags)[0]

    def append(self, mailbox: str, message: bytes, message_id: str, flags: tuple = (), name: str = "APPEND") -> int | None:
        """APPEND; on OK the ledger gets the message and the UID (UIDPLUS, RFC 4315) is returned."""
        start_user = self.user
        self.ledger.record("sent", start_user, mailbox, message_id, flush=False)  # its outcome's line flushes
        ok, result = self.command(name, self.conn.append, mailbox, message, flags, self.pipeline)
        if ok:
            self.ledger.record("add", start_user, mailbox, message_id)
            m = _APPENDUID.search(result or b"")
            return int(m.group(1)) if m else None
        # A NO or BAD: it must not be there; a broken connection: the outcome is unknown.
        self.ledger.record("refused" if self.conn is not None else "unknown", start_user, mailbox, message_id)
        return None

    def expunge_uid(self, uid: int, message_id: str, prefix: str = "") -> bool:
        """Remove one message: STORE \\Deleted, then UID EXPUNGE of just that UID (UIDPLUS), so
        messages other sessions flagged are left alone. Two commands, two events (names after
        `prefix`)."""
        if self.pipeline:
            return self._expunge_pipelined(uid, message_id, prefix)
        stored, flagged = self.command(prefix + "STORE", self.conn.uid_store, [uid], b"+FLAGS", [b"\\Deleted"])
        if not stored:
            return False
        self.ledger.record("removing", self.user, self.selected or "INBOX", message_id)
        ok, untagged = self.command(prefix + "EXPUNGE", self.conn.uid_expunge, [uid])
        if ok:
            self._removed(uid, message_id, flagged + untagged)
        return ok

    def _removed(self, uid: int, message_id: str, untagged: list[bytes]) -> None:
        """An expunge answered OK: what its answers say of the message (ledger.expunge_outcome)."""
        outcome = expunge_outcome(untagged, uid)
        if outcome:
            self.ledger.record(outcome, self.user, self.selected or "INBOX", message_id)

    def _expunge_pipelined(self, uid: int, message_id: str, prefix: str) -> bool:
        """STORE \\Deleted and UID EXPUNGE in one write, each answered in turn, one event each
        (both timed from that write). A STORE refused leaves the message: the EXPUNGE then removes
        nothing, and the ledger's "removing" alone says it may or may not be gone."""
        budget.spend()
        mailbox = self.selected or "INBOX"
        if not budget.take():  # the budget's last request: the STORE alone, and the user stops there
            if self._call_taken(prefix + "STORE", self.conn.uid_store, [uid], b"+FLAGS", [b"\\Deleted"])[0]:
                self.ledger.record("removing", self.user, mailbox, message_id)
            from locust.exception import StopUser
            raise StopUser()
        uids = uid_set([uid])
        self.ledger.record("removing", self.user, mailbox, message_id)
        start = time.perf_counter()
        self.deadline = start + self.timeout
        done, untagged = [], []
        try:
            tags = self.conn.send([b"UID STORE " + uids + b" +FLAGS (\\Deleted)", b"UID EXPUNGE " + uids])
            for name, tag in zip((prefix + "STORE", prefix + "EXPUNGE"), tags):
                try:
                    result = self.conn.answer(tag)[0]
                except IMAPNo as exc:
                    self._fire(name, start, None, IMAPCommandFailed(f"{name}: {exc}"))
                    done.append(False)
                else:
                    self._fire(name, start, result, None)
                    untagged += result
                    done.append(True)
        except (OSError, ValueError) as exc:
            reason = self._lost(exc)
            for name in (prefix + "STORE", prefix + "EXPUNGE")[len(done):]:
                self._fire(name, start, None, IMAPCommandFailed(f"{name}: {reason}"))
            return False
        self.deadline = 0.0
        if all(done):
            self._removed(uid, message_id, untagged)
        return all(done)

    def close(self) -> None:
        self._drop()
