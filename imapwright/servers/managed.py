"""Servers the harness starts: a container on free loopback ports with its data in a docker volume."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import socket
import time

import docker.errors
import imapclient

from ..catalogue import ServerSpec
from ..errors import ServerError
from . import engine, ports
from .families import DATA, FAMILIES
from .handle import Endpoint, ServerHandle
from .images import ensure_image

READY_TIMEOUT = 60.0
_live: set[ManagedServer] = set()  # stopped at exit, whatever ended the run


class ManagedServer(ServerHandle):
    """Created by `start_server`; owns its container and data volume until `stop()`."""

    spec: ServerSpec
    options: dict[str, object]
    volume_name: str
    _image_id: str
    _sieve_port: int
    _owner: str  # owner-pid label: this process, or "0" for a detached server
    _labels: dict[str, str]  # on its container and volume; the instance label finds both at stop()

    # -- lifecycle ----------------------------------------------------------------------------
    def _run_container(self) -> None:
        env = {
            "IMAP_PORT": str(self.imap.port),
            "LMTP_PORT": str(self.lmtp.port),
            "SIEVE_PORT": str(self._sieve_port),
            "ADMIN_PASSWORD": self.admin_password,
            "IMAPWRIGHT_CONFIG": self.family.settings_text(self.options),
        }
        labels = self._labels
        try:
            self.container = engine.client().containers.run(
                self._image_id, detach=True, network_mode="host", environment=env, labels=labels,
                volumes={self.volume_name: {"bind": DATA, "mode": "rw"}},
                name=f"imapwright-{self.spec.family}-{self.spec.version}-{secrets.token_hex(3)}",
            )
        except docker.errors.APIError as exc:
            raise ServerError(f"{self.spec.name}: container did not start: {exc.explanation or exc}") from None
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll until the admin can log in; fail with the container's own output if it died."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.imap.host, self.imap.port), timeout=1):
                    pass
                client = imapclient.IMAPClient(self.imap.host, port=self.imap.port, ssl=False, timeout=5)
                try:
                    client.login(self.admin_user, self.admin_password)
                    return
                finally:
                    with contextlib.suppress(Exception):
                        client.logout()
            except (OSError, imapclient.exceptions.IMAPClientError) as exc:
                last = str(exc)
            self.container.reload()
            if self.container.status in ("exited", "dead"):
                tail = self.container.logs(tail=5).decode(errors="replace").strip().replace("\n", " | ")
                raise ServerError(f"{self.spec.name}: server exited during start-up: {tail}")
            time.sleep(0.03)
        raise ServerError(f"{self.spec.name}: no admin login within {timeout:.0f}s ({last})")

    def restart(self) -> None:
        self.close_shells()
        self.container.restart(timeout=10)
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL the whole server (crash test); `start()` brings it back on the same data."""
        self.close_shells()
        self.container.kill()
        self.container.wait(timeout=30)

    def start(self) -> None:
        self.container.start()
        self.wait_ready()

    def reconfigure(self, **options: object) -> None:
        """Restart with these settings changed (a value of None removes a setting); data is kept."""
        for key, value in options.items():
            if value is None:
                self.options.pop(key, None)
            else:
                self.options[key] = value
        self._remove_container()
        self._run_container()

    def _remove_container(self) -> None:
        self.close_shells()
        if self.container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self.container.remove(force=True)
            self.container = None

    def stop(self, keep_data: bool = False) -> None:
        """Remove the container (and its data volume unless kept).

        Found by the instance label, not only by reference: an interrupt can land between the
        engine creating a container and this object learning about it.
        """
        _live.discard(self)
        self._remove_container()
        kinds = ("container",) if keep_data else ("container", "volume")
        for item in sorted(engine.find([f"{engine.LABEL_INSTANCE}={self._labels[engine.LABEL_INSTANCE]}"], kinds),
                           key=lambda i: i.kind):  # containers before the volume they use
            engine.remove(item)
        for port in (self.imap.port, self.lmtp.port, self._sieve_port):
            ports.release(port)


def start_server(spec: ServerSpec, options: dict[str, object] | None = None,
                 imap_port: int | None = None, lmtp_port: int | None = None,
                 volume: str | None = None, progress=None, detached: bool = False) -> ManagedServer:
    """Build the image if needed, start a container and wait until an admin login works.

    A detached server outlives this process (`imapwright servers start`); others are removed at exit.
    """
    image = ensure_image(spec, progress) if progress else ensure_image(spec)
    family = FAMILIES[spec.family]
    imap = ports.check_free(imap_port) if imap_port else ports.free_port()
    lmtp = ports.check_free(lmtp_port) if lmtp_port else ports.free_port()
    volume_name = volume or f"imapwright-{spec.family}-{spec.version}-{secrets.token_hex(4)}"
    owner = "0" if detached else str(os.getpid())  # owner 0: kept until `servers stop`
    labels = {engine.LABEL_MANAGED: "1", engine.LABEL_OWNER_PID: owner, engine.LABEL_SERVER: spec.name,
              engine.LABEL_INSTANCE: secrets.token_hex(8)}
    server = ManagedServer(
        name=spec.name, family=family, version=image.labels.get(engine.LABEL_VERSION, spec.version),
        imap=Endpoint(ports.HOST, imap), lmtp=Endpoint(ports.HOST, lmtp),
        admin_user=family.admin_user, admin_password=secrets.token_urlsafe(18),
        features=family.features, owned=True,
    )
    server.spec, server.options, server.volume_name = spec, dict(options or {}), volume_name
    server._sieve_port = ports.free_port()
    server.sieve = Endpoint(ports.HOST, server._sieve_port)
    server._image_id, server._owner = image.id, owner
    server._labels = labels
    _live.add(server)
    try:
        try:
            engine.client().volumes.get(volume_name)
        except docker.errors.NotFound:
            engine.client().volumes.create(volume_name, labels=labels)
        server._run_container()
    except BaseException:
        server.stop()
        raise
    if detached:
        _live.discard(server)
    return server


def stop_all() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(stop_all)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune(stale_only: bool = False) -> tuple[int, int]:
    """Remove leftover containers and volumes; with stale_only, only those whose owner process died."""
    removed = {"container": 0, "volume": 0}
    for item in sorted(engine.find([engine.LABEL_MANAGED]), key=lambda i: i.kind):
        owner = int(item.labels.get(engine.LABEL_OWNER_PID, "0") or 0)
        if stale_only and (owner == 0 or _pid_alive(owner)):
            continue  # owner 0: a detached server, kept until `servers stop`
        if engine.remove(item):
            removed[item.kind] += 1
    return removed["container"], removed["volume"]


def stop_containers(names: list[str] | None) -> int:
    """Remove imapwright servers (all, or those of these catalogue or container names) with their volumes."""
    count = 0
    for item in engine.find([engine.LABEL_MANAGED], ("container",)):
        if names is not None and item.labels.get(engine.LABEL_SERVER) not in names and item.name not in names:
            continue
        instance = item.labels.get(engine.LABEL_INSTANCE)
        engine.remove(item)
        if instance:
            for volume in engine.find([f"{engine.LABEL_INSTANCE}={instance}"], ("volume",)):
                engine.remove(volume)
        count += 1
    return count
