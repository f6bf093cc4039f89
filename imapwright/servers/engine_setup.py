"""Setting a machine up for servers the harness starts itself: a docker engine (installed from
Debian's docker.io and started without a bridge, as ../README says) and debootstrap for local base
images. Commands against a --target need none of this."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import UserError

DOCKERD_LOG = Path("/var/log/imapwright-dockerd.log")
# No systemd here: the engine is started by hand, without a bridge (servers use host networking).
DOCKERD = ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
           "--ip-masq=false", "--storage-driver=overlay2"]


def engine_answers() -> bool:
    try:
        from . import engine

        engine.client.cache_clear()
        engine.client()
        return True
    except (UserError, ImportError):
        return False


def missing_packages() -> list[str]:
    """Debian packages the engine and local base images need that this machine lacks."""
    return [package for tool, package in (("dockerd", "docker.io"), ("debootstrap", "debootstrap"))
            if not shutil.which(tool)]


def install(packages: list[str], say: Callable[[str], None]) -> None:
    if not packages:
        return
    if os.geteuid() != 0:
        raise UserError(f"installing {', '.join(packages)} needs root (run `imapwright setup --install-engine` as root, "
                        f"or apt-get install {' '.join(packages)} yourself)")
    if not shutil.which("apt-get"):
        raise UserError(f"no apt-get here: install {', '.join(packages)} with this system's package manager")
    say(f"installing {', '.join(packages)} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(f"{' '.join(cmd[:2])} failed: {last}")


def start_engine(say: Callable[[str], None], wait: float = 30) -> None:
    """Start dockerd in a session of its own (a Ctrl-C meant for this command must not take the
    engine down with it) and wait until it answers."""
    if os.geteuid() != 0:
        raise UserError("starting dockerd needs root (or start your engine yourself and set DOCKER_HOST)")
    if not shutil.which("dockerd"):
        raise UserError("dockerd is not installed: `imapwright setup --install-engine` installs docker.io")
    say(f"starting dockerd (log: {DOCKERD_LOG})")
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(DOCKERD, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(0.5)
    raise UserError(f"dockerd did not come up within {wait:.0f} s; see {DOCKERD_LOG}")
