"""The book's Example 9-5 and what follows a lost mailbox list: checkpoint the list often (a
rotation of compressed dumps, 60 by default), restore one, or rebuild the list from the mailbox
headers on disk when no copy is left; quotas are repaired afterwards in every case."""

from __future__ import annotations

import gzip
import os
import tempfile
import time
from pathlib import Path

from ..errors import UserError
from ..servers.handle import ServerHandle

PREFIX = "mailboxes"
DEFAULT_KEEP = 60


def _require(server: ServerHandle) -> None:
    if "mailbox-list" not in server.features or "exec" not in server.features:
        raise UserError(f"{server.name}: no mailbox list tools reachable (Cyrus with an exec channel needed)")


def config_dir(server: ServerHandle) -> str:
    _require(server)
    found = server.config().get("configdirectory")
    if not found:
        raise RuntimeError("the server's configuration names no configdirectory")
    return found


def checkpoint(server: ServerHandle, directory: Path, keep: int = DEFAULT_KEEP) -> Path:
    """Dump the mailbox list into DIRECTORY/mailboxes.0.gz, shifting older copies up to keep-1."""
    if keep < 1:
        raise UserError("--keep must be at least 1")
    _require(server)
    res = server.tool("ctl_mboxlist", "-d")
    if res.exit_code != 0 or not res.raw_stdout.strip():
        raise RuntimeError(f"ctl_mboxlist -d failed: {res.output.strip()[-300:]}")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".checkpoint.")
    with os.fdopen(fd, "wb") as fh:  # written whole before the rotation touches anything
        fh.write(gzip.compress(res.raw_stdout))
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


def _set_aside(server: ServerHandle) -> None:
    """Move the live (damaged) mailbox list out of the way, kept for a post-mortem."""
    config = config_dir(server)
    aside = f"{config}/mailboxes.db.damaged-{int(time.time())}"
    server.exec(["sh", "-c", f'[ ! -e {config}/mailboxes.db ] || mv {config}/mailboxes.db {aside}']).check("set aside")


def _repair_quotas(server: ServerHandle) -> str:
    return server.tool("quota", "-f").check("quota -f").output


def _restart(server: ServerHandle) -> None:
    # Running services keep the old list open; a restart makes every process read the new one.
    if "restart" in server.features:
        server.restart()


def restore(server: ServerHandle, copy: Path) -> str:
    """Replace the live mailbox list with a checkpoint; the damaged one is kept aside."""
    _require(server)
    try:
        dump = gzip.decompress(copy.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"checkpoint {copy}: not a readable gzip file ({exc})") from None
    server.write_file("/tmp/imapwright-mboxlist.dump", dump, mode=0o640)
    _set_aside(server)
    server.tool("ctl_mboxlist", "-u", stdin_file="/tmp/imapwright-mboxlist.dump").check("ctl_mboxlist -u")
    _restart(server)
    return _repair_quotas(server)


def rebuild(server: ServerHandle) -> str:
    """No usable copy: recreate every mailbox list entry from the cyrus.header files on each partition."""
    _require(server)
    _set_aside(server)
    roots = " ".join(f"'{d}'" for d in server.partitions().values())
    out = server.exec(["sh", "-c", f'find {roots} -name cyrus.header -print0 | xargs -0 -r "$@" -P', "sh",
                       *server.tool_command("reconstruct")]).check("reconstruct -P").output
    _restart(server)
    return out + _repair_quotas(server)
