"""Leftovers of runs that died outright are found by their owner's pid and removed."""

import subprocess
import time

from imapwright.catalogue import DEFAULT_SERVER, lookup
from imapwright.servers import engine
from imapwright.servers.images import ensure_image
from imapwright.servers.managed import prune


def _labelled_container(owner: int):
    image = ensure_image(lookup(DEFAULT_SERVER))
    return engine.client().containers.run(
        image.id, entrypoint=["sleep", "120"], detach=True, network_mode="host",
        labels={engine.LABEL_MANAGED: "1", engine.LABEL_OWNER_PID: str(owner)})


def test_stale_prune_removes_dead_owners_containers_only():
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = _labelled_container(dead.pid)
    alive = _labelled_container(1)  # pid 1 never dies
    try:
        prune()
        # Another worker's start-up prune may be removing the orphan at the same moment: allow it
        # to finish.
        deadline = time.monotonic() + 10
        while orphan.name in (names := {c.name for c in engine.find([engine.LABEL_MANAGED], ("container",))}):
            assert time.monotonic() < deadline, "the dead owner's container is still there"
            time.sleep(0.2)
        assert alive.name in names
    finally:
        for c in (orphan, alive):
            try:
                c.remove(force=True)
            except Exception:
                pass
