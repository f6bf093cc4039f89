"""The lease heartbeat (servers/ownership.py): once release() returns, no renewal touches that
container again, even one the heartbeat had already picked (a renewal landing after a release
kept a dead run's containers alive in another namespace's eyes)."""

import threading
import time

from imapwright.servers import ownership


class SlowContainer:
    """Records when each renewal starts and ends; each takes a while, like a docker exec under load."""

    def __init__(self, name: str):
        self.id = name
        self.renewals: list[tuple[float, float]] = []
        self.started = threading.Event()

    def exec_run(self, cmd, user=None):
        began = time.monotonic()
        self.started.set()
        time.sleep(0.3)
        self.renewals.append((began, time.monotonic()))


def test_no_renewal_after_release_returns(monkeypatch):
    monkeypatch.setattr(ownership, "HEARTBEAT", 0.01)
    monkeypatch.setattr(ownership, "_containers", {})
    monkeypatch.setattr(ownership, "_thread", None)
    first, second = SlowContainer("first"), SlowContainer("second")
    ownership.hold(first)
    ownership.hold(second)
    try:
        for container in (first, second):
            container.renewals.clear()
            container.started.clear()
        assert second.started.wait(5)  # the beat is renewing: the second one's turn came
        first.started.clear()
        assert first.started.wait(5)  # the beat is inside the first container's renewal now
        ownership.release(first)
        released = time.monotonic()
        time.sleep(0.8)  # several beats
        assert first.renewals and all(began < released for began, _ in first.renewals), first.renewals
        assert all(ended <= released for _, ended in first.renewals)  # the one in flight was waited for
        assert any(began > released for began, _ in second.renewals)  # the other one is still held
    finally:
        ownership.release(first)
        ownership.release(second)
