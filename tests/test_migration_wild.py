"""Reading mail as other tools leave it (fixtures/migration/wild_corpus.py): every folder and
message found, every problem listed, nothing silently dropped. Each test names the observation of
issue 16 it covers; none needs a server."""

import importlib.util
import mailbox
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from imapwright.admin.migrate import make_plan, not_migrated
from imapwright.mailstore.message import with_metadata

SPEC = importlib.util.spec_from_file_location(
    "wild_corpus", Path(__file__).resolve().parents[1] / "fixtures" / "migration" / "wild_corpus.py")
wild = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(wild)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("wild")
    return root, wild.write_tree(root)


def _counts(plan):
    return {u.user: {f.name: len(f.messages) for f in u.folders} for u in plan.users}


def test_every_folder_and_message_is_found(tree):
    root, expected = tree
    assert _counts(make_plan(root)) == expected


def test_fs_layout_maildirs_nest(tree):  # observation 1
    root, _ = tree
    [ann] = make_plan(root, ["ann"]).users
    assert [f.name for f in ann.folders] == ["INBOX", "work", "work.projects"]
    # The uidlist beside cur/new/tmp is no message: skipped, with the reason.
    assert [(s.path.name, s.reason.split(" (")[0]) for s in ann.skipped] == [
        ("dovecot-uidlist", "not an mbox")]


def test_a_nul_byte_is_one_messages_matter_not_the_files(tree):  # observation 2
    root, _ = tree
    [bob] = make_plan(root, ["bob"]).users
    folder = next(f for f in bob.folders if f.name == "binary-part")
    assert len(folder.messages) == 2 and b"\0" in folder.messages[0].content
    assert not bob.skipped


def test_duplicate_unique_names_in_new_and_cur_are_two_messages(tree):  # observation 3
    root, _ = tree
    [ann] = make_plan(root, ["ann"]).users
    work = next(f for f in ann.folders if f.name == "work")
    subjects = sorted(m.content.split(b"Subject: ")[1].split(b"\n")[0] for m in work.messages)
    assert subjects == [b"same name, cur", b"same name, new", b"work"]
    flags = {m.source.split("/")[1]: m.flags for m in work.messages if b"same name" in m.content}
    assert flags == {"new": frozenset(), "cur": frozenset({"\\Seen"})}


def test_from_line_dates_of_every_form(tree):  # observation 8
    root, _ = tree
    [bob] = make_plan(root, ["bob"]).users
    inbox = next(f for f in bob.folders if f.name == "INBOX")
    got = [(m.date, m.date_source, m.sender) for m in inbox.messages]
    header_date = datetime(2002, 12, 2, 20, 26, 33, tzinfo=timezone.utc)
    assert got == [(header_date, "From_ line", "MAILER-DAEMON"),  # EST: 15:26:33 -0500
                   (header_date, "Date header", "1844347792267117879@xxx"),
                   (header_date, "Date header", "MAILER-DAEMON"),  # the epoch is no date
                   (header_date, "Date header", "MAILER-DAEMON")]


def test_from_lines_without_a_blank_line_before_them(tree):  # observation 9
    root, _ = tree
    [bob] = make_plan(root, ["bob"]).users
    lists = next(f for f in bob.folders if f.name == "lists")
    assert len(lists.messages) == 3
    assert b"From here on, body" in lists.messages[1].content  # a body line, not a From_ line


@pytest.mark.parametrize("name,theirs", [("binary-part", 2), ("lists", 4), ("solaris", 10)])
def test_message_counts_beside_the_standard_library(tree, name, theirs):
    """Python's mailbox splits at every line that starts with "From ": it agrees where the file is
    unambiguous, and counts more where a body line starts with "From " without a date ("lists":
    "From here on, body") or where Content-Length says where a message ends ("solaris", whose
    bodies hold From lines). Ours follows Content-Length when it lands on a From_ line, and takes a
    From_ line without a blank line before it only when it has a sender and a date."""
    root, expected = tree
    assert len(mailbox.mbox(str(root / "bob" / name), create=False)) == theirs
    assert expected["bob"][name] <= theirs


FORMAIL = shutil.which("formail")


@pytest.mark.skipif(FORMAIL is None, reason="formail (Debian package procmail) is not installed")
@pytest.mark.parametrize("path,ours,stdlib,formail", [
    ("bob/INBOX", 4, 4, 2), ("bob/lists", 3, 4, 1), ("bob/binary-part", 2, 2, 2), ("bob/solaris", 5, 10, 1),
    ("cat/INBOX", 4, 4, 2), ("dan/INBOX", 2, 2, 2)])
def test_three_readers_side_by_side(tree, path, ours, stdlib, formail):
    """Where mature readers disagree, the choice is ours and written down here. Python's mailbox
    splits at every line starting "From " (it counts body lines and Content-Length bodies as
    messages); procmail's formail splits only at a From_ line after a blank line whose date it can
    read (it merges `From -`, `From 1844...@xxx` and From_ lines without a blank line into the
    message before: two messages become one). Ours splits after a blank line at any From_
    line, and without one only at a From_ line with a date, and follows Content-Length that lands
    on a From_ line. The counts of cat/INBOX include its two lines that are not mail."""
    root, _ = tree
    from imapwright.mailstore.mbox import read_mbox

    data = (root / path).read_bytes()
    split = subprocess.run([FORMAIL, "-s", "sh", "-c", "cat >/dev/null; echo x"], input=data,
                           capture_output=True, timeout=30).stdout.count(b"x")
    assert (len(read_mbox(data)), len(mailbox.mbox(str(root / path), create=False)), split) == (
        ours, stdlib, formail)


def test_messages_without_header_fields_are_sent_for_the_server_to_judge(tree):  # issue 27, item 16
    root, _ = tree
    plan = make_plan(root)
    cat = next(u for u in plan.users if u.user == "cat")
    assert cat.problems == [] and len(cat.folders[0].messages) == 4
    assert b"this line is no header" in cat.folders[0].messages[1].content
    assert not [line for line in not_migrated(plan, set()) if line.startswith("cat")]


def test_the_ledger_adds_up(tree):
    root, _ = tree
    ledger = make_plan(root).ledger()
    assert ledger["messages found"] == ledger["to migrate"] == 26 and ledger["cannot be migrated"] == 0
    assert ledger["dates from"] == {"Date header": 3, "From_ line": 17, "file time": 6}


def test_revert_writes_one_status_header():  # observation 12
    out = with_metadata(b"Subject: a\nStatus: RO\nX-Status: A\n\nbody\n", frozenset({"\\Seen"}))
    head = out.split(b"\n\n")[0]
    assert head.count(b"Status: ") == 2 and head.count(b"\nStatus: ") == 1 and head.count(b"X-Status: ") == 1
