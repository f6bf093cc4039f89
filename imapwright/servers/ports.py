"""Loopback ports for servers: free ones picked by the kernel, chosen ones checked before use."""

from __future__ import annotations

import socket

from ..errors import UserError

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def check_free(port: int) -> int:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            raise UserError(f"port {port} on {HOST} is in use; choose another or leave it to imapwright") from None
    return port
