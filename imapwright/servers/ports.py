"""Loopback ports for servers: free ones picked by the kernel, chosen ones checked before use.

A port the kernel says is free now is not yet in use by the container that will listen on it, so
parallel imapwright processes (xdist workers) could pick the same one: each pick is reserved by a
file naming the owning process, and a reservation whose process is gone counts as free.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from ..errors import ServerError, UserError

HOST = "127.0.0.1"
RESERVATIONS = Path(tempfile.gettempdir()) / "imapwright-ports"


def _owner_alive(path: Path) -> bool:
    try:
        os.kill(int(path.read_text() or "0"), 0)
    except (ValueError, ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    return True


def reserve(port: int) -> bool:
    RESERVATIONS.mkdir(exist_ok=True)
    path = RESERVATIONS / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _owner_alive(path):
                return False
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True
    return False


def release(port: int) -> None:
    path = RESERVATIONS / str(port)
    try:
        if path.read_text() == str(os.getpid()):
            path.unlink()
    except (FileNotFoundError, ValueError):
        pass


def free_port() -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if reserve(port):
            return port
    raise ServerError(f"no free port on {HOST} that no other imapwright process holds")


def check_free(port: int) -> int:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            raise UserError(f"port {port} on {HOST} is in use; choose another or leave it to imapwright") from None
    return port
