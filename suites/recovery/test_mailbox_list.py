"""Disaster recovery of the Cyrus mailbox list: the book's checkpoints (Example 9-5) restored after
the live list was damaged, and the list rebuilt from the mailbox headers when no copy is left.
Each ends with the whole store equal to its snapshot from before the damage."""

import gzip

import pytest

from imapwright.admin import checkpoint
from imapwright.stores.store import populate
from imapwright.stores.snapshot import differences, snapshot
from imapwright.servers.faults import mailbox_list
from imapwright.protocol.imap import list_names

pytestmark = pytest.mark.requires("mailbox-list", "restart")


@pytest.fixture
def store(private_server, users):
    accounts = populate(private_server, [f"{users.prefix}{n}" for n in ("ann", "bob", "cy")])
    return private_server, accounts, snapshot(private_server, accounts)


def test_checkpoints_rotate_and_keep_the_newest_first(private_server, users, tmp_path):
    server = private_server
    server.create_user(f"{users.prefix}first", "pw-first-1")
    checkpoint.checkpoint(server, tmp_path, keep=3)
    server.create_user(f"{users.prefix}second", "pw-second-2")
    for _ in range(3):
        checkpoint.checkpoint(server, tmp_path, keep=3)
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["mailboxes.0.gz", "mailboxes.1.gz", "mailboxes.2.gz"]
    newest = gzip.decompress(checkpoint.checkpoints(tmp_path)[0].read_bytes())
    assert f"user.{users.prefix}second".encode() in newest
    assert not list(tmp_path.glob(".checkpoint.*"))  # no half-written copy left behind


@pytest.mark.parametrize("fault", sorted(mailbox_list.FAULTS))
def test_restoring_the_newest_checkpoint_brings_back_every_mailbox(store, tmp_path, fault):
    server, accounts, before = store
    newest = checkpoint.checkpoint(server, tmp_path)
    mailbox_list.FAULTS[fault](server)
    checkpoint.restore(server, newest)
    assert differences(before, snapshot(server, accounts)) == []


def test_a_lost_mailbox_list_is_rebuilt_from_the_mailbox_headers(store):
    server, accounts, before = store
    mailbox_list.delete(server)
    checkpoint.rebuild(server)
    assert differences(before, snapshot(server, accounts)) == []
    with server.admin_imap() as admin:
        assert len(list_names(admin, "user.*")) == len(accounts) * 4  # account + three folders each
