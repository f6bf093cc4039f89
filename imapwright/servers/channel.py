"""The exec channel: how the harness runs a server's own tools and writes files beside it. One
small interface behind ServerHandle; docker (a container, shells kept open) today, ssh next."""

from __future__ import annotations

from typing import Protocol

from .shell import ShellSession


class ExecChannel(Protocol):
    name: str  # as a --target URL writes it: "docker:NAME", "ssh:USER@HOST"

    def run(self, argv: list[str], user: str, environment: dict[str, str] | None = None,
            workdir: str | None = None) -> tuple[int, bytes, bytes]:
        """Exit status, stdout and stderr of one command run as `user`."""

    def put_archive(self, directory: str, tar: bytes) -> bool:
        """Unpack a tar stream (owners and modes as it says) into `directory`."""

    def close(self) -> None:
        """Let go of whatever the channel keeps open."""


class DockerChannel:
    """Commands through a shell kept open per user inside the container (see shell.py); a shell
    that died with its container (restart, kill) is reopened once."""

    def __init__(self, container):
        self.container = container
        self.name = f"docker:{container.name}"
        self._shells: dict[str, ShellSession] = {}

    def run(self, argv, user, environment=None, workdir=None):
        for attempt in (1, 2):
            shell = self._shells.get(user)
            try:
                if shell is None:
                    shell = self._shells[user] = ShellSession(self.container, user)
                return shell.run(list(argv), environment, workdir)
            except (OSError, ValueError):
                self._shells.pop(user, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def put_archive(self, directory, tar):
        return bool(self.container.put_archive(directory, tar))

    def close(self):
        for shell in self._shells.values():
            shell.close()
        self._shells.clear()
