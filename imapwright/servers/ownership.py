"""Who started a server container, and whether that owner is still alive.

A run's containers carry the owner's pid and the pid namespace it lives in. Where the namespace is
ours, the pid answers whether the owner lives. Where it is not (imapwright inside a container that
shares the docker socket, or another machine using the same engine), pids mean nothing here: the
owner keeps a lease instead, a file inside each of its containers that a heartbeat touches every
few seconds; a lease older than LEASE_STALE seconds means the owner is gone.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import threading
import time
from datetime import UTC, datetime

import docker.errors

from . import engine

LABEL_NAMESPACE = "imapwright.owner-namespace"  # boot id and pid namespace of the owner process
LABEL_DETACHED = "imapwright.detached"  # "1": started by `servers start`, kept until `servers stop`
LABEL_STARTED_BY = "imapwright.started-by"  # user@host, pid and time: for people reading `servers list`
LEASE_FILE = "/tmp/imapwright-owner-lease"
HEARTBEAT = 10.0  # seconds between lease renewals
LEASE_STALE = 60.0  # a lease this old means its owner died


def namespace() -> str:
    try:
        boot = open("/proc/sys/kernel/random/boot_id").read().strip()
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        return "unknown"
    return f"{boot}/{pidns}"


def labels(detached: bool) -> dict[str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (containers)
        user = str(os.getuid())
    return {engine.LABEL_OWNER_PID: "0" if detached else str(os.getpid()), LABEL_NAMESPACE: namespace(),
            LABEL_DETACHED: "1" if detached else "0",
            LABEL_STARTED_BY: f"{user}@{socket.gethostname()} pid {os.getpid()} at "
                              f"{datetime.now(UTC).isoformat(timespec='seconds')}"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lease_age(container_id: str) -> float | None:
    """Seconds since the owner last renewed its lease in this container; None when unreadable."""
    api = engine.client().api
    try:
        exec_id = api.exec_create(container_id, ["sh", "-c", f"echo $(( $(date +%s) - $(stat -c %Y {LEASE_FILE}) ))"],
                                  user="root")
        out = api.exec_start(exec_id).decode(errors="replace").strip()
        return float(out)
    except (docker.errors.APIError, ValueError):
        return None


def _age(timestamp: str) -> float:
    """Seconds since a docker timestamp ("2026-12-02T21:00:27.086033123Z")."""
    try:
        when = datetime.fromisoformat(timestamp[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - when).total_seconds()


def owner_alive(item: engine.Found) -> bool:
    """Whether the process that started this run-owned container or volume still runs."""
    pid = int(item.labels.get(engine.LABEL_OWNER_PID, "0") or 0)
    if item.labels.get(LABEL_NAMESPACE, namespace()) == namespace():
        return _pid_alive(pid)
    api = engine.client().api
    if item.kind == "container":
        age = _lease_age(item.id)
        if age is not None:
            return age < LEASE_STALE
        try:  # not running (a kill or restart test, or dead): alive while recently changed
            state = api.inspect_container(item.id)["State"]
        except docker.errors.NotFound:
            return False
        return _age(state.get("FinishedAt") or state.get("StartedAt") or "") < LEASE_STALE
    instance = item.labels.get(engine.LABEL_INSTANCE)
    containers = engine.find([f"{engine.LABEL_INSTANCE}={instance}"], ("container",)) if instance else []
    if containers:
        return any(owner_alive(c) for c in containers)
    try:
        created = api.inspect_volume(item.id).get("CreatedAt", "")
    except docker.errors.NotFound:
        return False
    return _age(created) < LEASE_STALE  # between a reconfigure's remove and run


def is_detached(item: engine.Found) -> bool:
    return item.labels.get(LABEL_DETACHED) == "1" or item.labels.get(engine.LABEL_OWNER_PID) == "0"


# -- the heartbeat that keeps this process's leases fresh -------------------------------------------
_containers: dict[str, object] = {}  # container id -> docker Container, for renewal
_lock = threading.Lock()
_thread: threading.Thread | None = None


def renew(container) -> None:
    with contextlib.suppress(docker.errors.APIError):
        container.exec_run(["touch", LEASE_FILE], user="root")


def hold(container) -> None:
    """Keep a lease on this container while this process lives."""
    global _thread
    renew(container)
    with _lock:
        _containers[container.id] = container
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_beat, name="imapwright-lease", daemon=True)
            _thread.start()


def release(container) -> None:
    """Stop renewing this container's lease; once this returns, no renewal touches it (one in
    flight is waited for: CI 2026-12-07 saw a renewal land after the release, a lease made stale
    by hand fresh again)."""
    with _renewing, _lock:  # in _beat's order
        _containers.pop(getattr(container, "id", None), None)


_renewing = threading.Lock()  # held while a renewal runs; release waits for it


def _beat() -> None:
    while True:
        time.sleep(HEARTBEAT)
        with _lock:
            held = list(_containers)
        for container_id in held:
            with _renewing:
                with _lock:
                    container = _containers.get(container_id)
                if container is not None:  # released since the list was taken: not renewed
                    renew(container)
