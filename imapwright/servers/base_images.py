"""Debian base images: the official image where it can be had, else built locally with debootstrap.

The source is a setting (IMAPWRIGHT_BASE_SOURCE):
  auto         an official debian:RELEASE already in the engine, else debootstrap if installed,
               else pull the official image
  official     pull debian:RELEASE (fails fast when no registry answers)
  debootstrap  always build imapwright/base:RELEASE with debootstrap and `docker import`
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable

import docker.errors

from ..errors import ServerError, UserError
from . import engine

MIRROR = os.environ.get("IMAPWRIGHT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SOURCES = ("auto", "official", "debootstrap")
# Releases older debootstrap packages have no script for are built with the unstable script.
_SCRIPT_FALLBACK = "sid"


def source_setting() -> str:
    value = os.environ.get("IMAPWRIGHT_BASE_SOURCE", "auto")
    if value not in SOURCES:
        raise UserError(f"IMAPWRIGHT_BASE_SOURCE={value!r}: expected one of {', '.join(SOURCES)}")
    return value


def local_tag(release: str) -> str:
    return f"imapwright/base:{release}"


def _have(tag: str) -> bool:
    try:
        engine.client().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_base(release: str, say: Callable[[str], None] = lambda _: None) -> str:
    """Return the tag of a usable Debian base image for `release`, making it if needed."""
    # Parallel builds of two servers on one release (cyrus:3.6, dovecot:2.3) make the base once.
    with open(f"/tmp/imapwright-base-{release}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_base(release, say)


def _ensure_base(release: str, say: Callable[[str], None]) -> str:
    source = source_setting()
    official = f"debian:{release}"
    if source == "auto":
        if _have(official):
            return official
        if _have(local_tag(release)):
            return local_tag(release)
        source = "debootstrap" if shutil.which("debootstrap") else "official"
    if source == "official":
        if not _have(official):
            say(f"pulling {official}")
            try:
                engine.client().images.pull("debian", tag=release)
            except docker.errors.APIError as exc:
                raise ServerError(
                    f"cannot pull {official} ({exc.explanation or exc}); "
                    "set IMAPWRIGHT_BASE_SOURCE=debootstrap to build the base locally"
                ) from None
        return official
    if not _have(local_tag(release)):
        debootstrap_base(release, say)
    return local_tag(release)


def debootstrap_base(release: str, say: Callable[[str], None]) -> str:
    if not shutil.which("debootstrap"):
        raise ServerError("debootstrap is not installed (apt-get install debootstrap), and no base image for "
                          f"{release} is available")
    if os.geteuid() != 0:
        raise ServerError("building a base image with debootstrap needs root")
    script = f"/usr/share/debootstrap/scripts/{release}"
    extra = [] if os.path.exists(script) else [f"/usr/share/debootstrap/scripts/{_SCRIPT_FALLBACK}"]
    with tempfile.TemporaryDirectory(prefix="imapwright-rootfs-", dir="/var/tmp") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        cmd = ["debootstrap", "--variant=minbase", release, rootfs, MIRROR, *extra]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list[str] = []
        assert proc.stdout
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-8:]
            say(f"debootstrap {release}: {line.strip()[:80]}")
        if proc.wait() != 0:
            raise ServerError(f"debootstrap {release} failed: " + " | ".join(tail[-3:]))
        # Caches are not part of the image: apt-get update runs in each server build.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(os.path.join(rootfs, junk), ignore_errors=True)
            os.makedirs(os.path.join(rootfs, junk), exist_ok=True)
        tarball = os.path.join(tmp, "rootfs.tar")
        subprocess.run(["tar", "-C", rootfs, "-cf", tarball, "."], check=True)
        say(f"importing {local_tag(release)}")
        repo, tag = local_tag(release).split(":")
        engine.client().api.import_image_from_file(tarball, repository=repo, tag=tag)
    return local_tag(release)
