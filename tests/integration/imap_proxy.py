"""A misbehaving IMAP server for can-fail tests: a proxy in front of a real one that answers some
commands itself with OK and never passes them on (a server that says yes and does nothing), and
can rewrite the server's response lines (a server that answers wrongly). Everything else goes
through unchanged, literals included ({n} and {n+}), so a suite run through a proxy that changes
nothing must be as green as one run against the server."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class SwallowingProxy:
    def __init__(self, upstream: tuple[str, int], swallow: set[str] = frozenset(),
                 rewrite: Callable[[bytes], bytes] | None = None, rewrite_literal: Callable[[bytes], bytes] | None = None):
        """`rewrite`: each response line; `rewrite_literal`: each literal the server sends (a message
        as FETCH returns it), keeping its length."""
        self.upstream, self.swallow, self.rewrite = upstream, {c.upper() for c in swallow}, rewrite
        self.rewrite_literal = rewrite_literal
        self.rewritten = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.swallowed: list[str] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            lock = threading.Lock()
            threading.Thread(target=self._down, args=(server, client, lock), daemon=True).start()
            threading.Thread(target=self._up, args=(client, server, lock), daemon=True).start()

    def _down(self, server: socket.socket, client: socket.socket, lock: threading.Lock) -> None:
        with contextlib.suppress(OSError):
            if self.rewrite is None and self.rewrite_literal is None:
                while data := server.recv(65536):
                    with lock:
                        client.sendall(data)
            else:  # line by line, literals passed through as they are
                reader = server.makefile("rb")
                while line := reader.readline():
                    changed = self.rewrite(line) if self.rewrite else line
                    self.rewritten += changed != line
                    with lock:
                        client.sendall(changed)
                    while m := _LITERAL.search(line):
                        data = reader.read(int(m[1]))
                        if self.rewrite_literal:
                            new = self.rewrite_literal(data)
                            assert len(new) == len(data), "a literal rewrite must keep the length"
                            self.rewritten += new != data
                            data = new
                        line = reader.readline()
                        with lock:
                            client.sendall(data + line)
        with contextlib.suppress(OSError):
            client.close()

    def _up(self, client: socket.socket, server: socket.socket, lock: threading.Lock) -> None:
        reader = client.makefile("rb")
        with contextlib.suppress(OSError):
            while line := reader.readline():
                words = line.split(None, 2)
                if len(words) >= 2 and words[1].decode(errors="replace").upper() in self.swallow \
                        and not _LITERAL.search(line):
                    tag, name = words[0].decode(), words[1].decode().upper()
                    self.swallowed.append(line.decode(errors="replace").strip())
                    with lock:
                        client.sendall(f"{tag} OK {name} completed\r\n".encode())
                    continue
                server.sendall(line)
                while m := _LITERAL.search(line):  # a literal's bytes follow, then the line goes on
                    server.sendall(reader.read(int(m[1])))
                    line = reader.readline()
                    server.sendall(line)
        with contextlib.suppress(OSError):
            server.close()


def run_suite_through(pytester, monkeypatch, server, suite, *args: str, lmtp: bool = False, **proxy):
    """Run `suite` (an inner pytest) against `server` through a SwallowingProxy(**proxy) given as
    its --target; returns (the run's result, the names of the tests that failed, the proxy)."""
    from imapwright.servers.handle import Endpoint
    from imapwright.servers.target import PASSWORD_ENV, format_target

    root = Path(__file__).resolve().parents[2]
    through = SwallowingProxy((server.imap.host, server.imap.port), **proxy)
    try:
        url = format_target(server.admin_user, Endpoint(server.imap.host, through.port),
                            lmtp=server.lmtp if lmtp else None, exec_=server.channel.name)
        monkeypatch.setenv(PASSWORD_ENV, server.admin_password)
        monkeypatch.setenv("PYTHONPATH", str(root))
        result = pytester.runpytest_subprocess(
            str(suite), "--rootdir", str(root), "-p", "no:cacheprovider", "-p", "no:benchmark", "--target", url,
            "--allow-destructive", "--no-consistency-check", "--log-gate", "off", *args)
    finally:
        through.close()
    failed = {line.split("::")[1].split("[")[0] for line in result.outlines if line.startswith("FAILED ")}
    return result, failed, through
