"""Family and version of a server from what it says of itself (recorded greetings and ID replies)."""

import pytest

from imapwright.errors import UserError
from imapwright.servers import identify

CYRUS_GREETING = ("* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE AUTH=PLAIN AUTH=LOGIN AUTH=ANONYMOUS SASL-IR] "
                  "vm Cyrus IMAP 3.6.1-Debian-3.6.1-4+deb12u4 server ready")
DOVECOT_GREETING = ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
                    "AUTH=LOGIN AUTH=ANONYMOUS] Dovecot (Debian) ready.")
# imapclient 3/4 `id_()` as recorded from cyrus:3.6 and dovecot:2.3 (one more tuple around the list).
CYRUS_ID = ((b"name", b"Cyrus IMAPD", b"version", b"3.6.1-Debian-3.6.1-4+deb12u4", b"vendor", b"Project Cyrus",
             b"support-url", b"https://www.cyrusimap.org", b"os", b"Linux"),)
DOVECOT_ID = ((b"name", b"Dovecot"),)


def test_id_reply_is_unwrapped_and_read():
    fields = identify.id_fields(CYRUS_ID)
    assert fields["name"] == "Cyrus IMAPD" and fields["version"] == "3.6.1-Debian-3.6.1-4+deb12u4"
    assert identify.from_id(fields) == identify.Identity("cyrus", "3.6.1-Debian-3.6.1-4+deb12u4", "ID")


def test_id_with_nil_values_and_none_reply():
    assert identify.id_fields(((b"name", b"X", b"version", None),)) == {"name": "X", "version": ""}
    assert identify.id_fields(None) == {}


def test_dovecot_says_its_name_but_no_version():
    assert identify.from_id(identify.id_fields(DOVECOT_ID)) == identify.Identity("dovecot", "", "")
    assert identify.from_greeting(DOVECOT_GREETING) == identify.Identity("dovecot", "", "")


def test_cyrus_greeting_names_its_version():
    assert identify.from_greeting(CYRUS_GREETING) == identify.Identity("cyrus", "3.6.1-Debian-3.6.1-4+deb12u4",
                                                                       "greeting")


def test_tool_output_of_each_family():
    assert identify.from_tool_output("cyrus", "cyrus-imapd 3.10.2-Debian-3.10.2-1+deb13u2\n").version.startswith(
        "3.10.2")
    assert identify.from_tool_output("dovecot", "2.3.19.1 (9b53102964)\n").version == "2.3.19.1"
    assert identify.from_tool_output("cyrus", "sh: master: not found").version == ""


def test_combined_identity_prefers_what_knows_a_version():
    said = [identify.from_id(identify.id_fields(DOVECOT_ID)), identify.from_greeting(DOVECOT_GREETING),
            identify.from_tool_output("dovecot", "2.3.19.1 (9b53102964)")]
    assert identify.combine(*said) == identify.Identity("dovecot", "2.3.19.1", "exec")
    assert identify.combine(*said[:2]) == identify.Identity("dovecot", "", "")


def test_stated_version_wins_and_may_name_the_family():
    said = identify.from_greeting(DOVECOT_GREETING)
    assert identify.combine(said, stated="2.3.19") == identify.Identity("dovecot", "2.3.19", "stated")
    assert identify.combine(identify.Identity(None, "", ""), stated="cyrus:3.6") == identify.Identity(
        "cyrus", "3.6", "stated")
    with pytest.raises(UserError, match="says cyrus, but the server says it is dovecot"):
        identify.combine(said, stated="cyrus:3.6")


@pytest.mark.parametrize("text", ["", "three", "exim:4.9", "3.6 and more"])
def test_bad_stated_versions(text):
    with pytest.raises(UserError, match="--target-version"):
        identify.parse_stated(text)


@pytest.mark.parametrize("banner,what", [
    (b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n", "an SMTP or LMTP server answered"),
    (b"220 vm LMTP Cyrus 3.6.1 ready\r\n", "an SMTP or LMTP server answered"),
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "an SSH server answered"),
    (b"HTTP/1.0 400 Bad Request\r\n", "an HTTP server answered"),
    (b"+OK Dovecot (Debian) ready.\r\n", "a POP3 server answered"),
    (b'"IMPLEMENTATION" "Cyrus timsieved v3.6.1"\r\n', "not an IMAP greeting"),
    (b"* BYE Too many connections\r\n", "the server refused the connection"),
    (b"", "closed without a greeting"),
])
def test_banners_that_are_not_imap(banner, what):
    assert what in identify.classify_banner(banner)


def test_imap_greetings_pass():
    assert identify.classify_banner(CYRUS_GREETING.encode() + b"\r\n") is None
    assert identify.classify_banner(b"* PREAUTH IMAP4rev1 server logged in as Smith\r\n") is None
