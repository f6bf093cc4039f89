"""Disk loss: back up a server's whole data volume (spool, databases, configuration state) to a
file, and restore it into a fresh server, then run the recovery its documentation prescribes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import UserError
from ..servers.families import DATA
from ..servers.handle import ServerHandle


def backup(server: ServerHandle, path: Path) -> int:
    """Write a tar of the data volume to `path` (whole or not at all); returns its size."""
    if server.container is None:
        raise UserError(f"{server.name}: backup needs the server's container (an exec channel)")
    stream, _stat = server.container.get_archive(DATA)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in stream:
                fh.write(chunk)
                size += len(chunk)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return size


def restore(server: ServerHandle, path: Path) -> list[str]:
    """Replace the server's data with the backup, restart it, run the recovery steps; their output."""
    if server.container is None or "restart" not in server.features:
        raise UserError(f"{server.name}: restoring needs a server imapwright can restart")
    data = path.read_bytes()
    # The server is still running and may create a file (a lock, a process entry) while the tree
    # is being deleted: "Directory not empty". Clearing again then finishes the job.
    script = (f"for i in 1 2 3 4 5; do find {DATA} -mindepth 1 -delete 2>/dev/null && exit 0; sleep 0.2; done; "
              f"find {DATA} -mindepth 1 -delete")
    server.exec(["sh", "-c", script], user="root").check("clear data")
    parent = DATA.rsplit("/", 1)[0] or "/"
    if not server.container.put_archive(parent, data):
        raise RuntimeError(f"{server.name}: restoring {path} failed")
    server.restart()  # the entrypoint fixes owners and the admin's password for this container
    return server.after_restore()
