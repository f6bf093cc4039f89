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
