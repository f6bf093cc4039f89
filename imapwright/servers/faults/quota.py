"""Quota faults: the book's "horked quota", a usage record on disk that no longer matches the mail."""

from __future__ import annotations

import re

from ..handle import ServerHandle

CYRUS_QUOTA_DIR = "/srv/imapwright/config/quota"  # quota_db: quotalegacy, one file per root


def cyrus_quota_file(server: ServerHandle, root: str) -> str:
    res = server.exec(["sh", "-c", f'ls {CYRUS_QUOTA_DIR}/*/"$1"', "sh", root], user="root")
    if res.exit_code != 0 or not res.stdout.strip():
        raise FileNotFoundError(f"no quota record for {root} under {CYRUS_QUOTA_DIR} (quota_db not quotalegacy?)")
    return res.stdout.split()[0]


def set_stored_storage(server: ServerHandle, root: str, used_bytes: int) -> int:
    """Overwrite the STORAGE usage Cyrus keeps for `root`; returns the bytes it held before."""
    path = cyrus_quota_file(server, root)
    record = server.read_file(path)
    match = re.search(rb"S \((\d+)", record)
    if not match:
        raise ValueError(f"unexpected quota record format in {path}: {record[:80]!r}")
    server.write_file(path, record[: match.start(1)] + str(used_bytes).encode() + record[match.end(1):])
    return int(match.group(1))


def delete_record(server: ServerHandle, root: str) -> None:
    """The book's way of removing a quota root: delete its record (then repair with quota -f)."""
    server.delete_file(cyrus_quota_file(server, root))
