"""IMAP on a raw socket, for load sessions: each command written in one piece as imapclient would
write it (the recording responder test holds the two to the same bytes), responses read from one
buffer, untagged responses kept whole (literals inline) and parsed only where a session needs a
value (SEARCH hits, APPENDUID). imapclient spends most of a load command's CPU in imaplib's
per-line file reads, its regular expressions and its response parsing into Python types that a
load session throws away (benchmarks/generator_ceiling.py).

Literals go out synchronising (wait for the server's "+"), as imapclient sends them, or, asked for
and where the server offers LITERAL+ (RFC 7888), in the command's own write; several commands may
go out in one write and be answered in order (RFC 3501 5.5, pipelining: the load sessions' recorded
`imap_pipeline` option). IDLE is the RFC 2177 exchange. The suites keep imapclient, where a readable
client is worth more than speed."""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl

from .imap import quote

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}$")
_CAPABILITY_CODE = re.compile(rb"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)
_ATOM_SPECIALS = re.compile(r'[\x00-\x20(){%*"\\\]\x7f-\uffff]')


class IMAPWireError(OSError):
    """The connection broke or the server broke the protocol: the session is unusable."""


class IMAPNo(Exception):
    """The server answered NO or BAD: the session goes on."""

    def __init__(self, status: bytes, text: bytes):
        super().__init__(f"{status.decode()} {text.decode(errors='replace')}")
        self.status, self.text = status, text


@functools.lru_cache(maxsize=1024)
def mailbox(name: str) -> bytes:
    """A mailbox name as imapclient sends it: modified UTF-7 (RFC 3501 5.1.3), always quoted."""
    return quote(name).encode("ascii")


def astring(text: str) -> bytes:
    """An atom where the text allows it, else a quoted string."""
    if text and not _ATOM_SPECIALS.search(text):
        return text.encode()
    return _quoted(text)


def uid_set(uids) -> bytes:
    return b",".join(b"%d" % u for u in uids)


def parenthesised(items) -> bytes:
    return b"(" + b" ".join(i if isinstance(i, bytes) else i.encode() for i in items) + b")"


class Responses:
    """IMAP responses framed from bytes as they arrive (no I/O: the blocking client and the load
    loop both feed it): lines, each untagged response whole with its literals."""

    __slots__ = ("buf", "start", "pos", "untagged")

    def __init__(self):
        self.buf, self.start, self.pos, self.untagged = b"", 0, 0, []

    def feed(self, chunk: bytes) -> None:
        if self.start:
            self.buf, self.pos, self.start = self.buf[self.start:], self.pos - self.start, 0
        self.buf += chunk

    def pending(self) -> bool:
        """Whether bytes came that no answer took."""
        return len(self.buf) > self.start

    def take(self, tag: bytes | None, greeting: bool = False) -> tuple[list[bytes], bytes] | None:
        """(untagged responses, the last line) up to the tagged line for `tag`; with `tag` None,
        up to a "+" continuation or any tagged line (a command refused before its literal); with
        `greeting`, the first line. None while incomplete (feed more and ask again)."""
        buf, start, pos = self.buf, self.start, self.pos
        while True:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            if buf[end - 1] == 125:  # "}": a literal follows this line
                m = _LITERAL_AT_END.search(buf, pos, end)
                if m is not None:
                    after = end + 2 + int(m.group(1))
                    if len(buf) < after:
                        break
                    pos = after
                    continue
            line = buf[start:end]
            start = pos = end + 2
            if line[:2] == b"* " and not greeting:
                self.untagged.append(line)
                continue
            if tag is not None and line[:1] == b"+":
                raise IMAPWireError(f"unexpected continuation {line[:80]!r}")
            self.start = self.pos = start
            untagged, self.untagged = self.untagged, []
            return untagged, line  # tagged: the caller holds it to its command's tag
        self.start, self.pos = start, pos
        return None


class WireIMAP:
    def __init__(self, host: str, port: int, timeout: float | None = 60, tls: str = "",
                 context: ssl.SSLContext | None = None):
        """`tls`: "imaps" (TLS from the first byte), "starttls" (RFC 3501 6.2.1) or "" (plain)."""
        sock = _connect(host, port, timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._responses = Responses()
        self._n = 0
        self.capabilities: frozenset[bytes] = frozenset()  # as the greeting or LOGIN's answer listed them
        try:
            if tls == "imaps":
                sock = (context or ssl.create_default_context()).wrap_socket(sock, server_hostname=host)
            self._sock = sock
            self._cooperative()
            self.greeting = self._response(None, greeting=True)[1]
            if not self.greeting.startswith((b"* OK", b"* PREAUTH")):
                raise IMAPWireError(f"greeting: {self.greeting[:80]!r}")
            self._note_capabilities(self.greeting)
            if tls == "starttls":
                self.run(b"STARTTLS")
                if self._responses.pending():
                    raise IMAPWireError("data after STARTTLS's answer (RFC 3501 6.2.1: a possible injection)")
                self._sock = (context or ssl.create_default_context()).wrap_socket(sock, server_hostname=host)
                self._cooperative()
                self.capabilities = frozenset()  # those said in the clear no longer count (RFC 3501 6.2.1)
        except BaseException:
            sock.close()
            raise

    def _send(self, data: bytes) -> None:
        # send, not sendall: gevent's sendall asks for the send buffer's size on every call
        # (protocol/lmtp_wire.py); a command nearly always goes in one send.
        sent = self._sock.send(data)
        if sent < len(data):
            view = memoryview(data)
            while sent < len(view):
                sent += self._sock.send(view[sent:])

    def _cooperative(self) -> None:
        """Under gevent, a plain socket waits for data before it reads. gevent's recv reads first
        and waits when nothing is there, which for a command just sent is nearly always: a failed
        system call and an exception per answer, about a tenth of a load command's CPU. Uses
        gevent's socket internals (`_sock`, `_wait`, `_read_event`, stable since gevent 1.x);
        anything else (TLS, no gevent) reads the ordinary way."""
        sock = self._sock
        self._raw = self._wait_read = None
        if type(sock).__module__ == "gevent._socket3" and hasattr(sock, "_read_event"):
            self._raw = sock._sock
            self._wait_read = functools.partial(sock._wait, sock._read_event)

    def _more(self) -> None:
        if self._raw is not None:
            while True:
                self._wait_read()
                try:
                    chunk = self._raw.recv(65536)
                    break
                except BlockingIOError:  # woken without data: wait again
                    continue
        else:
            chunk = self._sock.recv(65536)
        if not chunk:
            raise IMAPWireError("connection closed by the server")
        self._responses.feed(chunk)

    def _response(self, tag: bytes | None, greeting: bool = False) -> tuple[list[bytes], bytes]:
        """Responses up to the tagged one for `tag` (Responses.take), reading as needed."""
        take, more = self._responses.take, self._more
        while (got := take(tag, greeting)) is None:
            more()
        return got

    def _note_capabilities(self, text: bytes) -> None:
        """Capabilities a response code lists (no CAPABILITY command of its own: it would change
        the traffic a load session sends)."""
        self.capabilities = capabilities_in(text, self.capabilities)

    def _tag(self) -> bytes:
        """The next tag, with the space that follows it on the wire."""
        self._n += 1
        return b"W%d " % self._n

    @staticmethod
    def _checked(tag: bytes, untagged: list[bytes], line: bytes) -> tuple[list[bytes], bytes]:
        if not line.startswith(tag):
            raise IMAPWireError(f"answer for another command: {line[:80]!r}")
        status, _, text = line[len(tag):].partition(b" ")
        if status.upper() != b"OK":
            raise IMAPNo(status.upper(), text)
        return untagged, text

    def run(self, command: bytes, literal: bytes | None = None) -> tuple[list[bytes], bytes]:
        """One command (its text after the tag; with `literal`, the literal follows it, then CRLF):
        (untagged responses, the tagged OK's text). NO or BAD raise IMAPNo."""
        tag = self._tag()
        if literal is None:
            self._send(tag + command + b"\r\n")
            untagged, line = self._response(tag)
            n = len(tag)
            if line[n:n + 3] == b"OK " and line[:n] == tag:  # the usual answer, without _checked's work
                return untagged, line[n + 3:]
            return self._checked(tag, untagged, line)
        self._send(b"%s%s {%d}\r\n" % (tag, command, len(literal)))
        untagged, line = self._response(None)
        if line[:1] != b"+":  # refused before the literal (e.g. NO [TRYCREATE], BAD)
            return self._checked(tag, untagged, line)
        self._send(literal + b"\r\n")
        more, line = self._response(tag)
        return self._checked(tag, untagged + more, line)

    def send(self, commands: list[bytes]) -> list[bytes]:
        """Several commands (texts after the tag, no literals) in one write, not waiting between
        them: their tags, for answer() in the same order."""
        tags = [self._tag() for _ in commands]
        self._send(b"".join(t + c + b"\r\n" for t, c in zip(tags, commands)))
        return tags

    def answer(self, tag: bytes) -> tuple[list[bytes], bytes]:
        """The answer to a command sent with send(): the servers answer pipelined commands of one
        session in the order sent, so the next tagged line is this one's (else IMAPWireError)."""
        return self._checked(tag, *self._response(tag))

    # The load sessions' commands, in imapclient's wire form (the texts: module functions below).
    def login(self, user: str, password: str) -> None:
        self._note_capabilities(self.run(login_text(user, password))[1])

    def select(self, name: str) -> list[bytes]:
        return self.run(select_text(name))[0]

    def list(self, reference: str = "", pattern: str = "*") -> list[bytes]:
        return self.run(list_text(reference, pattern))[0]

    def uid_search(self, criteria: bytes) -> list[int]:
        return search_hits(self.run(search_text(criteria))[0])

    def uid_fetch(self, uids, items) -> list[bytes]:
        return self.run(fetch_text(uids, items))[0]

    def uid_store(self, uids, op: bytes, flags) -> list[bytes]:
        return self.run(store_text(uids, op, flags))[0]

    def append(self, name: str, message: bytes, flags=(), non_sync: bool = False) -> bytes:
        """The tagged OK's text (with APPENDUID, RFC 4315, where the server sends it). With
        `non_sync` and LITERAL+ offered, the message goes in the command's own write (RFC 7888),
        one round trip instead of two."""
        command = append_text(name, flags)
        if not (non_sync and b"LITERAL+" in self.capabilities):
            return self.run(command, message)[1]
        tag = self._tag()
        self._send(b"%s%s {%d+}\r\n%s\r\n" % (tag, command, len(message), message))
        return self.answer(tag)[1]

    def uid_expunge(self, uids) -> list[bytes]:
        return self.run(expunge_text(uids))[0]

    def idle(self, seconds: float) -> list[bytes]:
        """IDLE for `seconds`, then DONE: the untagged responses that came meanwhile."""
        tag = self._tag()
        self._send(tag + b"IDLE\r\n")
        untagged, line = self._response(None)
        if line[:1] != b"+":
            self._checked(tag, untagged, line)
            raise IMAPWireError(f"IDLE answered {line[:80]!r} without a continuation")
        if seconds > 0:
            timeout = self._sock.gettimeout()
            self._sock.settimeout(seconds)
            try:
                self._more()
            except socket.timeout:
                pass
            finally:
                self._sock.settimeout(timeout)
        self._send(b"DONE\r\n")
        more, line = self._response(tag)
        return self._checked(tag, untagged + more, line)[0]

    def logout(self) -> None:
        try:
            self.run(b"LOGOUT")
        finally:
            self.close()

    def close(self) -> None:
        """Close, first reading what the server sent and nobody read (a "+" the session was killed
        waiting for): closed with unread input, the socket sends a reset, and Dovecot logs an
        APPEND cut off that way as an error ("read() failed: Connection reset by peer"), which
        fails the run's log check; closed after it, the server sees an ordinary disconnect."""
        raw = self._raw if self._raw is not None else (self._sock if type(self._sock) is socket.socket else None)
        try:
            if raw is not None:
                raw.settimeout(0)  # a socket with a timeout waits before each read, even with MSG_DONTWAIT
                while raw.recv(65536, socket.MSG_DONTWAIT):
                    pass
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass


def capabilities_in(text: bytes, otherwise: frozenset[bytes]) -> frozenset[bytes]:
    """The capabilities a [CAPABILITY ...] response code in `text` lists, else `otherwise`."""
    m = _CAPABILITY_CODE.search(text)
    return frozenset(m.group(1).upper().split()) if m is not None else otherwise


# -- the texts of the load sessions' commands (after the tag), as imapclient writes them ----------
# The parts a session repeats (mailbox names, item and flag lists) are made once (a profile of the
# mixed scenario showed the same names quoted and encoded again on every command).
def login_text(user: str, password: str) -> bytes:
    return b"LOGIN " + astring(user) + b" " + _quoted(password)


def select_text(name: str) -> bytes:
    return b"SELECT " + mailbox(name)


def list_text(reference: str = "", pattern: str = "*") -> bytes:
    return b"LIST " + mailbox(reference) + b" " + mailbox(pattern)


def search_text(criteria: bytes) -> bytes:
    return b"UID SEARCH " + criteria


@functools.lru_cache(maxsize=256)
def _list_of(items: tuple) -> bytes:
    return parenthesised(items)


def search_hits(untagged: list[bytes]) -> list[int]:
    hits = []
    for line in untagged:
        if line[:9].upper() == b"* SEARCH ":
            hits.extend(map(int, line[9:].split()))
    return hits


def fetch_text(uids, items) -> bytes:
    return b"UID FETCH " + uid_set(uids) + b" " + _list_of(tuple(i.upper() for i in items))


def store_text(uids, op: bytes, flags) -> bytes:
    return b"UID STORE " + uid_set(uids) + b" " + op + b" " + _list_of(tuple(flags))


def append_text(name: str, flags=()) -> bytes:
    """APPEND's text before its literal."""
    return b"APPEND " + mailbox(name) + b" " + _list_of(tuple(flags))


def expunge_text(uids) -> bytes:
    return b"UID EXPUNGE " + uid_set(uids)


@functools.lru_cache(maxsize=64)
def address_family(host: str) -> int | None:
    """The address family of an address written as one; None for a name."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return None


def _connect(host: str, port: int, timeout: float | None) -> socket.socket:
    """A connected socket; an address is used as it is: under gevent, create_connection's
    getaddrinfo runs in a thread pool, which cost a load session's reconnect (after each LOGOUT)
    more than the connection itself."""
    family = address_family(host)
    if family is None:
        return socket.create_connection((host, port), timeout=timeout)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _quoted(text: str) -> bytes:
    return b'"' + text.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
