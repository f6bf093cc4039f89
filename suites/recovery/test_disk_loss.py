"""Disk loss: back up a running server's data, destroy its container and volume, restore into a
fresh server, run the documented recovery; every mailbox, ACL, quota, subscription and message
(content, flags, date, UID) is as it was."""

import pytest

from imapwright.admin import backup
from imapwright.stores.store import populate
from imapwright.stores.snapshot import differences, snapshot
from imapwright.servers.managed import start_server

pytestmark = pytest.mark.requires("restart", "files")


def test_store_restored_into_a_fresh_server_is_unchanged(private_server, users, tmp_path, consistency):
    accounts = populate(private_server, [f"{users.prefix}{n}" for n in ("ann", "bob")])
    before = snapshot(private_server, accounts)
    archive = tmp_path / "store.tar"
    assert backup.backup(private_server, archive) > 0
    private_server.stop()  # container and volume gone: the disk is lost

    fresh = start_server(private_server.spec)
    try:
        backup.restore(fresh, archive)
        assert differences(before, snapshot(fresh, accounts)) == []
        assert consistency(fresh, accounts) == []
    finally:
        fresh.stop()
