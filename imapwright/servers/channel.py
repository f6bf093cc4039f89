"""The exec channel: how the harness runs a server's own tools and writes files beside it. One
small interface behind ServerHandle: docker (a container, shells kept open) or ssh (an admin's VM)."""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
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


SSH_KEY_ENV = "IMAPWRIGHT_SSH_KEY"
SSH_KNOWN_HOSTS_ENV = "IMAPWRIGHT_SSH_KNOWN_HOSTS"


class SSHChannel:
    """Commands over OpenSSH's client, the way an admin reaches a staging VM: a key from
    IMAPWRIGHT_SSH_KEY or the agent, host keys checked against known_hosts (IMAPWRIGHT_SSH_KNOWN_HOSTS
    or ssh's own), one master connection reused by every command (ControlMaster).

    Each command is a script fed to `sh -s` on stdin, so the environment it is given (passwords)
    never appears on a command line on either side. Another user than the login's is reached
    with runuser (logged in as root) or sudo -n."""

    def __init__(self, login: str, host: str, port: int = 22):
        self.login, self.host, self.port = login, host, port
        self.name = f"ssh:{login}@{host}" + (f":{port}" if port != 22 else "")
        self._control = tempfile.mkdtemp(prefix="iw-ssh-", dir=_control_parent())
        _open.add(self)

    def _base(self) -> list[str]:
        if not os.path.isdir(self._control):  # used again after close(): closed again at exit
            os.makedirs(self._control, mode=0o700)
            _open.add(self)
        argv = ["ssh", "-p", str(self.port), "-l", self.login, "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
                "-o", "ControlMaster=auto", "-o", f"ControlPath={self._control}/c", "-o", "ControlPersist=30",
                "-o", "LogLevel=ERROR"]
        key = os.environ.get(SSH_KEY_ENV)
        if key:
            argv += ["-i", key, "-o", "IdentitiesOnly=yes"]
        known = os.environ.get(SSH_KNOWN_HOSTS_ENV)
        if known:
            argv += ["-o", f"UserKnownHostsFile={known}"]
        return argv

    def _ssh(self, remote: str, stdin: bytes) -> tuple[int, bytes, bytes]:
        run = subprocess.run([*self._base(), self.host, remote], input=stdin, capture_output=True)
        if run.returncode == 255:
            raise SSHError(self.name, run.stderr.decode(errors="replace"))
        return run.returncode, run.stdout, run.stderr

    def _as(self, user: str) -> str:
        if user == self.login:
            return "sh -s"
        if self.login == "root":
            return f"runuser -u {shlex.quote(user)} -- sh -s"
        return f"sudo -n -u {shlex.quote(user)} -- sh -s"

    def run(self, argv, user, environment=None, workdir=None):
        script = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in (environment or {}).items())
        if workdir:
            script += f"cd {shlex.quote(workdir)} || exit 1\n"
        script += f"exec {shlex.join(argv)} </dev/null\n"
        return self._ssh(self._as(user), script.encode())

    def put_archive(self, directory, tar):
        # As root, tar keeps the owners and modes the archive gives (as docker's put_archive does).
        sudo = "" if self.login == "root" else "sudo -n "
        code, _out, err = self._ssh(f"{sudo}tar -x -p -C {shlex.quote(directory)}", tar)
        if code != 0:
            raise RuntimeError(f"{self.name}: tar into {directory}: {err.decode(errors='replace').strip()[-200:]}")
        return True

    def check(self) -> None:
        """One harmless command: SSHError with a one-line reason when the channel is unusable."""
        self._ssh("true", b"")

    def close(self):
        _open.discard(self)
        if os.path.exists(f"{self._control}/c"):  # a master runs: it ends now, not ControlPersist later
            subprocess.run([*self._base(), "-O", "exit", self.host], capture_output=True)
        _open.discard(self)
        shutil.rmtree(self._control, ignore_errors=True)


def _control_parent() -> str:
    """Where the ControlMaster socket's folder goes: the temp directory, unless its path is too long
    for a Unix socket (108 bytes, and ssh adds 17 while it binds: a long TMPDIR gave "path too long
    for Unix domain socket"); then /tmp."""
    parent = tempfile.gettempdir()
    return parent if len(os.path.join(parent, "iw-ssh-xxxxxxxx", "c")) + 17 < 100 else "/tmp"


# Every channel still open when the process ends is closed then: its ssh master ends with the
# command, and its control folder goes (a handle reopens a channel its connect step closed).
_open: set[SSHChannel] = set()


@atexit.register
def _close_all() -> None:
    for channel in list(_open):
        with contextlib.suppress(Exception):
            channel.close()


class SSHError(Exception):
    """The ssh client itself failed (exit 255): the reason in one line an admin can act on."""

    def __init__(self, channel: str, stderr: str):
        self.channel = channel
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        text = " ".join(lines)
        if "Host key verification failed" in text or "No matching host key" in text:
            reason = ("host key unknown or changed: add it to known_hosts (ssh-keyscan) or point "
                      f"{SSH_KNOWN_HOSTS_ENV} at a file that has it")
        elif "Permission denied" in text:
            reason = f"key refused (Permission denied): set {SSH_KEY_ENV} to a key the server accepts, or load it into the agent"
        elif "Connection refused" in text or "timed out" in text or "No route" in text:
            reason = f"no ssh server answers ({lines[-1] if lines else 'connection failed'})"
        else:
            reason = lines[-1] if lines else "ssh failed (exit 255)"
        super().__init__(f"exec channel {channel}: {reason}")
        self.reason = reason
