"""IMAP load sessions driven by one loop per process (the mixed scenario's sessions).

A session is a generator of steps (connect, a command, two pipelined commands, IDLE, a think
time); one greenlet per Locust process runs every session's steps: their sockets are
non-blocking on one epoll, woken through gevent's hub, and each answer resumes its session's
generator where it stopped, no greenlet switch per answer. With a greenlet per session (load/imap.py)
a command cost about twice the CPU of the lean reference client, and gevent's hub plus Locust's
request event cost 0.36x of that over it (benchmarks/README.md, issue 31).

What load/imap.py does per command, this does too: one request taken from the budget before it
(none left: the session ends and its Locust user stops), one request event named after it, a
deadline (the client's timeout) after which the session is dropped, APPEND's outcome in the ledger,
a broken connection dropping the session. The wire form is protocol/imap_wire.py's (its texts and
its response framing). TLS (IMAPS, STARTTLS) runs over memory buffers (ssl.MemoryBIO), so the
socket stays non-blocking.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import re
import socket
import ssl
import time
from collections.abc import Callable, Generator
from typing import Any

import gevent
import gevent.event
from gevent.monkey import get_original

from ..protocol.imap_wire import IMAPWireError, Responses, address_family, capabilities_in
from . import budget
from .imap import IMAPCommandFailed

_epoll = get_original("select", "epoll")  # gevent's monkey-patching hides the real one
_socket = get_original("socket", "socket")  # and wraps sockets for greenlets: not needed here
_EPOLLIN, _EPOLLOUT = 0x001, 0x004
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
TICK = 0.05  # the loop looks at deadlines and new sessions' timers at least this often
AGAIN = 8  # rounds of ready sessions taken in a row before the loop parks in gevent's hub
SPIN = 50  # steps of one session that end at once, in a row, before the others get their turn


# -- what a session's generator yields --------------------------------------------------------------
class Connect:
    """Open the connection and read the greeting (a "CONNECT" request)."""


class Command:
    """One command (its text after the tag); `literal` follows it, synchronising unless
    `non_sync` and the server offers LITERAL+ (RFC 7888)."""

    __slots__ = ("name", "text", "literal", "non_sync")

    def __init__(self, name: str, text: bytes, literal: bytes | None = None, non_sync: bool = False):
        self.name, self.text, self.literal, self.non_sync = name, text, literal, non_sync


class Pipelined:
    """Commands in one write, answered in order: one event each, timed from that write."""

    __slots__ = ("names", "texts")

    def __init__(self, names: list[str], texts: list[bytes]):
        self.names, self.texts = names, texts


class Idle:
    """IDLE for `seconds`, then DONE (RFC 2177): one event for the exchange."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float):
        self.seconds = seconds


class Think:
    """No command for `seconds` (a think time)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float):
        self.seconds = seconds


class Hangup:
    """Close the connection (after LOGOUT, or to drop a session in an unknown state)."""


CONNECT, HANGUP = Connect(), Hangup()


class Answer:
    """What a step's generator gets back: ok, the untagged responses, the tagged line's text after
    its status; `lost`: the connection is gone (the session is disconnected now)."""

    __slots__ = ("ok", "untagged", "text", "lost")

    def __init__(self, ok: bool, untagged: list[bytes], text: bytes, lost: bool = False):
        self.ok, self.untagged, self.text, self.lost = ok, untagged, text, lost


# -- one session ------------------------------------------------------------------------------------
class Session:
    """One connection's state in the loop."""

    def __init__(self, loop: "Loop", steps: Generator, host: str, port: int, user: str,
                 timeout: float, tls: str = "", context: ssl.SSLContext | None = None):
        self.loop, self.steps, self.host, self.port, self.timeout = loop, steps, host, port, timeout
        self.context = {"user": user}  # every event's context (Locust's request event)
        # "imaps" (TLS from the first byte), "starttls" (RFC 3501 6.2.1, part of CONNECT) or "".
        self.tls, self.ssl_context = tls, context
        self.tls_object: ssl.SSLObject | None = None  # TLS over memory buffers: no blocking socket
        self.tls_in = self.tls_out = None
        self.sock: socket.socket | None = None
        self.fd = -1
        self.responses = Responses()
        self.capabilities: frozenset[bytes] = frozenset()
        self.n = 0
        self.out = b""  # bytes a full send buffer left to write
        self.waiting: str = ""  # "connect", "greeting", "continuation", "answer", "idle", "think"
        self.names: list[str] = []  # the events still due (a pipelined write: one per command)
        self.tags: list[bytes] = []
        self.literal: bytes | None = None
        self.idle_untagged: list[bytes] = []
        self.idle_seconds = 0.0
        self.answers: list[Answer] = []  # a pipelined write's answers so far
        self.end_after = False  # the budget allowed only part of a pipelined write: the session ends after it
        self.started = 0.0
        self.deadline = 0.0
        self.wake = 0.0
        self.done = gevent.event.Event()
        self.ended = False
        self.stopped_by_budget = False
        self.error: BaseException | None = None
        self.gone = ""  # why the connection went while no command was under way
        self.handshaking = False
        self.tls_closed = False  # the server ended TLS (close_notify)
        self.pending: Any = None  # what the generator gets when a deferred turn comes

    @property
    def connected(self) -> bool:
        return self.sock is not None

    def tag(self) -> bytes:
        self.n += 1
        return b"W%d " % self.n


class Loop:
    """Every session of this process, on one epoll, run from one greenlet (started with the first
    session, ended with the last)."""

    def __init__(self, fire: Callable[..., None]):
        self.fire = fire
        self.epoll = _epoll()
        self.by_fd: dict[int, Session] = {}
        self.sessions: set[Session] = set()
        self.timers: list[tuple[float, int, Session]] = []
        self.counter = itertools.count()
        self.greenlet: gevent.Greenlet | None = None
        self.next_deadlines = 0.0
        self.parked = False  # the loop's greenlet waits for the hub to wake it

    # -- sessions in and out ----------------------------------------------------------------------
    def start(self, steps: Generator, host: str, port: int, user: str,
              timeout: float = 60, tls: str = "", context: ssl.SSLContext | None = None) -> Session:
        session = Session(self, steps, host, port, user, timeout, tls, context)
        self.sessions.add(session)
        self.advance(session, None)
        if self.greenlet is None or self.greenlet.dead:
            self.greenlet = gevent.spawn(self.run)
        return session

    def abort(self, session: Session) -> None:
        """Drop a session at once, whatever it waits for (its Locust user was killed)."""
        if session.ended:
            return
        self._disconnect(session)
        session.steps.close()
        self._end(session)

    def _end(self, session: Session) -> None:
        session.ended = True
        self.sessions.discard(session)
        session.done.set()

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # a fault of the loop itself: every session ends with it
            for session in list(self.sessions):
                session.error = exc
                self._disconnect(session)
                self._end(session)
            raise

    def _run(self) -> None:
        """Park until gevent's hub sees the epoll readable or a tick (TICK: deadlines, and timers
        added meanwhile) or the next timer comes; then every ready session in turn. The watchers
        stay started (a start and stop of each per wake-up cost as much as a command's parsing)."""
        hub, me = gevent.get_hub(), gevent.getcurrent()

        def wake() -> None:
            if self.parked:
                self.parked = False
                me.switch()

        watcher, ticker = hub.loop.io(self.epoll.fileno(), 1), hub.loop.timer(TICK, TICK)
        watcher.start(wake)
        ticker.start(wake)
        timer = None
        try:
            while self.sessions:
                due = self.timers[0][0] - time.monotonic() if self.timers else TICK
                if due < TICK:  # a timer before the next tick: a one-off wake-up for it
                    timer = hub.loop.timer(max(0.0, due))
                    timer.start(wake)
                self.parked = True
                hub.switch()
                if timer is not None:
                    timer.stop()
                    timer.close()
                    timer = None
                # Answers that came while the last ones were handled are taken before parking
                # again (a round through gevent's hub costs about as much as a command's parsing);
                # at most AGAIN rounds, so the other greenlets (Locust's own) get their turn.
                for _ in range(AGAIN):
                    ready = self.epoll.poll(0)
                    if not ready:
                        break
                    for fd, events in ready:
                        session = self.by_fd.get(fd)
                        if session is not None:
                            self._ready(session, events)
                if self.timers:
                    self._timers()
                if time.perf_counter() >= self.next_deadlines:
                    self._deadlines()
        finally:
            self.parked = False
            for w in (watcher, ticker, timer):
                if w is not None:
                    w.stop()
                    w.close()

    def _timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, session = heapq.heappop(self.timers)
            if session.ended or session.wake == 0.0:
                continue
            session.wake = 0.0
            if session.waiting == "think":
                session.waiting = ""
                value, session.pending = session.pending, None
                self.advance(session, value)
            elif session.waiting == "idle":  # the IDLE's time is up: DONE, then its tagged answer
                session.waiting = "answer"
                self._write(session, b"DONE\r\n")

    def _deadlines(self) -> None:
        """Sessions whose command is past its deadline are dropped (load/watchdog.py's job for the
        greenlet client), looked at every TICK seconds."""
        now = time.perf_counter()  # the clock deadlines are set on (a command's start time)
        self.next_deadlines = now + TICK
        for session in [s for s in self.sessions if s.deadline and s.deadline <= now]:
            self._lost(session, f"no answer within {session.timeout:g} s")

    def _timer(self, session: Session, seconds: float) -> None:
        session.wake = time.monotonic() + seconds
        heapq.heappush(self.timers, (session.wake, next(self.counter), session))

    # -- a session's next step --------------------------------------------------------------------
    def advance(self, session: Session, value: Any) -> None:
        """Resume the session's generator with `value` and begin the step it yields. Steps that end
        at once (commands on a dropped session) are taken in turn, at most SPIN before the loop
        looks at the other sessions (a session failing in a row must not hold the process)."""
        spins = SPIN
        while spins:
            spins -= 1
            if session.ended:
                return
            try:
                step = session.steps.send(value)
            except StopIteration:
                self._disconnect(session)
                self._end(session)
                return
            except Exception as exc:  # the steps' own error: that session ends, its user raises it
                session.error = exc
                self._disconnect(session)
                self._end(session)
                return
            value = self._begin(session, step)
            if value is None:
                return  # under way: the loop resumes the generator when it is done
        session.waiting, session.pending = "think", value  # the rest after the other sessions' turn
        self._timer(session, 0.0)

    def _begin(self, session: Session, step) -> Answer | None:
        """Start a step; an Answer where it is over at once (e.g. a connection that failed)."""
        is_command = type(step) is Command
        if not is_command:
            if isinstance(step, Think):
                session.waiting = "think"
                self._timer(session, step.seconds)
                return None
            if isinstance(step, Hangup):
                self._disconnect(session)
                return Answer(True, [], b"")
        if not budget.take():  # no request left: the session ends where it stands (its user stops)
            session.stopped_by_budget = True
            self._disconnect(session)
            session.steps.close()
            self._end(session)
            return None
        if not is_command and isinstance(step, Connect):
            return self._connect(session)
        if session.sock is None:  # a command on a dropped session: refused here, as a failure
            name = step.name if is_command else "IDLE" if isinstance(step, Idle) else step.names[0]
            self._event(session, name, time.perf_counter(), 0, session.gone or "not connected")
            return Answer(False, [], b"", lost=True)
        session.started = started = time.perf_counter()
        session.deadline = started + session.timeout
        session.waiting = "answer"
        if is_command:
            session.n += 1
            tag = b"W%d " % session.n
            session.names, session.tags = [step.name], [tag]
            if step.literal is None:
                self._write(session, tag + step.text + b"\r\n")
            elif step.non_sync and b"LITERAL+" in session.capabilities:
                self._write(session, b"%s%s {%d+}\r\n%s\r\n" % (tag, step.text, len(step.literal), step.literal))
            else:
                session.literal = step.literal
                session.waiting = "continuation"
                self._write(session, b"%s%s {%d}\r\n" % (tag, step.text, len(step.literal)))
        elif isinstance(step, Pipelined):
            n = 1  # one request taken above; one more for each further command, while any is left
            while n < len(step.texts) and budget.take():
                n += 1
            session.end_after = n < len(step.texts)
            session.tags = [session.tag() for _ in step.texts[:n]]
            session.names = list(step.names[:n])
            self._write(session, b"".join(t + c + b"\r\n" for t, c in zip(session.tags, step.texts[:n])))
        elif isinstance(step, Idle):
            tag = session.tag()
            session.names, session.tags = ["IDLE"], [tag]
            session.deadline += step.seconds
            session.waiting = "continuation"
            session.literal = None
            session.idle_untagged = []
            session.idle_seconds = step.seconds  # counted from the server's "+"
            self._write(session, tag + b"IDLE\r\n")
        else:
            raise TypeError(f"not a session step: {step!r}")
        return None

    def _connect(self, session: Session) -> Answer | None:
        session.started = time.perf_counter()
        session.deadline = session.started + session.timeout
        session.responses = Responses()
        session.capabilities = frozenset()
        session.gone = ""
        try:
            sock = _socket(address_family(session.host) or socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = sock.connect_ex((session.host, session.port))
            if code not in (0, errno.EINPROGRESS):
                sock.close()
                raise OSError(code, errno.errorcode.get(code, str(code)))
        except OSError as exc:
            session.deadline = 0.0
            self._event(session, "CONNECT", session.started, 0, str(exc))
            return Answer(False, [], b"", lost=True)
        session.sock, session.fd = sock, sock.fileno()
        session.names, session.tags = ["CONNECT"], []
        session.waiting = "connect"
        self.by_fd[session.fd] = session
        self.epoll.register(session.fd, _EPOLLOUT | _EPOLLIN)
        return None

    # -- I/O --------------------------------------------------------------------------------------
    def _write(self, session: Session, data: bytes) -> None:
        if session.tls_object is not None:
            session.tls_object.write(data)
            data = session.tls_out.read()
        self._send(session, data)

    def _send(self, session: Session, data: bytes) -> None:
        """Bytes onto the socket; what a full send buffer leaves waits for it to drain."""
        if not data:
            return
        if session.out:
            session.out += data
            return
        try:
            sent = session.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lost(session, str(exc))
            return
        if sent < len(data):
            session.out = data[sent:]
            self.epoll.modify(session.fd, _EPOLLIN | _EPOLLOUT)

    def _receive(self, session: Session) -> bytes:
        """What the socket holds; b"" when nothing (or the session was dropped: closed, broken)."""
        try:
            chunk = session.sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError as exc:
            self._lost(session, str(exc))
            return b""
        if not chunk:
            self._lost(session, "connection closed by the server")
        return chunk

    def _ready(self, session: Session, events: int) -> None:
        if session.waiting == "answer" and events == _EPOLLIN and session.tls_object is None:
            # The usual case, kept short: a plain session's answer coming in.
            chunk = self._receive(session)
            if not chunk:
                return
            responses = session.responses
            responses.feed(chunk)
            try:
                got = responses.take(session.tags[0])
                if got is None:
                    return
                self._tagged(session, *got)
                if responses.pending() and session.sock is not None:
                    self._answers(session)  # more came (pipelined answers)
            except IMAPWireError as exc:
                self._lost(session, str(exc))
            return
        if session.waiting == "connect":
            code = session.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._lost(session, errno.errorcode.get(code, str(code)))
                return
            session.waiting = "greeting"
            self.epoll.modify(session.fd, _EPOLLIN)
            if session.tls == "imaps":
                self._start_tls(session)
            if not events & _EPOLLIN:
                return
        if events & _EPOLLOUT and session.out:
            try:
                sent = session.sock.send(session.out)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._lost(session, str(exc))
                return
            session.out = session.out[sent:]
            if not session.out:
                self.epoll.modify(session.fd, _EPOLLIN)
        if not events & (_EPOLLIN | 0x008 | 0x010):  # in, error, hang-up
            return
        chunk = self._receive(session)
        if not chunk:
            return
        try:
            if session.tls_object is not None:
                chunk = self._decrypt(session, chunk)
                if session.sock is None or session.tls_object is None:
                    return  # the handshake failed (dropped)
            if chunk:
                session.responses.feed(chunk)
                self._answers(session)
            if session.tls_closed and session.sock is not None:  # what came before it was answered
                self._lost(session, "connection closed by the server (TLS close)")
        except IMAPWireError as exc:
            self._lost(session, str(exc))

    # -- TLS --------------------------------------------------------------------------------------
    def _start_tls(self, session: Session) -> None:
        session.tls_in, session.tls_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        context = session.ssl_context or ssl.create_default_context()
        session.tls_object = context.wrap_bio(session.tls_in, session.tls_out, server_hostname=session.host)
        session.handshaking = True
        self._handshake(session)

    def _handshake(self, session: Session) -> None:
        try:
            session.tls_object.do_handshake()
        except ssl.SSLWantReadError:
            self._send(session, session.tls_out.read())
            return
        except (ssl.SSLError, ssl.CertificateError) as exc:
            self._lost(session, f"TLS: {exc}")
            return
        session.handshaking = False
        self._send(session, session.tls_out.read())
        if session.waiting == "starttls":  # the connection is ready: CONNECT is done
            session.capabilities = frozenset()  # those said in the clear no longer count (RFC 3501 6.2.1)
            self._done(session, Answer(True, [], b""))

    def _decrypt(self, session: Session, chunk: bytes) -> bytes:
        """The plaintext in these bytes of the TLS stream ('' while the handshake goes on)."""
        session.tls_in.write(chunk)
        if session.handshaking:
            self._handshake(session)
            if session.handshaking or session.sock is None:
                return b""
        plain = []
        while True:
            try:
                data = session.tls_object.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                data = b""
            except ssl.SSLError as exc:
                raise IMAPWireError(f"TLS: {exc}") from None
            if not data:  # the server's close_notify (Dovecot sends it after LOGOUT's answer)
                session.tls_closed = True
                break
            plain.append(data)
        self._send(session, session.tls_out.read())  # e.g. a key update's answer
        return b"".join(plain)

    def _answers(self, session: Session) -> None:
        """Every answer the bytes so far complete, in turn."""
        while not session.ended and session.sock is not None:
            waiting = session.waiting
            if waiting == "greeting":
                got = session.responses.take(None, greeting=True)
                if got is None:
                    return
                line = got[1]
                if not line.startswith((b"* OK", b"* PREAUTH")):
                    raise IMAPWireError(f"greeting: {line[:80]!r}")
                self._capabilities(session, line)
                if session.tls == "starttls":  # STARTTLS, then the handshake, all within CONNECT
                    session.tags = [session.tag()]
                    session.waiting = "starttls-answer"
                    self._write(session, session.tags[0] + b"STARTTLS\r\n")
                    continue
                self._done(session, Answer(True, [], line))
            elif waiting == "starttls-answer":
                got = session.responses.take(session.tags[0])
                if got is None:
                    return
                line = got[1]
                if not line.startswith(session.tags[0] + b"OK"):
                    raise IMAPWireError(f"STARTTLS refused: {line[:80]!r}")
                if session.responses.pending():
                    raise IMAPWireError("data after STARTTLS's answer (RFC 3501 6.2.1: a possible injection)")
                session.tags = []
                session.waiting = "starttls"
                self._start_tls(session)
                return
            elif waiting == "continuation":
                got = session.responses.take(None)
                if got is None:
                    return
                untagged, line = got
                if line[:1] == b"+":
                    if session.names[0] == "IDLE":
                        session.idle_untagged = untagged
                        session.waiting = "idle"
                        self._timer(session, session.idle_seconds)
                    else:
                        literal, session.literal = session.literal, None
                        session.waiting = "answer"
                        session.responses.untagged = untagged  # they belong to this answer
                        self._write(session, literal + b"\r\n")
                else:  # refused before its literal (NO [TRYCREATE], BAD), or IDLE refused
                    self._tagged(session, untagged, line)
            elif waiting == "idle":
                # Untagged responses while idling; anything else is a protocol error.
                got = session.responses.take(None)
                if got is not None:
                    raise IMAPWireError(f"during IDLE: {got[1][:80]!r}")
                session.idle_untagged += session.responses.untagged
                session.responses.untagged = []
                return
            elif waiting == "answer":
                got = session.responses.take(session.tags[0])
                if got is None:
                    return
                self._tagged(session, *got)
            else:  # bytes nobody asked for (e.g. an untagged EXISTS during a think time): kept for later
                return

    def _tagged(self, session: Session, untagged: list[bytes], line: bytes) -> None:
        tag, name = session.tags[0], session.names[0]
        n = len(tag)
        if line[n:n + 3] == b"OK " and line[:n] == tag:  # the usual answer, in few steps
            ok, text, error = True, line[n + 3:], None
        else:
            if not line.startswith(tag):
                raise IMAPWireError(f"answer for another command: {line[:80]!r}")
            status, _, text = line[n:].partition(b" ")
            ok = status.upper() == b"OK"
            error = None if ok else f"{status.upper().decode(errors='replace')} {text.decode(errors='replace')}"
        if name == "IDLE":
            untagged = session.idle_untagged + untagged
        elif name == "LOGIN" and ok:
            self._capabilities(session, text)
        self._event(session, name, session.started, sum(map(len, untagged)) if untagged else 0, error)
        del session.tags[0], session.names[0]
        answer = Answer(ok, untagged, text)
        if session.tags:  # the next of a pipelined write is due
            session.answers.append(answer)
            return
        if session.answers:
            answer, session.answers = [*session.answers, answer], []
        self._done(session, answer)

    def _done(self, session: Session, answer) -> None:
        session.deadline = 0.0
        session.waiting = ""
        if session.names and session.names[0] == "CONNECT":
            session.names = []
            self._event(session, "CONNECT", session.started, 0, None)
        if session.end_after:  # the budget's last request went out with this write
            self._disconnect(session)
            session.stopped_by_budget = True
            session.steps.close()
            self._end(session)
            return
        self.advance(session, answer)

    def _capabilities(self, session: Session, text: bytes) -> None:
        session.capabilities = capabilities_in(text, session.capabilities)

    def _lost(self, session: Session, reason: str) -> None:
        """The connection broke or the deadline passed: every event still due fails with the reason,
        the session is disconnected, and its generator learns it (lost). With no command under way
        (the server hung up during a think time) it is only disconnected: its next command fails."""
        names = session.names
        if not names:
            self._disconnect(session)
            session.gone = f"{reason} (between commands)"
            return
        for name in names:
            self._event(session, name, session.started or time.perf_counter(), 0, reason)
        pipelined = len(names) + len(session.answers) > 1
        self._disconnect(session)
        answers = session.answers
        session.deadline, session.waiting, session.names, session.tags, session.answers = 0.0, "", [], [], []
        lost = Answer(False, [], b"", lost=True)
        self.advance(session, [*answers, *[lost] * len(names)] if pipelined else lost)

    def _disconnect(self, session: Session) -> None:
        sock, session.sock = session.sock, None
        if sock is None:
            return
        self.by_fd.pop(session.fd, None)
        try:
            self.epoll.unregister(session.fd)
        except (OSError, ValueError):
            pass
        try:  # read what came unread first: a close with unread input sends a reset (imap_wire.close)
            while sock.recv(65536):
                pass
        except OSError:
            pass
        sock.close()
        session.fd, session.out, session.literal = -1, b"", None
        session.tls_object = session.tls_in = session.tls_out = None
        session.tls_closed = False

    def _event(self, session: Session, name: str, started: float, size: int, error: str | None) -> None:
        self.fire(request_type="IMAP", name=name, response_time=(time.perf_counter() - started) * 1000,
                  response_length=size, exception=IMAPCommandFailed(f"{name}: {error}") if error else None,
                  context=session.context)


_loops: dict[int, Loop] = {}


def loop_for(environment) -> Loop:
    """This process's loop (one per Locust environment)."""
    key = id(environment)
    if key not in _loops:
        _loops[key] = Loop(environment.events.request.fire)
    return _loops[key]


def appended_uid(answer: Answer) -> int | None:
    m = _APPENDUID.search(answer.text or b"")
    return int(m.group(1)) if m else None
