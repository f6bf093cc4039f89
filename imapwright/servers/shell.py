"""A persistent shell inside a container: one `docker exec` per session instead of one per command.

A docker exec costs about 70 ms (create, start, inspect); the after-test consistency check and
user creation run several commands per test, so they go through a shell kept open on an exec
socket. Commands run in a subshell with stdin from /dev/null (they must not eat the next
command); a random marker on stdout and on stderr ends each command's output.
"""

from __future__ import annotations

import secrets
import shlex
import socket
import struct
import threading


class ShellClosed(OSError):
    pass


class ShellSession:
    def __init__(self, container, user: str):
        api = container.client.api
        exec_id = api.exec_create(container.id, ["sh"], stdin=True, tty=False, user=user)["Id"]
        self._sock: socket.socket = api.exec_start(exec_id, socket=True)._sock
        self._buffers = {1: bytearray(), 2: bytearray()}
        self._lock = threading.Lock()

    def run(self, argv: list[str], environment: dict[str, str] | None = None, workdir: str | None = None
            ) -> tuple[int, bytes, bytes]:
        marker = secrets.token_hex(12).encode()
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in (environment or {}).items())
        cd = f"cd {shlex.quote(workdir)} && " if workdir else ""
        command = f"({cd}{env + ' ' if env else ''}{shlex.join(argv)}) </dev/null"
        line = f"{command}\nprintf '\\n{marker.decode()} %s\\n' $?; printf '{marker.decode()}\\n' >&2\n"
        with self._lock:
            self._sock.sendall(line.encode())
            out_end = b"\n" + marker + b" "
            while out_end not in self._buffers[1] or marker + b"\n" not in self._buffers[2]:
                self._read_frame()
            out, _, rest = bytes(self._buffers[1]).partition(out_end)
            code_text, _, remainder = rest.partition(b"\n")
            err, _, err_rest = bytes(self._buffers[2]).partition(marker + b"\n")
            self._buffers[1][:] = remainder
            self._buffers[2][:] = err_rest
        return int(code_text), out, err

    def _read_frame(self) -> None:
        # Docker's multiplexed stream: 8-byte header (stream id, 3 zero bytes, big-endian length).
        header = self._recv_exact(8)
        stream, length = header[0], struct.unpack(">I", header[4:])[0]
        self._buffers.setdefault(stream, bytearray()).extend(self._recv_exact(length))

    def _recv_exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self._sock.recv(n - len(data))
            if not chunk:
                raise ShellClosed("container shell closed")
            data.extend(chunk)
        return bytes(data)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
