"""Servers the harness starts: a container on free loopback ports with its data in a docker volume."""

from __future__ import annotations

import atexit
import contextlib
import io
import secrets
import os
import tarfile
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import docker.errors
import imapclient

from ..catalogue import ServerSpec
from ..errors import ServerError
from . import contract, engine, logs, ownership, ports, tls
from .families import DATA, FAMILIES, spec_features
from .handle import Endpoint, ServerHandle
from .images import ensure_image

READY_TIMEOUT = 60.0
REFUSED_AFTER = 15.0  # seconds of NO to the admin's LOGIN from a running server before giving up
FATAL_AFTER = 8.0  # seconds without a login, with a fatal line logged, before a start is given up
_live: set[ManagedServer] = set()  # stopped at exit, whatever ended the run


@dataclass(eq=False)
class ManagedServer(ServerHandle):
    """Created by `start_server`; owns its container and data volume until `stop()`. Every field a
    constructor argument (defaults only because the handle's own fields have them)."""

    spec: ServerSpec | None = None
    options: dict[str, object] = field(default_factory=dict)
    volume_name: str = ""
    image_id: str = ""
    sieve_port: int = 0
    sync_port: int = 0  # a replica's sync_server (Cyrus replication); 0: none
    rolling_sync: bool = False  # a master's rolling sync_client, run by the server's own master
    owner: str = ""  # owner-pid label: this process, or "0" for a detached server
    labels: dict[str, str] = field(default_factory=dict)  # on its container and volume; the
    # instance label finds both at stop()

    @property
    def instance(self) -> str:
        return self.labels[engine.LABEL_INSTANCE]

    @property
    def build(self) -> str:
        """The exact build under test: image name and id (what a gate's result is tied to)."""
        return f"{self.spec.image_tag} {self.image_id}"

    # -- lifecycle ----------------------------------------------------------------------------
    def _run_container(self) -> None:
        env = {
            "IMAP_PORT": str(self.imap.port),
            "LMTP_PORT": str(self.lmtp.port),
            "SIEVE_PORT": str(self.sieve_port),
            "SYNC_PORT": str(self.sync_port),
            "SYNC_CLIENT": "1" if self.rolling_sync else "0",
            "ADMIN_PASSWORD": self.admin_password,
            "IMAPWRIGHT_CONFIG": self.family.settings_text(self.options),
        }
        if self.imaps is not None:  # a certificate from the run's CA, fresh for each container
            credentials = tls.run_ca().issue(self.imaps.host)
            env.update({"IMAPS_PORT": str(self.imaps.port), "IMAPWRIGHT_TLS_CERT": credentials.cert_pem,
                        "IMAPWRIGHT_TLS_KEY": credentials.key_pem})
        labels = self.labels
        try:
            self.container = engine.client().containers.run(
                self.image_id, detach=True, network_mode="host", environment=env, labels=labels,
                volumes={self.volume_name: {"bind": DATA, "mode": "rw"}},
                name=f"imapwright-{self.spec.family}-{self.spec.version}-{secrets.token_hex(3)}",
            )
        except docker.errors.APIError as exc:
            raise ServerError(f"{self.spec.name}: container did not start: {exc.explanation or exc}") from None
        if self.owner != "0":  # a run's server: its lease tells other processes the run is alive
            ownership.hold(self.container)
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll until the admin can log in; fail with the container's own output if it died."""
        started = time.monotonic()
        deadline = started + timeout
        last = ""
        refused_since = 0.0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.imap.host, self.imap.port), timeout=1):
                    pass
                # Over IMAPS where the server has TLS: a start with plaintext logins refused (the
                # book's policy, suites/tls) must still come up, STARTTLS offered or not.
                client = self.imap_client(timeout=5, tls="imaps" if self.imaps else "")
                try:
                    client.login(self.admin_user, self.admin_password)
                    return
                finally:
                    with contextlib.suppress(Exception):
                        client.logout()
            except imapclient.exceptions.LoginError as exc:
                last = str(exc)
                refused_since = refused_since or time.monotonic()
                if time.monotonic() - refused_since > REFUSED_AFTER:
                    # The server runs and answers NO: the password it was given is not the admin's.
                    raise ServerError(f"{self.spec.name}: the running server refuses the admin's login "
                                      f"({last}): {self._last_words()}") from None
            except (OSError, imapclient.exceptions.IMAPClientError) as exc:
                last = str(exc)
            self.container.reload()
            if self.container.status in ("exited", "dead"):
                raise ServerError(f"{self.spec.name}: server exited during start-up: {self._last_words()}")
            if time.monotonic() - started > FATAL_AFTER and self._fatal_logged():
                # The master lives on while every service dies at start: no use waiting a minute.
                raise ServerError(f"{self.spec.name}: server cannot start: {self._last_words()}")
            time.sleep(0.03)
        raise ServerError(f"{self.spec.name}: no admin login within {timeout:.0f}s ({last}): {self._last_words()}")

    def _fatal_logged(self) -> bool:
        res = self.container.exec_run(["grep", "-q", "-E", "Fatal error|Fatal: ", logs.LOG_FILE], user="root")
        return res.exit_code == 0

    def _last_words(self, count: int = 6) -> str:
        """The last lines a dead container wrote: its output, and its syslog file (Cyrus's master
        logs only there), read from the stopped container's file system."""
        lines = self.container.logs(tail=count).decode(errors="replace").strip().splitlines()
        with contextlib.suppress(docker.errors.APIError, KeyError, tarfile.TarError):
            stream, _ = self.container.get_archive(logs.LOG_FILE)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.extractfile(tar.getmembers()[0])
                text = member.read().decode(errors="replace") if member else ""
            lines += [f"{line.program}: {line.message}" for line in logs.parse(text)
                      if line.program != "imapwright"][-count:]
        return " | ".join(line.strip() for line in lines if line.strip()) or "(no output, no log lines)"

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
            ownership.release(self.container)
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
        for item in sorted(engine.find([f"{engine.LABEL_INSTANCE}={self.labels[engine.LABEL_INSTANCE]}"], kinds),
                           key=lambda i: i.kind):  # containers before the volume they use
            engine.remove(item)
        for port in (self.imap.port, self.lmtp.port, self.sieve_port, self.sync_port, self.imaps.port if self.imaps else 0):
            ports.release(port)


def start_server(spec: ServerSpec, options: dict[str, object] | None = None,
                 imap_port: int | None = None, lmtp_port: int | None = None,
                 volume: str | None = None, progress=None, detached: bool = False,
                 prepare: Callable[[ManagedServer], None] | None = None, replica: bool = False) -> ManagedServer:
    """Build the image if needed, start a container and wait until an admin login works.

    A detached server outlives this process (`imapwright servers start`); others are removed at exit.
    `prepare(server)`: called once its volume exists, before the container runs (e.g. to fill the
    volume with an admin's backup: `fill_volume`). `replica`: it also listens for a master's
    replication (Cyrus sync_server, on `sync_port`).
    """
    image = ensure_image(spec, progress) if progress else ensure_image(spec)
    family = FAMILIES[spec.family]
    version, version_source = image.labels.get(engine.LABEL_VERSION) or spec.version, "image"
    if spec.image:  # a user's own image: its contract checked before it runs
        broken = contract.image_problems(spec)
        if broken:
            raise contract.ContractError(spec.image, broken)
        if not image.labels.get(engine.LABEL_VERSION):
            version, version_source = contract.tool_version(spec) or spec.version, "exec"
    imap = ports.check_free(imap_port) if imap_port else ports.free_port()
    lmtp = ports.check_free(lmtp_port) if lmtp_port else ports.free_port()
    volume_name = volume or f"imapwright-{spec.family}-{spec.version}-{secrets.token_hex(4)}"
    owned_by = ownership.labels(detached)  # owner pid 0: kept until `servers stop`
    owner = owned_by[engine.LABEL_OWNER_PID]
    labels = {engine.LABEL_MANAGED: "1", engine.LABEL_SERVER: spec.name, engine.LABEL_INSTANCE: secrets.token_hex(8),
              **owned_by}
    sieve_port = ports.free_port()
    imaps = Endpoint(ports.HOST, ports.free_port()) if "tls" in spec_features(spec) else None
    server = ManagedServer(
        name=spec.name, family=family, version=version, version_source=version_source,
        imap=Endpoint(ports.HOST, imap), lmtp=Endpoint(ports.HOST, lmtp),
        admin_user=family.admin_user, admin_password=secrets.token_urlsafe(18),
        features=spec_features(spec), owned=True, sieve=Endpoint(ports.HOST, sieve_port),
        imaps=imaps,
        spec=spec, options=dict(options or {}), volume_name=volume_name, image_id=image.id, sieve_port=sieve_port,
        sync_port=ports.free_port() if replica else 0, owner=owner, labels=labels,
    )
    _live.add(server)
    try:
        try:
            engine.client().volumes.get(volume_name)
        except docker.errors.NotFound:
            engine.client().volumes.create(volume_name, labels=labels)
        if prepare is not None:
            prepare(server)
        try:
            server._run_container()
        except ServerError:
            broken = contract.running_problems(server) if spec.image else []
            if broken:
                raise contract.ContractError(spec.image, broken) from None
            raise
        broken = contract.running_problems(server) if spec.image else []
        if broken:
            raise contract.ContractError(spec.image, broken)
    except BaseException:
        server.stop()
        raise
    if detached:
        _live.discard(server)
    return server


def fill_volume(server: ManagedServer, write: Callable[[BinaryIO], object], after: str = "") -> None:
    """Write a tar stream (`write(out)` produces it) into the server's volume at its data root,
    through a container of its image that never runs (labelled as the server: an interrupted fill
    is removed with it). The stream goes through a pipe: a store larger than memory is fine."""
    helper = engine.client().containers.create(
        server.image_id, entrypoint=["true"], network_mode="host", labels=server.labels,
        volumes={server.volume_name: {"bind": DATA, "mode": "rw"}})
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as out:
                write(out)
        except BaseException as exc:  # reported by the caller's thread, after the upload ends
            failure.append(exc)

    def chunks(source: BinaryIO):
        while block := source.read(1 << 20):
            yield block

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb") as source:
            helper.put_archive(DATA, chunks(source))
    except docker.errors.APIError as exc:
        producer.join()
        if failure:  # the stream broke off: its reason, not the engine's view of a short archive
            raise failure[0] from None
        raise ServerError(f"{server.spec.name}: the data could not be written into its volume: "
                          f"{exc.explanation or exc}") from None
    finally:
        producer.join()
        with contextlib.suppress(docker.errors.APIError):
            helper.remove(force=True)
    if failure:
        raise failure[0]
    if after:  # e.g. ownership of what was copied, by the image's own user names
        helper_run = engine.client().containers.create(
            server.image_id, entrypoint=["sh", "-c", after], network_mode="host", labels=server.labels,
            volumes={server.volume_name: {"bind": DATA, "mode": "rw"}})
        try:
            helper_run.start()
            status = helper_run.wait(timeout=600)
            if status.get("StatusCode") != 0:
                raise ServerError(f"{server.spec.name}: preparing the copied data failed: "
                                  f"{helper_run.logs().decode(errors='replace').strip()[-500:]}")
        finally:
            with contextlib.suppress(docker.errors.APIError):
                helper_run.remove(force=True)


def stop_all() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(stop_all)


def prune(detached: bool = False) -> tuple[int, int]:
    """Remove what runs that died left behind (their owner is gone); with `detached`, also the
    servers of `servers start`. A live run's containers are never touched."""
    removed = {"container": 0, "volume": 0}
    for item in sorted(engine.find([engine.LABEL_MANAGED]), key=lambda i: i.kind):  # containers first
        if ownership.is_detached(item):
            if not detached:
                continue
        elif ownership.owner_alive(item):
            continue
        # A volume is data: one that a container still mounts (a live run's upgrade reuses the
        # volume an earlier server made) is not a leftover, whoever created it.
        if item.kind == "volume" and engine.users_of_volume(item.id):
            continue
        try:
            if engine.remove(item):
                removed[item.kind] += 1
        except docker.errors.APIError as exc:  # taken into use since it was listed: not a leftover
            if "in use" not in str(exc):
                raise
    return removed["container"], removed["volume"]


def stop_containers(names: list[str] | None, force: bool = False) -> list[str]:
    """Remove servers started by `servers start` with their volumes: all (names None), those of a
    catalogue name, or containers named. A run's server is removed only by its container name and
    with `force` while the run lives; a name that matches nothing to stop is an error."""
    found = engine.find([engine.LABEL_MANAGED], ("container",))
    detached = [i for i in found if ownership.is_detached(i)]
    chosen: list[engine.Found] = detached if names is None else []
    for name in names or []:
        by_catalogue = [i for i in detached if i.labels.get(engine.LABEL_SERVER) == name]
        by_name = [i for i in found if i.name == name]
        if by_catalogue or (by_name and ownership.is_detached(by_name[0])):
            chosen += by_catalogue + by_name
            continue
        if by_name:  # a run's server, named by its container
            item = by_name[0]
            if not ownership.owner_alive(item):
                raise ServerError(f"{name} was left by a run that died; `imapwright servers prune` removes it")
            if not force:
                raise ServerError(f"{name} belongs to a running imapwright run "
                                  f"({item.labels.get(ownership.LABEL_STARTED_BY, 'owner unknown')}); "
                                  "pass --force to remove it anyway")
            chosen.append(item)
            continue
        running = sorted(f"{i.labels.get(engine.LABEL_SERVER, '?')} ({i.name})" for i in detached)
        raise ServerError(f"no server {name!r} started by `servers start`"
                          + (f"; running: {', '.join(running)}" if running else "; none is running"))
    removed = []
    for item in {i.id: i for i in chosen}.values():
        instance = item.labels.get(engine.LABEL_INSTANCE)
        engine.remove(item)
        if instance:
            for volume in engine.find([f"{engine.LABEL_INSTANCE}={instance}"], ("volume",)):
                engine.remove(volume)
        removed.append(item.name)
    return removed
