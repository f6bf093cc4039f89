"""IMAP helpers on top of imapclient for commands it does not wrap (CREATE with a partition...)."""

from __future__ import annotations

import imapclient


def quote(name: str) -> str:
    """An IMAP quoted string (mailbox names here are ASCII or already modified UTF-7)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(client: imapclient.IMAPClient, name: str, *args: str) -> tuple[str, list[bytes]]:
    """Send one command and return (tagged status, response data) without raising on NO/BAD."""
    typ, data = client._imap._simple_command(name, *args)
    return typ, [d for d in data if d is not None]


def status_text(data: list[bytes]) -> str:
    return b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data).decode(errors="replace")


def list_names(client: imapclient.IMAPClient, pattern: str, reference: str = "") -> list[str]:
    return [name for _flags, _sep, name in client.list_folders(reference, pattern)]
