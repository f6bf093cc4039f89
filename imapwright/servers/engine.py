"""The docker engine connection and the labels imapwright puts on what it creates."""

from __future__ import annotations

import functools

import docker
import docker.errors

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
        raise UserError(
            "no docker engine answers (is dockerd running? see README: 'Setting up'): "
            + str(exc).splitlines()[0][:200]
        ) from None
    return c
