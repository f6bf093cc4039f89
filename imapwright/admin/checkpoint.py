"""The book's Example 9-5 and what follows a lost mailbox list: checkpoint the list often (a
rotation of compressed dumps, 60 by default), restore one, or rebuild the list from the mailbox
headers on disk when no copy is left; quotas are repaired afterwards in every case. The rotation
is this workflow's; how a list is dumped, loaded and rebuilt is the family's
(servers/cyrus_mailbox_list.py, through the server handle)."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

from ..errors import UserError
from ..servers.handle import ServerHandle

PREFIX = "mailboxes"
DEFAULT_KEEP = 60


def checkpoint(server: ServerHandle, directory: Path, keep: int = DEFAULT_KEEP) -> Path:
    """Dump the mailbox list into DIRECTORY/mailboxes.0.gz, shifting older copies up to keep-1."""
    if keep < 1:
        raise UserError("--keep must be at least 1")
    dump = server.dump_mailbox_list()
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".checkpoint.")
    with os.fdopen(fd, "wb") as fh:  # written whole before the rotation touches anything
        fh.write(gzip.compress(dump))
    (directory / f"{PREFIX}.{keep - 1}.gz").unlink(missing_ok=True)
    for n in range(keep - 2, -1, -1):
        old = directory / f"{PREFIX}.{n}.gz"
        if old.exists():
            old.rename(directory / f"{PREFIX}.{n + 1}.gz")
    newest = directory / f"{PREFIX}.0.gz"
    os.replace(tmp, newest)
    return newest


def checkpoints(directory: Path) -> list[Path]:
    """Newest first."""
    found = [p for p in directory.glob(f"{PREFIX}.*.gz") if p.name.split(".")[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split(".")[1]))


def restore(server: ServerHandle, copy: Path) -> str:
    """Replace the live mailbox list with a checkpoint; the damaged one is kept aside."""
    try:
        dump = gzip.decompress(copy.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"checkpoint {copy}: not a readable gzip file ({exc})") from None
    return server.restore_mailbox_list(dump)


def rebuild(server: ServerHandle) -> str:
    """No usable copy: recreate every mailbox list entry from the mailboxes on disk."""
    return server.rebuild_mailbox_list()
