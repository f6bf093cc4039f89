import pytest

from imapwright.errors import UserError
from imapwright.servers.target import parse_target


def test_full_target_url():
    admin, imap, lmtp, container, sieve = parse_target(
        "imap://cyrus@127.0.0.1:1143?lmtp=127.0.0.1:2424&exec=docker:srv&sieve=127.0.0.1:4190")
    assert (admin, str(imap), str(lmtp), container, str(sieve)) == (
        "cyrus", "127.0.0.1:1143", "127.0.0.1:2424", "srv", "127.0.0.1:4190")


def test_default_port_and_no_extras():
    admin, imap, lmtp, container, sieve = parse_target("imap://admin@localhost")
    assert (imap.port, lmtp, container, sieve) == (143, None, None, None)


@pytest.mark.parametrize("url,msg", [
    ("http://cyrus@h:1", "expected imap://"),
    ("imap://h:1", "expected imap://"),
    ("imap://cyrus:secret@h:1", "must not carry a password"),
    ("imap://cyrus@h:1?lmtp=nohostport", "expected HOST:PORT"),
    ("imap://cyrus@h:1?exec=ssh:box", "only docker:"),
    ("imap://cyrus@h:99999", "bad port"),
])
def test_bad_target_urls(url, msg):
    with pytest.raises(UserError, match=msg):
        parse_target(url)
