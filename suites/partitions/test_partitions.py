"""Partitions: accounts on a named partition, children following their parent, and RENAME with a
partition argument moving the data on disk (checked through the server's own path tool)."""

import pytest

from imapwright.admin.mailboxes import create_mailbox
from imapwright.protocol.imap import command, list_names, quote

pytestmark = pytest.mark.requires("partitions")
SECOND = "second"


def _on(server, mailbox, partition):
    return server.mailbox_path(mailbox).startswith(server.partitions()[partition].rstrip("/") + "/")


def test_account_created_on_a_named_partition_keeps_its_folders_there(server, users, admin_imap):
    users.create()
    account = f"user.{users.prefix}placed"
    create_mailbox(admin_imap, account, partition=SECOND)
    try:
        create_mailbox(admin_imap, f"{account}.drafts")
        assert _on(server, account, SECOND) and _on(server, f"{account}.drafts", SECOND)
        admin_imap.setacl(account, server.admin_user, "lrswipkxtea")
        admin_imap.append(account, b"Subject: on second\r\n\r\nbody\r\n")
        files = server.list_dir(server.mailbox_path(account))
        assert "1." in files  # the message file itself lies on the second partition
    finally:
        admin_imap.setacl(account, server.admin_user, "lrswipkxtea")
        command(admin_imap, "DELETE", quote(account))


def test_rename_with_partition_moves_the_data_on_disk(server, users, admin_imap):
    user = users.create()
    box = f"{user.mailbox}.archive"
    create_mailbox(admin_imap, box)
    admin_imap.setacl(box, server.admin_user, "lrswipkxtea")
    admin_imap.append(box, b"Subject: moving\r\n\r\nbody\r\n")
    old_path = server.mailbox_path(box)
    assert _on(server, box, "default")
    typ, data = command(admin_imap, "RENAME", quote(box), quote(box), SECOND)
    assert typ == "OK", data
    assert _on(server, box, SECOND)
    assert "1." in server.list_dir(server.mailbox_path(box))
    with pytest.raises(FileNotFoundError):
        server.list_dir(old_path)
    admin_imap.select_folder(box, readonly=True)
    assert admin_imap.fetch([1], ["BODY.PEEK[TEXT]"])[1][b"BODY[TEXT]"] == b"body\r\n"


def test_a_new_account_lands_on_the_default_partition(server, users):
    user = users.create()
    assert _on(server, user.mailbox, "default")


def test_an_unknown_partition_is_refused_and_nothing_is_created(server, users, admin_imap):
    users.create()
    account = f"user.{users.prefix}nowhere"
    typ, data = command(admin_imap, "CREATE", quote(account), "nosuchpartition")
    assert typ == "NO", data
    assert list_names(admin_imap, account) == []


def test_a_partition_named_news_is_reserved(private_server, users):
    # The book: "news" is reserved (for netnews); an admin cannot place mail on it even when a
    # partition-news line exists.
    news = "/srv/imapwright/spool/news"
    private_server.exec(["mkdir", "-p", news])
    private_server.reconfigure(**{"partition-news": news})
    with private_server.admin_imap() as admin:
        typ, data = command(admin, "CREATE", quote(f"user.{users.prefix}onnews"), "news")
    assert typ == "NO", f"CREATE on partition news: {typ} {data}"
