"""`servers stop` stops what `servers start` started, nothing else: another run's live server is
refused (unless --force), unknown names fail, and a run's liveness is judged by its lease where
its pid means nothing here (imapwright in another container sharing the docker socket)."""

import subprocess
import time

from imapwright.catalogue import lookup
from imapwright.servers import engine, ownership
from imapwright.servers.managed import start_server


def _cli(*args):
    return subprocess.run(["imapwright", *args], capture_output=True, text=True, timeout=300)


def _names(server: str) -> set[str]:
    return {c.name for c in engine.find([f"{engine.LABEL_SERVER}={server}"], ("container",))}


def test_stop_by_catalogue_name_leaves_other_runs_alone(tmp_path):
    mine = start_server(lookup("cyrus:3.6"))  # this process's run: owned, alive
    try:
        started = _cli("servers", "start", "cyrus:3.6", "--password-file", str(tmp_path / "pw"))
        assert started.returncode == 0, started.stderr
        detached = started.stdout.split("container=")[1].split()[0]
        # By catalogue name, unless somebody's own `servers start` cyrus:3.6 runs here too (a
        # developer's machine): a test must not stop that.
        others = [c for c in engine.find([f"{engine.LABEL_SERVER}=cyrus:3.6"], ("container",))
                  if ownership.is_detached(c) and c.name != detached]
        stopped = _cli("servers", "stop", detached if others else "cyrus:3.6")
        assert stopped.returncode == 0, stopped.stderr
        assert f"stopped {detached}" in stopped.stdout
        names = _names("cyrus:3.6")
        assert detached not in names and mine.container.name in names
        assert engine.find([f"{engine.LABEL_INSTANCE}={mine.instance}"], ("volume",))
        refused = _cli("servers", "stop", mine.container.name)
        assert refused.returncode != 0
        assert "belongs to a running imapwright run" in refused.stderr and "--force" in refused.stderr
        assert mine.container.name in _names("cyrus:3.6")
        unknown = _cli("servers", "stop", "nosuch")
        assert unknown.returncode != 0 and "no server 'nosuch' started by `servers start`" in unknown.stderr
    finally:
        mine.stop()


def test_owner_in_another_pid_namespace_is_judged_by_its_lease(monkeypatch):
    """As seen from another namespace, a run that keeps its lease is alive; one whose lease went
    stale is not (its pid could be anybody's here)."""
    server = start_server(lookup("cyrus:3.6"))
    try:
        (item,) = [c for c in engine.find([f"{engine.LABEL_INSTANCE}={server.instance}"],
                                          ("container",))]
        assert ownership.owner_alive(item)  # our own namespace: the pid says so
        monkeypatch.setattr(ownership, "namespace", lambda: "another-machine/pid:[1]")
        assert ownership.owner_alive(item)  # the lease was renewed at start
        ownership.release(server.container)  # the heartbeat stops, as if the owner died
        server.exec(["touch", "-d", "@%d" % (time.time() - 120), ownership.LEASE_FILE], user="root")
        assert not ownership.owner_alive(item)
    finally:
        server.stop()


def test_pid_in_our_namespace_decides():
    dead = subprocess.Popen(["true"])
    dead.wait()
    for pid, alive in ((1, True), (dead.pid, False)):
        item = engine.Found("container", "x", "x", {engine.LABEL_OWNER_PID: str(pid),
                                                    ownership.LABEL_NAMESPACE: ownership.namespace()})
        assert ownership.owner_alive(item) is alive
