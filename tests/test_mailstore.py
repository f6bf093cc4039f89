"""Metadata headers, fingerprints and the folder-name rules of imapwright.mailstore."""

import gzip
from datetime import datetime, timezone

import pytest

from imapwright.mailstore.message import (StoredMessage, content_digest, fingerprint, split_metadata,
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
