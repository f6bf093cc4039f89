"""Mail reaches a mailbox: LMTP delivery to a new account lands in its INBOX, body intact."""

import secrets


def _message(msgid: str, body: bytes) -> bytes:
    return (b"From: sender@imapwright.test\r\nTo: someone@imapwright.test\r\nSubject: health delivery\r\n"
            b"Message-ID: <" + msgid.encode() + b">\r\n\r\n" + body)


def test_lmtp_delivery_lands_in_inbox(users, login, lmtp):
    user = users.create()
    msgid = f"{secrets.token_hex(8)}@imapwright.test"
    body = b"line one\r\n.leading dot survives dot-stuffing\r\n" + b"x" * 2000 + b"\r\n"
    [result] = lmtp.deliver(_message(msgid, body), [f"{user.name}@imapwright.test"])
    assert result.accepted, result
    client = login(user)
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["HEADER", "Message-ID", msgid])
    assert len(uids) == 1
    fetched = client.fetch(uids, ["BODY.PEEK[TEXT]"])[uids[0]][b"BODY[TEXT]"]
    assert fetched == body


def test_lmtp_refuses_unknown_recipient(users, lmtp):
    users.create()  # the consistency check needs a user; the recipient below does not exist
    [result] = lmtp.deliver(_message("nobody@imapwright.test", b"hi\r\n"), [f"{users.prefix}nobody@imapwright.test"])
    assert not result.accepted
    assert 500 <= result.code < 600, result  # permanent: no such user, not a deferral
