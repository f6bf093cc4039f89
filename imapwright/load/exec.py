"""Load client for the server's own tools: a command run inside the server's container (through
the docker API the exec channel uses), one request event per run, type ADMIN. Beside imap.py and
lmtp.py for the large-list scenario's reconstructs."""

from __future__ import annotations

import time

import docker
import docker.errors

from . import budget
from .ledger import LedgerWriter


class ExecLoadClient:
    def __init__(self, container_name: str, environment, user: str = "root", ledger: LedgerWriter | None = None):
        self.container = docker.from_env().containers.get(container_name)
        self.environment, self.user = environment, user
        self.ledger = ledger or LedgerWriter("")

    def run(self, name: str, command: str) -> bool:
        """`command` (a shell line) as one request named `name`; a non-zero exit is a failure."""
        budget.spend()
        start = time.perf_counter()
        exception = None
        try:
            result = self.container.exec_run(["sh", "-c", command], user=self.user)
            if result.exit_code != 0:
                tail = result.output.decode(errors="replace").strip().splitlines()[-1:] or [""]
                exception = RuntimeError(f"exit {result.exit_code}: {tail[0]}")
            size = len(result.output)
        except docker.errors.APIError as exc:
            exception, size = exc, 0
        ms = (time.perf_counter() - start) * 1000
        self.ledger.timing(name, time.time() - ms / 1000, ms)
        self.environment.events.request.fire(request_type="ADMIN", name=name, response_time=ms,
                                             response_length=size, exception=exception, context={})
        return exception is None
