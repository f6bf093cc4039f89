"""The rewrite rules verify applies (imapwright/mailstore/rewrites.py), on copies recorded from the
servers (cyrus:3.6 LMTP and APPEND, dovecot:2.3, 2026-12-02): a rewritten message keeps its key,
the rules that changed it are named, and a message the rules do not explain is not excused."""

from imapwright.admin.migrate import compare_folder, rewrite_rules
from imapwright.mailstore import rewrites
from imapwright.mailstore.message import StoredMessage

SOURCE = b"From: S <s1@example.org>\nSubject: case 1\nMessage-ID: <rw1@example.org>\n\nmarker-1\n"
# Cyrus lmtpd: trace fields on top, and a Date: where the message had none.
CYRUS_LMTP = (b"Return-Path: <a@example.org>\r\nReceived: from imapwright (localhost [127.0.0.1])\r\n"
              b"\t by vm (Cyrus 3.6.1-Debian-3.6.1-4+deb12u4) with LMTPA;\r\n\t Wed, 02 Dec 2026 21:43:42 +0000\r\n"
              b"X-Cyrus-Session-Id: cyrus-1796247822-46-2-1\r\nX-Sieve: CMU Sieve 3.0\r\n"
              b"From: S <s1@example.org>\r\nSubject: case 1\r\nMessage-ID: <rw1@example.org>\r\n"
              b"Date: Wed, 02 Dec 2026 21:43:42 +0000\r\n\r\nmarker-1\r\n")
EIGHT_BIT = "From: S <s6@example.org>\nX-Name: J\u00fcrgen\nMessage-ID: <rw6@example.org>\n\nmarker-6\n".encode()
CYRUS_APPEND_8BIT = b"From: S <s6@example.org>\r\nX-Name: JXXrgen\r\nMessage-ID: <rw6@example.org>\r\n\r\nmarker-6\r\n"
NUL = b"Subject: nul\nMessage-ID: <n@x>\n\nmarker-8\na NUL \0 here\n"


def test_a_date_added_by_lmtp_keeps_the_key_and_is_named():
    rules = rewrite_rules("deliver", "cyrus")
    assert rewrites.key(SOURCE, rules, trace=False) == rewrites.key(CYRUS_LMTP, rules, trace=False)
    assert rewrites.explain(SOURCE, CYRUS_LMTP, rules, trace=False) == ["date-added"]
    # without the rule the two are different messages
    assert rewrites.key(SOURCE, frozenset(), trace=False) != rewrites.key(CYRUS_LMTP, frozenset(), trace=False)


def test_munged_8bit_headers_on_append():
    rules = rewrite_rules("append", "cyrus")
    assert rules == {"8bit-headers-munged"}
    assert rewrites.key(EIGHT_BIT, rules) == rewrites.key(CYRUS_APPEND_8BIT, rules)
    assert rewrites.explain(EIGHT_BIT, CYRUS_APPEND_8BIT, rules) == ["8bit-headers-munged"]


def test_nul_replaced_by_dovecot_and_kept_as_literal8_by_cyrus_copy():
    dovecot = NUL.replace(b"\0", b"\x80")
    assert rewrites.explain(NUL, dovecot, rewrite_rules("append", "dovecot")) == ["nul-replaced"]
    literal8 = b"~{59}"  # all imapclient reads of Cyrus's answer to FETCH BODY[]
    rules = rewrite_rules("copy", "cyrus")
    assert rewrites.key(NUL, rules) == rewrites.key(literal8, rules) == "literal8:59"
    assert rewrites.explain(NUL, literal8, rules) == ["nul-literal8"]


def test_verify_names_alterations_and_drops_but_excuses_no_loss():
    rules = rewrite_rules("deliver", "cyrus")
    first = StoredMessage(b"Subject: a\nMessage-ID: <dup@x>\nDate: Mon, 02 Dec 2002 15:26:33 -0500\n\none\n",
                          source="INBOX: message 1")
    second = StoredMessage(first.content.replace(b"one", b"two"), source="INBOX: message 2")
    lost = StoredMessage(b"Subject: c\nMessage-ID: <other@x>\n\nthree\n", source="INBOX: message 3")
    stored = [StoredMessage(first.content, source="INBOX UID 1")]
    kinds = sorted(d.kind for d in compare_folder("INBOX", [first, second, lost], stored, frozenset(), rules))
    assert kinds == ["dropped", "missing"]  # the duplicate named, the other loss not excused
    # Without the method (no drop rules), the duplicate is missing like any other.
    union = rewrite_rules(None, "cyrus")
    assert "duplicate-message-id-dropped" not in union and "date-added" in union
    assert sorted(d.kind for d in compare_folder("INBOX", [first, second], stored, frozenset(), union)) == ["missing"]


def test_an_unexplained_change_is_not_excused():
    rules = rewrite_rules("deliver", "cyrus")
    changed = SOURCE.replace(b"marker-1", b"marker-X")
    found = compare_folder("INBOX", [StoredMessage(SOURCE, source="s")], [StoredMessage(changed, source="t")],
                           frozenset(), rules)
    assert sorted(d.kind for d in found) == ["extra", "missing"]
