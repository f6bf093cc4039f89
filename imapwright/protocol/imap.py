"""IMAP helpers on top of imapclient for commands it does not wrap (CREATE with a partition...)."""

from __future__ import annotations

import imaplib
import re

import imapclient


def quote(name: str) -> str:
    """An IMAP quoted string (mailbox names here are ASCII or already modified UTF-7)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# imaplib refuses commands it does not know; these are RFC 4314's.
imaplib.Commands.setdefault("LISTRIGHTS", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("MYRIGHTS", ("AUTH", "SELECTED"))
# The untagged response a command's data come in, where its name differs from the command's.
_UNTAGGED = {"GETACL": "ACL"}


def command(client: imapclient.IMAPClient, name: str, *args: str) -> tuple[str, list[bytes]]:
    """Send one command and return (tagged status, data) without raising on NO or BAD.

    For OK the data are the command's untagged responses (ACL for GETACL, MYRIGHTS, LISTRIGHTS...);
    for NO and BAD the tagged response text.
    """
    imap = client._imap
    try:
        typ, data = imap._simple_command(name, *args)
    except imaplib.IMAP4.error as exc:  # imaplib raises on BAD: "NAME command error: BAD [b'text']"
        m = re.search(r""": BAD \[b?['"](.*)['"]\]$""", str(exc))
        return "BAD", [(m.group(1) if m else str(exc)).encode()]
    key = _UNTAGGED.get(name.upper(), name.upper())
    if typ == "OK" and key in imap.untagged_responses:
        data = imap.untagged_responses.pop(key)
    return typ, [d for d in data if d is not None]


def status_text(data: list[bytes]) -> str:
    return b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data).decode(errors="replace")


def list_names(client: imapclient.IMAPClient, pattern: str, reference: str = "") -> list[str]:
    return [name for _flags, _sep, name in client.list_folders(reference, pattern)]
