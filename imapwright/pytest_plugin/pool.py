"""The servers of one pytest session: started (or connected) on first use, stopped at the end."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from ..catalogue import lookup
from ..errors import UserError
from ..servers.handle import ServerHandle
from ..servers.target import connect_target

TARGET = "target"


class ServerPool:
    def __init__(self, names: list[str], target_url: str | None, options: dict[str, str] | None = None,
                 target_version: str | None = None, check_target: Callable[[ServerHandle], None] | None = None,
                 insecure: bool = False):
        self.names = names
        self.target_url = target_url
        self.target_version = target_version
        self.insecure = insecure  # --insecure: the target's certificate need not verify
        self.check_target = check_target  # raises UserError for a target the run cannot judge
        self.options = options or {}  # settings for every server started
        self._servers: dict[str, ServerHandle] = {}
        self._errors: dict[str, str] = {}
        self._pruned = False

    def get(self, name: str) -> ServerHandle:
        if name in self._errors:  # do not retry a failed start for every test
            raise UserError(self._errors[name])
        if name not in self._servers:
            try:
                self._servers[name] = self._open(name)
            except UserError as exc:
                self._errors[name] = str(exc)
                raise
        return self._servers[name]

    def _open(self, name: str) -> ServerHandle:
        if name == TARGET:
            handle = connect_target(self.target_url or "", self.target_version, self.insecure)
            if self.check_target is not None:
                self.check_target(handle)
            return handle
        # Docker only for servers the run starts: a --target run works without it.
        from ..servers.managed import prune, start_server

        if not self._pruned:
            prune()  # containers left by runs that were killed outright
            self._pruned = True
        return start_server(lookup(name), dict(self.options))

    def peek(self, name: str) -> ServerHandle | None:
        """The server if it is already started or connected (never starts one)."""
        return self._servers.get(name)

    def started(self) -> list[ServerHandle]:
        return list(self._servers.values())

    def close(self) -> None:
        keep = os.environ.get("IMAPWRIGHT_KEEP_SERVERS") == "1"
        for server in self._servers.values():
            if server.owned and not keep:
                with contextlib.suppress(Exception):
                    server.stop()
        self._servers.clear()
