"""Metadata headers, fingerprints and the folder-name rules of imapwright.mailstore."""

import gzip
from datetime import datetime, timezone

import pytest

from imapwright.mailstore.message import (StoredMessage, content_digest, fingerprint, metadata, split_metadata,
                                          to_crlf, with_metadata)
from imapwright.mailstore.tree import decode_component, encode_component, scan_user

WHEN = datetime(2026, 11, 29, 7, 44, 52, tzinfo=timezone.utc)


def test_status_headers_become_flags_and_leave_the_content():
    content = (b"Subject: x\nStatus: RO\nX-Status: AF\nX-Keywords: $Work\n  Later\nX-UID: 7\n"
               b"To: a\n\nbody\n")
    clean, flags, pseudo = split_metadata(content)
    assert clean == b"Subject: x\nTo: a\n\nbody\n"
    assert flags == {"\\Seen", "\\Answered", "\\Flagged", "$Work", "Later"}
    assert not pseudo


def test_metadata_headers_in_the_body_are_content():
    assert split_metadata(b"Subject: x\n\nStatus: RO\n")[0] == b"Subject: x\n\nStatus: RO\n"


@pytest.mark.parametrize("flags", [frozenset(), frozenset({"\\Seen"}), frozenset({"\\Draft", "\\Deleted", "$Label1"})])
@pytest.mark.parametrize("content", [b"Subject: x\n\nbody\n", b"Subject: x\r\n\r\nbody\r\n", b"Subject: only headers"])
def test_metadata_round_trip(content, flags):
    clean, back, _ = split_metadata(with_metadata(content, flags))
    assert back == flags
    assert content_digest(clean) == content_digest(content)


def test_uw_folder_internal_data_is_recognised():
    uw = (b"Date: Sun, 29 Nov 2026 07:44:52 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@x>\n"
          b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1164789000 0000000004\n\n"
          b"This text is part of the internal format of your mail folder.\n")
    assert split_metadata(uw)[2]


def test_fingerprint_ignores_line_ends_and_a_missing_final_newline_only():
    a = StoredMessage(b"Subject: x\r\n\r\nbody\r\n", frozenset({"\\Seen"}), WHEN)
    assert fingerprint(a) == fingerprint(StoredMessage(b"Subject: x\n\nbody", frozenset({"\\Seen"}), WHEN))
    assert fingerprint(a) != fingerprint(StoredMessage(b"Subject: x\n\nbody ", frozenset({"\\Seen"}), WHEN))
    assert fingerprint(a) != fingerprint(StoredMessage(a.content, frozenset(), WHEN))
    assert fingerprint(a) != fingerprint(StoredMessage(a.content, a.flags, WHEN.replace(second=53)))
    assert fingerprint(a, flags=False, date=False) == fingerprint(StoredMessage(a.content), flags=False, date=False)


def test_to_crlf():
    assert to_crlf(b"a\nb\r\nc\rd") == b"a\r\nb\r\nc\rd"


@pytest.mark.parametrize("name,encoded", [("s!me", "s_041me"), ("a.b", "a_056b"), ("50% off", "50_045 off"),
                                          ("star*", "star_052"), ("my_folder", "my_folder"),
                                          ("x_041", "x_137041"), ("Entwürfe & Ideen", "Entwürfe & Ideen")])
def test_folder_names_encode_like_bsd2cyrus_and_decode_back(name, encoded):
    assert encode_component(name) == encoded
    assert decode_component(encoded) == name


def test_scan_skips_what_the_book_skips(tmp_path):
    mbox = b"From a Sun Nov 29 07:44:52 2026\nSubject: x\n\nx\n\n"
    (tmp_path / "INBOX").write_bytes(mbox)
    (tmp_path / "s!me").write_bytes(mbox)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "2026").write_bytes(mbox)
    (tmp_path / "work.mbox").write_bytes(mbox)
    (tmp_path / ".hidden").write_bytes(mbox)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "old.gz").write_bytes(gzip.compress(mbox))
    (tmp_path / "picture").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (tmp_path / "notes").write_bytes(b"just some notes\n")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    folders, skipped = scan_user(tmp_path)
    assert [f.name for f in folders] == ["INBOX", "s_041me", "work", "work.2026"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert reasons["picture"] == "binary" and reasons["empty"] == "empty" and reasons[".hidden"] == "hidden"
    assert reasons["old.gz"] == "compressed (gzip)" and reasons["notes"].startswith("not an mbox")
    assert reasons["dangling"].startswith("unreadable")
    assert "work" not in reasons


def test_scan_reads_a_maildir_plus_plus_account(tmp_path):
    for sub in ("", ".work", ".work.2026"):
        for d in ("cur", "new", "tmp"):
            (tmp_path / sub / d).mkdir(parents=True, exist_ok=True)
    folders, _ = scan_user(tmp_path)
    assert [(f.name, f.kind) for f in folders] == [("INBOX", "maildir"), ("work", "maildir"), ("work.2026", "maildir")]


def test_scan_reads_a_home_directorys_maildir_as_the_account(tmp_path):
    """A copied home directory: ~/Maildir with Maildir++ folders (Dovecot's maildir:~/Maildir) is
    INBOX and its folders, not a folder "Maildir" with every sub-folder skipped as hidden."""
    for sub in ("Maildir", "Maildir/.work", "Maildir/.work.2026", "mail/archive"):
        for d in ("cur", "new", "tmp"):
            (tmp_path / sub / d).mkdir(parents=True, exist_ok=True)
    folders, skipped = scan_user(tmp_path)
    assert [(f.name, f.kind) for f in folders] == [("INBOX", "maildir"), ("mail.archive", "maildir"),
                                                   ("work", "maildir"), ("work.2026", "maildir")]
    assert skipped == []


# Fuzzed mail (issue 27, item 14): a date that cannot be read means "no date from here", never an
# exception that ends the migration of a whole tree.
import string  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from imapwright.admin.migrate import _date_of  # noqa: E402
from imapwright.mailstore.mbox import parse_from_date, read_mbox  # noqa: E402
from imapwright.mailstore.message import parse_date  # noqa: E402

OVERFLOWING = ["Wed, 4 Jun 207777777777777777777714 17:50:46 0",
               "Fri, 31 Dec 9999 23:59:59 -2359", "Tue, 99999999999999999999 Feb 2026 10:00:00 +0000"]
DATE_PIECES = st.lists(st.one_of(st.sampled_from(["Mon,", "Jan", "Feb", "+0000", "-2359", "EST", "GMT", ":", "0"]),
                                 st.integers(min_value=-10**25, max_value=10**25).map(str),
                                 st.text(string.printable, max_size=6)), max_size=8).map(" ".join)


def test_overflowing_dates_are_no_dates():
    for text in OVERFLOWING:
        assert parse_date(text) is None
    assert parse_from_date("Mon Jan  1 00:00:00 +2359 0001") is None


@given(DATE_PIECES)
def test_no_date_header_ends_reading(text):
    content = f"From: a@example.org\nDate: {text}\nSubject: x\n\nbody\n".encode("latin-1", "replace")
    when, source = _date_of(content, None)
    assert source in ("Date header", "")


@given(DATE_PIECES)
def test_no_from_line_date_ends_reading_an_mbox(text):
    data = f"From someone {text}\nFrom: a@example.org\nDate: {text}\n\nbody\n".encode("latin-1", "replace")
    [message] = read_mbox(data, "mboxrd")
    assert message.content.endswith(b"body\n")


_HEADER_LINES = st.sampled_from([
    b"Status: RO", b"Status: O", b"status:R", b"X-Status: AF", b"X-Status: DT", b"X-Keywords: $Label1, work",
    b"X-Keywords:", b"X-UID: 7", b"X-IMAP: 1234 5", b"X-IMAPbase: 1 2", b"Status-Report: R", b"Subject: hi",
    b"From: a@example.org", b"  folded continuation", b"\tX-Keywords: not a field", b"not a header line"])


@given(st.lists(_HEADER_LINES, max_size=8), st.sampled_from([b"\n", b"\r\n"]))
def test_metadata_reads_the_flags_split_metadata_reads(lines, newline):
    """The plan's fast reading of a header (metadata) agrees with split_metadata, which rebuilds
    the content without the metadata fields."""
    head = b"".join(line + newline for line in lines) + newline
    assert metadata(head) == split_metadata(head)[1:]
