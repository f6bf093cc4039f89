"""The IMAP helpers' parsing of untagged data, on responses recorded from Cyrus and Dovecot."""

import pytest

from imapwright.protocol import imap


class _FakeIMAP:
    def __init__(self, untagged):
        self.untagged_responses = {"METADATA": untagged}

    def _simple_command(self, *_args):
        return "OK", [b"Completed"]


class _Client:
    def __init__(self, untagged):
        self._imap = _FakeIMAP(untagged)


@pytest.mark.parametrize("recorded,expected", [
    ([b'INBOX.a ("/private/comment" "note")'], {"/private/comment": "note"}),  # Cyrus 3.6
    ([b'"a" (/private/comment "note \\"quoted\\"")'], {"/private/comment": 'note "quoted"'}),  # Dovecot
    ([b'a (/shared/comment NIL /private/comment "x")'], {"/shared/comment": None, "/private/comment": "x"}),
    ([(b'a (/shared/comment {5}', b'multi'), b')'], {"/shared/comment": "multi"}),  # a literal value
])
def test_get_metadata_parses_recorded_responses(recorded, expected):
    assert imap.get_metadata(_Client(recorded), "a", "/private/comment") == expected


def test_quote_sends_non_ascii_names_in_modified_utf7():
    # A folder name as LIST returns it (decoded) must go back out encoded (RFC 3501 5.1.3).
    from imapwright.protocol.imap import quote

    assert quote("user.bob.Entwürfe") == '"user.bob.Entw&APw-rfe"'
    assert quote("user.bob.x&y") == '"user.bob.x&-y"'  # '&' itself is escaped
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


def test_a_search_answer_of_a_million_uids_is_read():
    """SEARCH ALL of a folder of a million messages is one line of about 7 MB: imaplib's own limit
    (1 MB) made verify of a migrated million end in a traceback. The harness's sessions take it."""
    import socket
    import threading

    import imapclient

    line = b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, 1_000_001)) + b"\r\n"
    srv = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = srv.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            for command in lines:
                tag, name = command.split()[:2]
                if name.upper() == b"LOGOUT":
                    conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    return
                answer = {b"UID": line, b"CAPABILITY": b"* CAPABILITY IMAP4rev1\r\n",
                          b"SELECT": b"* FLAGS ()\r\n* 1000000 EXISTS\r\n"}.get(name.upper(), b"")
                conn.sendall(answer + tag + b" OK done\r\n")
    threading.Thread(target=serve, daemon=True).start()
    client = imapclient.IMAPClient("127.0.0.1", port=srv.getsockname()[1], ssl=False, timeout=30)
    try:
        client.login("u", "p")
        client.select_folder("INBOX")
        uids = client.search()
    finally:
        client.logout()
        srv.close()
    assert len(uids) == 1_000_000 and uids[-1] == 1_000_000
