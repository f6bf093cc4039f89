"""Removing a volume that dockerd takes longer than the client's read timeout to delete (a store
of a million message files): the harness waits for it to go instead of ending in a traceback."""

import docker.errors
import requests

from imapwright.servers import engine


class SlowAPI:
    """The engine's answers as recorded in the 1M large-mailbox run: the DELETE times out, and
    the volume is gone a while later."""

    def __init__(self):
        self.inspected = 0

    def remove_volume(self, name, force):
        raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=120)")

    def inspect_volume(self, name):
        self.inspected += 1
        if self.inspected < 3:
            return {"Name": name}
        raise docker.errors.NotFound("no such volume")


def test_a_volume_removal_that_outlasts_the_read_timeout_is_waited_for(monkeypatch):
    api = SlowAPI()
    monkeypatch.setattr(engine, "client", lambda: type("Client", (), {"api": api})())
    monkeypatch.setattr("time.sleep", lambda _s: None)
    item = engine.Found("volume", "v1", "imapwright-data-x", {})
    assert engine.remove(item) is True
    assert api.inspected == 3
