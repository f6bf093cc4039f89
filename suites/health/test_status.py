"""STATUS (RFC 9051 6.3.11) against what EXAMINE and FETCH show, after each operation that changes
a mailbox's counters: deliveries, APPEND, flag changes by another session, EXPUNGE, RENAME, and
the server's own repair. Cyrus keeps STATUS answers in a cache of its own (statuscache; its upgrade
guide lists it among the databases that can go stale), so each is a real failure mode (issue 32)."""

import pytest

from imapwright.stores.tree import read_messages, status_mismatches


def _check(client, mailbox) -> list[str]:
    selected: dict = {}
    messages = read_messages(client, mailbox, selected)  # leaves the mailbox unselected: STATUS then
    return status_mismatches(client, mailbox, messages, selected)


@pytest.fixture
def box(users, login, server):
    user = users.create("status")
    client = login(user)
    name = server.mailbox_name(user.name, "counted", user.name)
    client.create_folder(name)
    for n in range(4):
        client.append(name, f"Subject: {n}\r\n\r\n{'x' * (100 + n)}\r\n".encode(), [b"\\Seen"] if n % 2 else [])
    return user, client, name


def test_status_counts_appended_mail_before_the_mailbox_was_ever_selected(box):
    _user, client, name = box
    status = client.folder_status(name, [b"MESSAGES", b"UNSEEN"])
    assert (status[b"MESSAGES"], status[b"UNSEEN"]) == (4, 2)


def test_status_agrees_after_append(box):
    _user, client, name = box
    assert _check(client, name) == []


def test_status_agrees_after_delivery(server, users, login, lmtp):
    user = users.create("statusd")
    client = login(user)
    client.folder_status("INBOX", [b"MESSAGES", b"UNSEEN", b"UIDNEXT"])  # warm any status cache first
    for n in range(3):
        [result] = lmtp.deliver(f"Subject: d{n}\r\n\r\nbody {n}\r\n".encode(), [f"{user.name}@imapwright.test"])
        assert result.accepted, result
    assert _check(client, "INBOX") == []


def test_status_agrees_after_another_session_changes_flags(box, login):
    user, client, name = box
    client.folder_status(name, [b"MESSAGES", b"UNSEEN"])  # this session asked before the change
    other = login(user)
    other.select_folder(name)
    other.add_flags(other.search(["UNSEEN"])[:1], [b"\\Seen"])
    other.remove_flags(other.search(["SEEN"])[:1], [b"\\Seen"])
    other.add_flags(other.search()[:1], [b"\\Flagged"])
    other.unselect_folder()
    assert _check(client, name) == []


def test_status_agrees_after_expunge(box):
    _user, client, name = box
    client.folder_status(name, [b"MESSAGES", b"UNSEEN"])
    client.select_folder(name)
    client.delete_messages(client.search()[:2])
    client.expunge()
    client.unselect_folder()
    assert _check(client, name) == []


def test_status_agrees_after_rename(box, server):
    user, client, name = box
    client.folder_status(name, [b"MESSAGES", b"UNSEEN", b"UIDNEXT"])
    renamed = server.mailbox_name(user.name, "recounted", user.name)
    client.rename_folder(name, renamed)
    assert _check(client, renamed) == []


@pytest.mark.requires("exec")
@pytest.mark.destructive
def test_status_agrees_after_the_servers_repair(box, server):
    user, client, name = box
    client.folder_status(name, [b"MESSAGES", b"UNSEEN", b"UIDNEXT"])
    server.repair_tree(server.mailbox_name(user.name, "counted"))
    assert _check(client, name) == []
