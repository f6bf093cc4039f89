"""Faults of the Cyrus mailbox list (mailboxes.db in the configdirectory): deleted, truncated,
garbage appended. The file is found through the server's configuration tool, not a hard-coded path."""

from __future__ import annotations

from ..handle import ServerHandle
from .spool import GARBAGE


def mailbox_list_path(server: ServerHandle) -> str:
    return f"{server.config()['configdirectory']}/mailboxes.db"


def delete(server: ServerHandle) -> None:
    server.delete_file(mailbox_list_path(server))


def truncate(server: ServerHandle) -> None:
    path = mailbox_list_path(server)
    server.truncate_file(path, len(server.read_file(path)) // 2)


def append_garbage(server: ServerHandle) -> None:
    path = mailbox_list_path(server)
    server.write_file(path, server.read_file(path) + GARBAGE * 8)


FAULTS = {"deleted": delete, "truncated": truncate, "garbage-appended": append_garbage}
