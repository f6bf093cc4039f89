"""The docker engine connection and the labels imapwright puts on what it creates."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import docker
import docker.errors
import requests  # docker's own transport

from ..errors import UserError

LABEL_MANAGED = "imapwright.managed"  # on every container and volume the harness creates
LABEL_OWNER_PID = "imapwright.owner-pid"  # process that started it, to find leftovers of dead runs
LABEL_SERVER = "imapwright.server"  # catalogue name, e.g. cyrus:3.6
LABEL_VERSION = "imapwright.server-version"  # version as the server reports it
LABEL_CONTEXT = "imapwright.context-hash"  # hash of the build context: rebuild when it changes


@functools.cache
def client() -> docker.DockerClient:
    try:
        c = docker.from_env(timeout=120)
        c.ping()
    except docker.errors.DockerException as exc:
        hint = _no_engine_hint()
        raise UserError(hint if "install one" in hint else f"{hint}: " + str(exc).splitlines()[0][:200]) from None
    return c


def _no_engine_hint() -> str:
    """What to do about a missing engine: install one, start it, or name where it is."""
    import os
    import shutil

    where = f" at DOCKER_HOST={os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST") else ""
    if not shutil.which("dockerd") and not shutil.which("docker"):
        return (f"this command needs a docker engine; none answers{where} and this machine has none: install one "
                "(Debian, as root: `imapwright setup --install-engine`, or apt-get install docker.io) or set "
                "DOCKER_HOST; commands against a --target work without it")
    return f"no docker engine answers{where} (is dockerd running? as root `imapwright setup` starts it)"


LABEL_INSTANCE = "imapwright.instance"  # one managed server: its container(s) and volume


@dataclass(frozen=True)
class Found:
    """A container or volume as listed by the engine (no per-item inspect that could race)."""

    kind: str  # "container" or "volume"
    id: str
    name: str
    labels: dict[str, str]


def find(label_filters: list[str], kinds: tuple[str, ...] = ("container", "volume")) -> list[Found]:
    """Containers (running or not) and volumes carrying all these labels ("key" or "key=value").

    Listing in one call per kind: other workers remove containers concurrently, and the SDK's
    `containers.list()` inspects each one afterwards, failing on any removed in between.
    """
    api = client().api
    found: list[Found] = []
    if "container" in kinds:
        for c in api.containers(all=True, filters={"label": label_filters}):
            found.append(Found("container", c["Id"], (c.get("Names") or ["/"])[0].lstrip("/"), c.get("Labels") or {}))
    if "volume" in kinds:
        for v in api.volumes(filters={"label": label_filters}).get("Volumes") or []:
            found.append(Found("volume", v["Name"], v["Name"], v.get("Labels") or {}))
    return found


def users_of_volume(name: str) -> list[str]:
    """Names of the containers (running or not) that mount this volume."""
    return [(c.get("Names") or ["/?"])[0].lstrip("/")
            for c in client().api.containers(all=True, filters={"volume": name})]


REMOVAL_WAIT = 3600.0  # seconds to wait for dockerd to finish removing a large volume


def _wait_removed(api, item: Found) -> bool:
    import time

    from ..progress import console

    console.print(f"waiting for docker to finish removing {item.kind} {item.name} (a large store takes minutes)",
                  markup=False, highlight=False)
    deadline = time.monotonic() + REMOVAL_WAIT
    while time.monotonic() < deadline:
        time.sleep(2)
        try:
            (api.inspect_container if item.kind == "container" else api.inspect_volume)(item.id)
        except docker.errors.NotFound:
            return True
        except requests.exceptions.RequestException:  # dockerd busy with the removal: ask again
            continue
    raise UserError(f"docker has not removed {item.kind} {item.name} after {REMOVAL_WAIT:.0f} s; "
                    f"it may go on in the background (`docker {item.kind} ls`)")


def remove(item: Found, in_use_wait: float = 10.0) -> bool:
    """Remove a container (forcibly) or volume; False if it was already gone.

    A volume whose container another process is removing at this moment (a second run's prune,
    a test's own cleanup) is "in use" for a moment: wait for that up to `in_use_wait` seconds.
    """
    import time

    api = client().api
    deadline = time.monotonic() + in_use_wait
    while True:
        try:
            if item.kind == "container":
                api.remove_container(item.id, force=True, v=False)
            else:
                api.remove_volume(item.id, force=True)
            return True
        except requests.exceptions.ReadTimeout:
            # dockerd goes on removing: a store of a million message files takes minutes (the
            # 1M large-mailbox run ended in a traceback here, its results already written)
            return _wait_removed(api, item)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            if "is already in progress" in str(exc) or "No such" in str(exc):
                return False
            if item.kind == "volume" and "in use" in str(exc) and time.monotonic() < deadline:
                time.sleep(0.25)
                continue
            raise
