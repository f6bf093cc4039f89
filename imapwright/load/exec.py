"""Load client for the server's own tools: a command run through the server's exec channel (the
same docker or ssh channel every other exec of the harness uses), one request event per run,
type ADMIN. Beside imap.py and lmtp.py for the large-list scenario's reconstructs."""

from __future__ import annotations

import time

from ..servers.target import open_channel
from . import budget
from .ledger import LedgerWriter


class ExecLoadClient:
    def __init__(self, channel: str, environment, user: str = "root", ledger: LedgerWriter | None = None):
        self.channel = open_channel(channel)  # "docker:NAME" or "ssh:USER@HOST[:PORT]"
        self.environment, self.user = environment, user
        self.ledger = ledger or LedgerWriter("")

    def run(self, name: str, command: str) -> bool:
        """`command` (a shell line) as one request named `name`; a non-zero exit is a failure."""
        budget.spend()
        start = time.perf_counter()
        exception = None
        try:
            code, out, err = self.channel.run(["sh", "-c", command], self.user)
            if code != 0:
                tail = (out + err).decode(errors="replace").strip().splitlines()[-1:] or [""]
                exception = RuntimeError(f"exit {code}: {tail[0]}")
            size = len(out) + len(err)
        except Exception as exc:  # noqa: BLE001 - a broken channel is this request's failure, reported
            exception, size = exc, 0
        ms = (time.perf_counter() - start) * 1000
        self.ledger.timing(name, time.time() - ms / 1000, ms)
        self.environment.events.request.fire(request_type="ADMIN", name=name, response_time=ms,
                                             response_length=size, exception=exception, context={})
        return exception is None

    def close(self) -> None:
        self.channel.close()
