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


def test_tree_comparison_sees_lost_child_message_and_flag(server, users):
    """The hierarchy suite's check (model vs read_tree) names each kind of damage done behind its back."""
    from imapwright.stores.tree import read_tree
    from imapwright.models.hierarchy import HierarchyModel

    user = users.create()
    client = users.login(user)
    model = HierarchyModel()

    def own(folder):
        return server.mailbox_name(user.name, folder, user.name)

    for folder in ("a", "a.b"):
        client.create_folder(own(folder))
        model.create(folder)
    for n, folder in enumerate(("", "a", "a.b")):
        body = f"Subject: {n}\r\n\r\n{n}\r\n".encode()
        client.append(own(folder), body, [b"\\Flagged"])
        model.store(folder, body, frozenset({"\\Flagged"}))
    assert model.differences(read_tree(server, client, user.name)) == []

    other = users.login(user)  # a second session changes things the model does not know about
    other.select_folder(own(""))
    other.remove_flags([1], [b"\\Flagged"])
    other.select_folder(own("a"))
    other.add_flags([1], [b"\\Deleted"])
    other.expunge()
    other.unselect_folder()
    other.delete_folder(own("a.b"))
    found = model.differences(read_tree(server, client, user.name))
    assert [line.split(":")[0] for line in found] == ["INBOX", "a", "a.b"]
    assert "flags [], expected ['\\\\Flagged']" in found[0]
    assert found[1].endswith("lost") and found[2].endswith("missing on the server")
