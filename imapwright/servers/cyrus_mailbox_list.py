"""Cyrus's mailbox list (mailboxes.db in the configuration directory) as the book's recovery
procedures handle it: dumped with `ctl_mboxlist -d`, loaded with `ctl_mboxlist -u`, rebuilt from
the cyrus.header of every mailbox on every partition (`reconstruct -P`); after each, a restart
(running processes keep the old list open) and `quota -f`. The workflow (admin/checkpoint.py)
asks the family; these are the Cyrus family's answers."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .handle import ServerHandle

FORMATS = ("flat", "skiplist", "twoskip")  # mboxlist_db backends the book's large-list compares
DUMP_FILE = "/tmp/imapwright-mboxlist.dump"


def steps(action: str, source: str = "") -> list[str]:
    """What `action` ("checkpoint", "restore", "rebuild") does, for a dry run."""
    return {"checkpoint": [f"ctl_mboxlist -d | gzip > {source}"],
            "restore": ["set the live mailboxes.db aside", f"ctl_mboxlist -u < {source}", "restart", "quota -f"],
            "rebuild": ["set the live mailboxes.db aside", "reconstruct -P every cyrus.header on every partition",
                        "restart", "quota -f"]}[action]


def config_dir(server: ServerHandle) -> str:
    found = server.config().get("configdirectory")
    if not found:
        raise RuntimeError("the server's configuration names no configdirectory")
    return found


def dump(server: ServerHandle) -> bytes:
    res = server.tool("ctl_mboxlist", "-d")
    if res.exit_code != 0 or not res.raw_stdout.strip():
        raise RuntimeError(f"ctl_mboxlist -d failed: {res.output.strip()[-300:]}")
    return res.raw_stdout


def _set_aside(server: ServerHandle) -> None:
    """Move the live (damaged) mailbox list out of the way, kept for a post-mortem."""
    config = config_dir(server)
    aside = f"{config}/mailboxes.db.damaged-{int(time.time())}"
    server.exec(["sh", "-c", f'[ ! -e {config}/mailboxes.db ] || mv {config}/mailboxes.db {aside}']).check("set aside")


def _restart_and_repair(server: ServerHandle) -> str:
    if "restart" in server.features:  # running services keep the old list open
        server.restart()
    return server.tool("quota", "-f").check("quota -f").output


def restore(server: ServerHandle, content: bytes) -> str:
    server.write_file(DUMP_FILE, content, mode=0o640)
    _set_aside(server)
    server.tool("ctl_mboxlist", "-u", stdin_file=DUMP_FILE).check("ctl_mboxlist -u")
    return _restart_and_repair(server)


def rebuild(server: ServerHandle) -> str:
    _set_aside(server)
    roots = " ".join(f"'{d}'" for d in server.partitions().values())
    out = server.exec(["sh", "-c", f'find {roots} -name cyrus.header -print0 | xargs -0 -r "$@" -P', "sh",
                       *server.tool_command("reconstruct")]).check("reconstruct -P").output
    return out + _restart_and_repair(server)
