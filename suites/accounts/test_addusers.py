"""The book's addusers (Example 9-1) on a file of 500 users with bad lines mixed in."""

import random
import time

import pytest

from imapwright.admin.addusers import DEFAULT_FOLDERS, addusers, read_user_list
from imapwright.protocol.imap import list_names, pipeline, quote

COUNT = 500


@pytest.fixture
def user_file(tmp_path, users):
    users.create()  # the consistency check's user
    names = [f"{users.prefix}a{n:03d}" for n in range(COUNT)]
    lines = ["# new students, autumn term", ""]
    for n, name in enumerate(names):
        lines.append(name)
        if n % 97 == 0:
            lines += ["", "Not A Valid Name", name, "# a comment"]  # blank, invalid, duplicate, comment
    path = tmp_path / "users.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, names


def _listing(admin, prefix):
    return sorted(list_names(admin, f"user.{prefix}a*"))


def test_addusers_creates_accounts_folders_and_quotas_once(server, users, admin_imap, user_file, record_property):
    path, names = user_file
    listed = read_user_list(path)
    assert listed.users == names
    assert len(listed.skipped) == 2 * len(range(0, COUNT, 97))

    args = (server.dialer(), server.admin_user, server.admin_password)
    try:
        started = time.monotonic()
        first = addusers(*args, listed.users, mailbox_of=server.user_mailbox)
        record_property("addusers_500_seconds", round(time.monotonic() - started, 2))
        assert (len(first.created), len(first.existing), first.failed) == (COUNT, 0, {})

        tree = _listing(admin_imap, users.prefix)
        assert len(tree) == COUNT * (1 + len(DEFAULT_FOLDERS))
        for name in random.Random(3).sample(names, 10):
            _, quotas = admin_imap.get_quota_root(f"user.{name}")
            assert [(q.resource, q.limit) for q in quotas if q.resource == "STORAGE"] == [("STORAGE", 15360)]

        second = addusers(*args, listed.users, mailbox_of=server.user_mailbox)  # changes nothing the second time
        assert (len(second.created), len(second.existing), second.failed) == (0, COUNT, {})
        assert _listing(admin_imap, users.prefix) == tree
    finally:
        pipeline(*args, [c for name in names for c in (
            f"SETACL {quote('user.' + name)} {server.admin_user} lrswipkxtea", f"DELETE {quote('user.' + name)}")])


def test_one_failing_user_does_not_stop_the_batch(server, users, admin_imap):
    users.create()
    good = [f"{users.prefix}g{n}" for n in range(3)]
    refused = "anyone"  # a valid-looking name the server reserves for ACLs: its CREATE fails
    args = (server.dialer(), server.admin_user, server.admin_password)
    try:
        result = addusers(*args, [good[0], refused, good[1], good[2]], mailbox_of=server.user_mailbox)
        assert sorted(result.created) == sorted(good)
        assert list(result.failed) == [refused]
        assert result.summary() == "3 created, 0 existing, 1 failed"
    finally:
        pipeline(*args, [c for name in good for c in (
            f"SETACL {quote('user.' + name)} {server.admin_user} lrswipkxtea", f"DELETE {quote('user.' + name)}")])
