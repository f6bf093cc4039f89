"""A large mbox is planned in bounded memory (issue 33, item 4): `migrate plan` of a 780 MB mbox of
250,000 messages in a process whose data segment may not exceed 72 MB. A reader that loads or
copies whole files (the first one: read_bytes() and every message's bytes kept) fails here, and so
does a plan that keeps an object per message (the second: it needed more than 85 MB; the columns
of MboxMessages need 55-60 MB, most of it the interpreter and its imports). Time stays in the
benchmark (benchmarks/migrate_large.py), never in a test."""

import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from migrate_large import write_maildir, write_mbox, write_mh  # noqa: E402

LIMIT = 72 << 20
MESSAGES = 250_000


def _plans_within(source: Path, limit: int, messages: int) -> None:
    """`migrate plan` of `source` in a process whose data segment may not pass `limit`."""
    def limited():
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    run = subprocess.run(["imapwright", "migrate", "plan", str(source)], capture_output=True, text=True,
                         timeout=300, preexec_fn=limited)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == f"1 users, {messages} messages, 0 problems"


def test_a_mbox_larger_than_the_memory_allowed_is_planned(tmp_path):
    (tmp_path / "user").mkdir()
    size = write_mbox(tmp_path / "user" / "INBOX", MESSAGES)
    assert size > LIMIT * 10
    _plans_within(tmp_path, LIMIT, MESSAGES)


MAILDIR_LIMIT, MAILDIR_MESSAGES = 80 << 20, 100_000


def test_a_maildir_of_many_files_is_planned_in_columns_too(tmp_path):
    """A Maildir of 100,000 files under 80 MB: an object per message (PathMessage, about 1.1 KB:
    1,172 MB at a million) needs about 140 MB here; the columns of FileMessages about 70."""
    write_maildir(tmp_path / "user" / "INBOX", MAILDIR_MESSAGES)
    _plans_within(tmp_path, MAILDIR_LIMIT, MAILDIR_MESSAGES)


def test_an_mh_folder_of_many_files_is_planned_in_columns_too(tmp_path):
    """The same for MH: 100,000 numbered files, half of them in an "unseen" range, under 80 MB
    (an object per message, or the range as a set of numbers, does not fit)."""
    write_mh(tmp_path / "user" / "INBOX", MAILDIR_MESSAGES)
    _plans_within(tmp_path, MAILDIR_LIMIT, MAILDIR_MESSAGES)
