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


def test_prune_leaves_a_volume_a_live_container_mounts_even_if_its_creator_died():
    """An upgrade's second server mounts the volume the first one made; a volume labelled with a
    dead owner but still mounted is data in use, not a leftover (CI once lost a whole worker's
    servers to "volume is in use" raised from another worker's start-up prune)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    client = engine.client()
    volume = client.volumes.create(labels={engine.LABEL_MANAGED: "1", engine.LABEL_OWNER_PID: str(dead.pid)})
    image = ensure_image(lookup(DEFAULT_SERVER))
    user = client.containers.run(image.id, entrypoint=["sleep", "120"], detach=True, network_mode="host",
                                 volumes={volume.name: {"bind": "/data", "mode": "rw"}},
                                 labels={engine.LABEL_MANAGED: "1", engine.LABEL_OWNER_PID: "1"})
    try:
        prune()  # must not raise
        assert volume.name in {v.name for v in client.volumes.list()}
        assert user.name in {c.name for c in engine.find([engine.LABEL_MANAGED], ("container",))}
    finally:
        user.remove(force=True)
        volume.remove(force=True)
