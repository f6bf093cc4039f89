"""The book: shared folders keep one seen state for everybody; bulletin boards keep it per user."""

import pytest

from imapwright.protocol.imap import command, quote

from .scene import message


@pytest.fixture
def board(server, users, login):
    """A folder every user may read and mark seen, with one message, and two readers."""
    owner, a, b = users.create("board"), users.create("reader_a"), users.create("reader_b")
    client = login(owner)
    own = server.mailbox_name(owner.name, "news", owner.name)
    client.create_folder(own)
    client.append(own, message("news"))
    client.setacl(own, "anyone", "lrs")
    return owner, a, b


def _mark_seen_then_look(server, login, owner, a, b):
    """a marks the message seen; returns (seen by a in a new session, seen by b)."""
    ca = login(a)
    assert command(ca, "SELECT", quote(server.mailbox_name(owner.name, "news", a.name)))[0] == "OK"
    command(ca, "UID STORE", "1", "+FLAGS", "(\\Seen)")
    ca.logout()
    result = []
    for user in (a, b):
        c = login(user)
        c.select_folder(server.mailbox_name(owner.name, "news", user.name), readonly=True)
        result.append(b"\\Seen" in c.fetch([1], ["FLAGS"])[1][b"FLAGS"])
    return tuple(result)


def test_bulletin_board_keeps_seen_state_per_user(server, login, board):
    assert _mark_seen_then_look(server, login, *board) == (True, False)


def test_shared_folder_keeps_one_seen_state(server, login, board):
    owner = board[0]
    server.share_seen_state(server.mailbox_name(owner.name, "news"))
    assert _mark_seen_then_look(server, login, *board) == (True, True)
