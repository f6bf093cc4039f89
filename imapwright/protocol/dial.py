"""Raw IMAP connections for the harness's pipelined clients (addusers, mailbox seeding, the quota
report), plain, over IMAPS (RFC 8314) or upgraded with STARTTLS (RFC 9051 6.2.1) before LOGIN."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import BinaryIO

TLS_MODES = ("", "imaps", "starttls")


@dataclass(frozen=True)
class Dialer:
    host: str
    port: int
    tls: str = ""  # one of TLS_MODES
    context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def connect(self, timeout: float = 60) -> tuple[socket.socket, BinaryIO, bytes]:
        """(socket, its reader, the greeting line); TLS as `tls` says, before anything else is sent."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            if self.tls == "imaps":
                sock = self._wrap(sock)
            reader = sock.makefile("rb")
            greeting = reader.readline()
            if self.tls == "starttls":
                sock.sendall(b"T STARTTLS\r\n")
                while True:
                    line = reader.readline()
                    if not line:
                        raise ConnectionError("server closed the connection at STARTTLS")
                    if line.startswith(b"T "):
                        break
                if not line[2:].upper().startswith(b"OK"):
                    raise ConnectionError(f"STARTTLS refused: {line.decode(errors='replace').strip()}")
                reader.close()
                sock = self._wrap(sock)
                reader = sock.makefile("rb")
            return sock, reader, greeting
        except BaseException:
            sock.close()
            raise

    def _wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        context = self.context or ssl.create_default_context()
        return context.wrap_socket(sock, server_hostname=self.host)
