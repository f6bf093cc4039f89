"""ManageSieve (RFC 5804): enough of it to put, activate, list and read a user's Sieve scripts."""

from __future__ import annotations

import base64
import re
import socket

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class ManageSieveError(RuntimeError):
    pass


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ManageSieveClient:
    """One authenticated connection (SASL PLAIN); every command returns the response lines.

    With `authzid`, `user` (an administrator) acts as that user (RFC 4616 authorization identity).
    """

    def __init__(self, host: str, port: int, user: str, password: str, authzid: str = "",
                 timeout: float = 15, tls_context=None):
        """With `tls_context`, STARTTLS (RFC 5804 section 2.2) before authenticating; the
        capabilities are then the ones the server lists again after the handshake."""
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("rb")
        self.capabilities = self._response()  # the greeting is a capability listing
        self.greeting_capabilities = self.capabilities
        if tls_context is not None:
            if not any(line.upper().startswith(b'"STARTTLS"') for line in self.capabilities):
                raise ManageSieveError("STARTTLS not offered")
            self.command("STARTTLS")
            self._file.close()
            self._sock = tls_context.wrap_socket(self._sock, server_hostname=host)
            self._file = self._sock.makefile("rb")
            self.capabilities = self._response()
        token = base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()
        self.command(f'AUTHENTICATE "PLAIN" "{token}"')

    def _line(self) -> bytes:
        line = self._file.readline()
        if not line:
            raise ManageSieveError("connection closed by the server")
        literal = _LITERAL.search(line)
        if literal:  # a string literal: its bytes, then the rest of the line
            line = line[:literal.start()] + self._file.read(int(literal.group(1))) + self._line()
        return line

    def _response(self) -> list[bytes]:
        lines = []
        while True:
            line = self._line()
            head = line.split(b" ", 1)[0].rstrip(b"\r\n").upper()
            if head in (b"OK", b"NO", b"BYE"):
                if head != b"OK":
                    raise ManageSieveError(line.decode(errors="replace").strip())
                return lines
            lines.append(line)

    def command(self, text: str, literal: bytes | None = None) -> list[bytes]:
        if literal is None:
            self._sock.sendall(text.encode() + b"\r\n")
        else:
            self._sock.sendall(text.encode() + f" {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        return self._response()

    def put_script(self, name: str, script: str) -> None:
        self.command(f"PUTSCRIPT {_quote(name)}", script.encode())

    def set_active(self, name: str) -> None:
        self.command(f"SETACTIVE {_quote(name)}")

    def list_scripts(self) -> dict[str, bool]:
        """Script name -> whether it is the active one."""
        out = {}
        for line in self.command("LISTSCRIPTS"):
            m = re.match(rb'"((?:[^"\\]|\\.)*)"( ACTIVE)?', line.strip())
            if m:
                out[m.group(1).decode()] = bool(m.group(2))
        return out

    def delete_script(self, name: str) -> None:
        self.command(f"DELETESCRIPT {_quote(name)}")

    def get_script(self, name: str) -> str:
        lines = self.command(f"GETSCRIPT {_quote(name)}")
        return b"".join(lines).decode().removesuffix("\r\n")

    def socket(self) -> socket.socket:
        """The connection's socket (an ssl.SSLSocket after STARTTLS)."""
        return self._sock

    def close(self) -> None:
        try:
            self._sock.sendall(b"LOGOUT\r\n")
        except OSError:
            pass
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ManageSieveClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
