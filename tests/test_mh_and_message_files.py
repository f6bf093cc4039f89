"""MH folders and single-message files are read, not skipped as "not an mbox" (issue 27, item 15):
files shaped like nmh's and a mail client's, written here."""

import os
from pathlib import Path

from imapwright.admin.migrate import make_plan, not_migrated
from hypothesis import given, strategies as st

from imapwright.mailstore.mh import Numbers, read_sequences
from imapwright.mailstore.tree import scan_user


def message(n: int, subject: str) -> bytes:
    return (f"Return-Path: <a@example.org>\nFrom: Ann <a@example.org>\nTo: bob@example.org\nSubject: {subject}\n"
            f"Date: Tue, 0{n} Dec 2026 10:00:00 +0100\nMessage-ID: <{subject}@example.org>\n\nbody {n}\n").encode()


def nmh_tree(root: Path) -> Path:
    """~/Mail as nmh leaves it: inbox/ with sequences, work/ with a sub-folder, a context file."""
    user = root / "bob"
    for folder, count in (("inbox", 3), ("work", 1), ("work/projects", 2)):
        (user / folder).mkdir(parents=True)
        for n in range(1, count + 1):
            (user / folder / str(n)).write_bytes(message(n, f"{folder.replace('/', '-')}-{n}"))
    (user / "inbox" / ".mh_sequences").write_text("unseen: 2-3\nflagged: 1\nreplied: 1\n 3\ncur: 3\n")
    (user / "context").write_text("Current-Folder: inbox\n")  # nmh's own file: not mail
    (user / "inbox" / ",4").write_bytes(message(4, "removed"))  # what `rmm 4` (or refile) leaves
    return user


def test_sequences_are_read_with_ranges_and_continued_lines(tmp_path):
    user = nmh_tree(tmp_path)
    sequences = {name: set(numbers) for name, numbers in read_sequences(user / "inbox").items()}
    assert sequences == {"unseen": {2, 3}, "flagged": {1}, "replied": {1, 3}, "cur": {3}}


@given(st.lists(st.tuples(st.integers(1, 60), st.integers(0, 8)), max_size=12), st.integers(0, 80))
def test_sequence_ranges_hold_the_numbers_a_set_would(parts, probe):
    """Numbers keeps merged ranges (a set of a million was 60 MB); membership as a set's."""
    ranges = [(low, low + extra) for low, extra in parts]
    expected = {n for low, high in ranges for n in range(low, high + 1)}
    numbers = Numbers(ranges)
    assert (probe in numbers) == (probe in expected)
    assert list(numbers) == sorted(expected)


def test_an_nmh_tree_plans_as_folders_with_flags_from_its_sequences(tmp_path):
    nmh_tree(tmp_path)
    plan = make_plan(tmp_path)
    [user] = plan.users
    folders = {f.name: f for f in user.folders}
    assert sorted(folders) == ["INBOX", "work", "work.projects"]
    inbox = {m.content.split(b"Subject: ")[1].split(b"\n")[0].decode(): set(m.flags) for m in folders["INBOX"].messages}
    assert inbox == {"inbox-1": {"\\Seen", "\\Flagged", "\\Answered"}, "inbox-2": set(), "inbox-3": {"\\Answered"}}
    assert len(folders["work.projects"].messages) == 2
    # Said, not hidden: nmh's context file, and a removed message (found migrating a real nmh
    # ~/Mail: each ",N" had become a folder of its own holding deleted mail).
    assert [(s.path.name, s.reason.split(" (")[0]) for s in user.skipped] == [
        ("context", "not an mbox"), (",4", "a removed message")]
    # verify counts it as left out, a class of its own that --accept can let pass
    assert [line.rsplit(" ", 1)[1] for line in not_migrated(plan, set())] == ["[skipped:not-mbox]", "[skipped:removed]"]
    assert not_migrated(plan, {"skipped:removed", "skipped:not-mbox"}) == []
    assert plan.ledger()["messages found"] == 6 and not plan.problems


def test_single_message_files_are_one_message_each(tmp_path):
    user = tmp_path / "cat"
    user.mkdir()
    (user / "saved.eml").write_bytes(message(1, "saved").replace(b"\n", b"\r\n"))
    patch = (b"From 3f2a1c0d Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.org>\nDate: Wed, 2 Dec 2026 "
             b"09:00:00 +0000\nSubject: [PATCH] fix\n\n---\n a.c | 2 +-\n")
    (user / "fix.patch").write_bytes(patch)  # git format-patch: an mbox of one message
    (user / "notes.txt").write_bytes(b"Note: call Ann\nnot mail\n")
    folders, skipped = scan_user(user)
    assert [(f.name, f.kind) for f in folders] == [("fix_056patch", "mbox"), ("saved", "message")]
    assert [s.path.name for s in skipped] == ["notes.txt"]
    plan = make_plan(tmp_path)
    [fix, saved] = plan.users[0].folders
    assert len(saved.messages) == 1 and saved.messages[0].content.startswith(b"Return-Path:")
    # git's fixed From_ date is no date: the Date: header is the internal date.
    assert fix.messages[0].date.isoformat() == "2026-12-02T09:00:00+00:00"
    assert os.path.basename(str(saved.folder.path)) == "saved.eml"


def test_message_files_shaped_like_pythons_email_test_corpus_are_read(tmp_path):
    """Found on mail written elsewhere (CPython's test_email data): MIME-only headers, and a header
    with no blank line before the body, are messages; a one-field note is not."""
    user = tmp_path / "dan"
    user.mkdir()
    (user / "mime.txt").write_bytes(b"MIME-Version: 1.0\nContent-Type: text/html\n\n<p>hi</p>\n")
    (user / "noblank.txt").write_bytes(b"From: a@dom.ain\nTo: b@dom.ain\nSubject: x\nno separating newline here\n")
    (user / "note.txt").write_bytes(b"Note: call Ann\nnot mail\n")
    (user / "parts.txt").write_bytes(b"Content-Type: multipart/mixed; boundary=ABCDE\n\n--ABCDE\n")
    folders, skipped = scan_user(user)
    assert [(f.name, f.kind) for f in folders] == [("mime_056txt", "message"), ("noblank_056txt", "message"),
                                                   ("parts_056txt", "message")]
    assert [s.path.name for s in skipped] == ["note.txt"]


def test_a_plan_of_files_of_one_message_each_holds_names_not_contents(tmp_path):
    """Maildir, MH and single-message files are read when a message is sent (issue 33: a plan of
    a Maildir of a million messages held every one): a file changed after the plan is sent as it
    is then, and what the plan counts of the header was read at plan time."""
    from imapwright.admin.migrate import delivery_risks

    for sub in ("cur", "new", "tmp"):
        (tmp_path / "ann" / "Maildir" / sub).mkdir(parents=True)
    (tmp_path / "ann" / "mh").mkdir()
    (tmp_path / "ann" / "mh" / "1").write_bytes(b"Subject: one\nMessage-ID: <1@x>\n\nfirst\n")
    (tmp_path / "ann" / "mh" / ".mh_sequences").write_text("unseen: 1\n")
    first = tmp_path / "ann" / "Maildir" / "cur" / "1.M1.host:2,S"
    first.write_bytes(b"Subject: two\nMessage-ID: <1@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nsecond\n")
    plan = make_plan(tmp_path)
    messages = {fp.name: fp.messages for fp in plan.users[0].folders}
    assert {name: len(m) for name, m in messages.items()} == {"INBOX": 1, "mh": 1}, messages
    first.write_bytes(b"Subject: two\n\nchanged after the plan\n")
    assert messages["INBOX"][0].content.endswith(b"changed after the plan\n")
    assert messages["INBOX"][0].header_facts()[1] is True  # its Date:, as the plan read it
    assert delivery_risks(plan)["date-added"] == 1  # the MH message has none


def test_a_numbered_file_that_is_no_message_number_is_accounted_for(tmp_path):
    """"007" is not an MH message number (they start at 1, no leading zero): the scan once left it
    out as a message and the reader did not read it either, so it vanished without a word."""
    user = nmh_tree(tmp_path)
    (user / "inbox" / "007").write_bytes(message(7, "zero-padded"))
    folders, skipped = scan_user(user)
    assert any(f.path.name == "007" for f in folders) or any(s.path.name == "007" for s in skipped)
