"""createmailbox on partitions and deletemailbox of a hierarchy, checked on disk by the server's tools."""

import pytest

from imapwright.admin.mailboxes import create_mailbox, delete_mailbox
from imapwright.protocol.imap import command, list_names, quote

SECOND = "second"  # the images' second partition


def _under(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip("/") + "/")


@pytest.mark.requires("partitions")
def test_create_goes_to_default_partition(server, users, admin_imap):
    user = users.create()
    create_mailbox(admin_imap, f"{user.mailbox}.plain")
    assert _under(server.mailbox_path(f"{user.mailbox}.plain"), server.partitions()["default"])


@pytest.mark.requires("partitions")
def test_create_on_named_partition(server, users, admin_imap):
    user = users.create()
    create_mailbox(admin_imap, f"{user.mailbox}.archive", partition=SECOND)
    assert _under(server.mailbox_path(f"{user.mailbox}.archive"), server.partitions()[SECOND])


@pytest.mark.requires("partitions")
def test_child_inherits_parent_partition(server, users, admin_imap):
    user = users.create()
    create_mailbox(admin_imap, f"{user.mailbox}.archive", partition=SECOND)
    create_mailbox(admin_imap, f"{user.mailbox}.archive.2026")
    assert _under(server.mailbox_path(f"{user.mailbox}.archive.2026"), server.partitions()[SECOND])


def test_admin_must_grant_itself_delete_right_to_remove_account(server, users, admin_imap):
    # The book: administrators lack the delete right by default and must grant it first.
    user = users.create()
    typ, _ = command(admin_imap, "DELETE", quote(user.mailbox))
    assert typ == "NO"
    assert list_names(admin_imap, user.mailbox) == [user.mailbox]
    admin_imap.setacl(user.mailbox, server.admin_user, "lrswipkxtecda")
    typ, data = command(admin_imap, "DELETE", quote(user.mailbox))
    assert typ == "OK", data
    assert list_names(admin_imap, f"{user.mailbox}*") == []


def test_deletemailbox_removes_hierarchy(server, users, admin_imap):
    user = users.create()
    for sub in ("a", "a.b", "a.b.c", "z"):
        create_mailbox(admin_imap, f"{user.mailbox}.{sub}")
    delete_mailbox(admin_imap, server.admin_user, f"{user.mailbox}.a")
    assert list_names(admin_imap, f"{user.mailbox}*") == [user.mailbox, f"{user.mailbox}.z"]
    delete_mailbox(admin_imap, server.admin_user, user.mailbox)
    assert list_names(admin_imap, f"{user.mailbox}*") == []


@pytest.mark.requires("cyrus", "exec")
def test_creating_below_missing_parents_leaves_nothing_for_reconstruct(server, users, admin_imap):
    # RFC 9051 6.3.4: CREATE of a.b.c makes the superior names a server needs; the repair tool
    # walking the account afterwards must not trip over them.
    user = users.create()
    create_mailbox(admin_imap, f"{user.mailbox}.archive.2023.q1")
    assert server.consistency_problems([user.name]) == []


def test_append_without_date_leaves_nothing_for_reconstruct(server, users, admin_imap):
    # Messages without a Date: header are common in migrated mail; the server's own repair tool
    # must not find anything to fix right after storing one.
    user = users.create()
    admin_imap.setacl(user.mailbox, server.admin_user, "lrswipkxtecda")
    admin_imap.append(user.mailbox, b"Subject: no date header\r\n\r\nbody\r\n")
    problems = server.consistency_problems([user.name])
    assert problems == []
