"""The account snapshot that rename checks compare catches a lost child, a lost message and a
changed flag: done here through the admin connection between two snapshots."""

import pytest

from imapwright.admin.rename_account import snapshot
from imapwright.protocol.imap import command, quote


@pytest.mark.requires("cyrus")
def test_snapshot_sees_lost_child_message_and_flag(server, users):
    user = users.create()
    client = users.login(user)
    for folder in ("INBOX.a", "INBOX.a.b"):
        client.create_folder(folder)
    for folder in ("INBOX", "INBOX.a", "INBOX.a.b"):
        client.append(folder, b"Subject: one\r\n\r\n1\r\n", [b"\\Flagged"])
        client.append(folder, b"Subject: two\r\n\r\n2\r\n")
    reference = snapshot(server, user.mailbox)
    assert snapshot(server, user.mailbox) == reference

    with server.admin_imap() as admin:
        admin.setacl(user.mailbox + ".a", server.admin_user, "lrswipkxtea")
        admin.select_folder(user.mailbox + ".a")
        admin.remove_flags([1], [b"\\Flagged"])
        admin.unselect_folder()
    changed_flag = snapshot(server, user.mailbox)
    assert changed_flag != reference and changed_flag[".a"] != reference[".a"]

    with server.admin_imap() as admin:
        admin.setacl(user.mailbox, server.admin_user, "lrswipkxtea")
        admin.select_folder(user.mailbox)
        admin.add_flags([2], [b"\\Deleted"])
        admin.expunge()
        admin.unselect_folder()
    lost_message = snapshot(server, user.mailbox)
    assert len(lost_message[""]) == len(reference[""]) - 1

    with server.admin_imap() as admin:
        admin.setacl(user.mailbox + ".a.b", server.admin_user, "lrswipkxtea")
        assert command(admin, "DELETE", quote(user.mailbox + ".a.b"))[0] == "OK"
    assert ".a.b" not in snapshot(server, user.mailbox)
