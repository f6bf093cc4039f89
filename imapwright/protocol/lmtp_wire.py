"""LMTP on a raw socket, for the load generator: one write for MAIL, RCPT and DATA (RFC 2920
pipelining, which RFC 2033 requires of every LMTP server), one for the message, and replies parsed
from a buffer, nothing else per delivery. Measured against smtplib (benchmarks/generator_ceiling.py):
smtplib reads each reply line through a file object and a gevent timeout, and normalises every
message with two regular expressions; here messages come ready for the wire.

Inside a run of deliveries the next delivery's MAIL, RCPT and DATA go out behind a message's final
dot (RFC 2920 section 3.1: the end of message data may be followed by the next group), so each
delivery costs one round trip instead of two; the caller names the next recipient ahead (`then`).

The suites keep protocol/lmtp.py (several recipients, STARTTLS, non-pipelining servers)."""

from __future__ import annotations

import re
import socket

_EOL = re.compile(rb"\r\n|\r|\n")
_DOT = re.compile(rb"^\.", re.M)


class LMTPWireError(OSError):
    """The server broke the protocol or the connection (the delivery's outcome is unknown)."""


def wire_form(message: bytes) -> bytes:
    """A message as DATA carries it: CRLF line ends, dot-stuffed (RFC 5321 4.5.2), a final CRLF."""
    data = _DOT.sub(b"..", _EOL.sub(b"\r\n", message))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class WireLMTP:
    def __init__(self, host: str, port: int, timeout: float | None = 60, name: str = "imapwright"):
        """`timeout` per socket call; None where the caller bounds whole deliveries (load/lmtp.py)."""
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self.pending: tuple[str, str] | None = None  # (recipient, sender) whose envelope is sent ahead
        self._in_data = False  # DATA sent, the message's final dot not yet: QUIT would be message text
        try:
            code, text = self._reply()
            if code != 220:
                raise LMTPWireError(f"greeting {code} {text}")
            self._send(b"LHLO " + name.encode() + b"\r\n")
            code, text = self._reply()
            if code != 250:
                raise LMTPWireError(f"LHLO answered {code} {text}")
            self.extensions = {line.split(" ", 1)[0].upper() for line in text.split("\n")[1:]}
            if "PIPELINING" not in self.extensions:
                raise LMTPWireError("the server does not offer PIPELINING (RFC 2033 requires it)")
        except BaseException:
            self._sock.close()
            raise

    def _send(self, data: bytes) -> None:
        """sendall without its cost: gevent's sendall asks the kernel for the send buffer's size
        (a getsockopt system call) on every call; a send of a few KB nearly always goes whole."""
        sent = self._sock.send(data)
        if sent < len(data):
            view = memoryview(data)
            while sent < len(view):
                sent += self._sock.send(view[sent:])

    def _reply(self) -> tuple[int, str]:
        """One whole reply (continuation lines joined by newlines): (code, text)."""
        buf = self._buf
        end = buf.find(b"\r\n")
        if end > 3 and buf[3] == 32 and buf[:3].isdigit():  # the usual case: one line, already here
            self._buf = buf[end + 2:]
            return int(buf[:3]), buf[4:end].decode(errors="replace")
        lines = []
        while True:
            end = self._buf.find(b"\r\n")
            while end < 0:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise LMTPWireError("connection closed by the server")
                self._buf += chunk
                end = self._buf.find(b"\r\n")
            line, self._buf = self._buf[:end], self._buf[end + 2:]
            if len(line) < 3 or not line[:3].isdigit():
                raise LMTPWireError(f"not an LMTP reply: {line[:80]!r}")
            lines.append(line[4:].decode(errors="replace"))
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    @staticmethod
    def _envelope(recipient: str, sender: str) -> bytes:
        return f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode()

    def deliver(self, wire: bytes, recipient: str, sender: str,
                then: tuple[str, str] | None = None) -> tuple[int, str]:
        """One message (in wire_form) to one recipient: the recipient's (code, text) after DATA, or
        the refusing command's answer. `then`: (recipient, sender) of the next delivery, whose
        envelope goes out behind this message; the next call must deliver to exactly that."""
        if self.pending is None:
            self._in_data = True
            self._send(self._envelope(recipient, sender))
        elif self.pending != (recipient, sender):
            raise ValueError(f"the envelope sent ahead is for {self.pending}, not {(recipient, sender)}")
        self.pending = None
        mail, rcpt, data = self._reply(), self._reply(), self._reply()
        if data[0] != 354:
            self._in_data = data[0] < 400  # a server that took DATA without a recipient: end it empty
            if self._in_data:
                self._send(b".\r\n")
                self._in_data = False
                self._reply()
            self._send(b"RSET\r\n")
            self._reply()
            return mail if mail[0] != 250 else (rcpt if rcpt[0] not in (250, 251) else data)
        if then is None:
            self._in_data = False
            self._send(wire + b".\r\n")
        else:
            self._send(wire + b".\r\n" + self._envelope(*then))
            self.pending = then
        return self._reply()

    def abort(self) -> None:
        """Close at once, without QUIT (another greenlet may be waiting on this socket)."""
        self._sock.close()

    def close(self) -> None:
        """QUIT and close; only close while a DATA is open (the caller gave up on an envelope sent
        ahead, or was killed in the middle): QUIT would be taken for message text, and a message
        without its final dot is never delivered."""
        if self._in_data:
            self.abort()
            return
        try:
            self._sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self._sock.close()
