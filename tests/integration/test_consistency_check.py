"""The after-test consistency check must see real damage, or it proves nothing."""

import re

import pytest

from imapwright.protocol.imap import command


@pytest.fixture
def populated(server, users, admin_imap):
    user = users.create()
    admin_imap.setacl(user.mailbox, server.admin_user, "lrswipkxtecda")
    admin_imap.create_folder(f"{user.mailbox}.sub")
    admin_imap.append(f"{user.mailbox}.sub", b"Subject: one\r\n\r\n" + b"x" * 3000)
    return user


@pytest.mark.requires("cyrus")
def test_cyrus_check_sees_stray_message_file(server, populated):
    path = server.mailbox_path(f"{populated.mailbox}.sub")
    server.write_file(path + "/2.", server.read_file(path + "/1."))
    problems = server.consistency_problems([populated.name])
    assert any("uid 2 found" in p for p in problems), problems
    server.tool("reconstruct", "-r", populated.mailbox).check()  # leave it clean


@pytest.mark.requires("cyrus")
def test_cyrus_check_sees_wrong_quota_usage(server, populated, admin_imap):
    assert command(admin_imap, "SETQUOTA", f'"{populated.mailbox}"', "(STORAGE 1000)")[0] == "OK"
    path = server.exec(["sh", "-c", f"ls /srv/imapwright/config/quota/*/{populated.mailbox}"]).check().stdout.strip()
    server.write_file(path, re.sub(rb"S \((\d+)", rb"S (99999", server.read_file(path)))
    problems = server.consistency_problems([populated.name])
    assert any("usage was 99999" in p for p in problems), problems
    server.tool("quota", "-f", populated.mailbox).check()


@pytest.mark.requires("cyrus")
def test_cyrus_check_of_users_whose_names_prefix_each_other_finds_nothing_and_keeps_their_roots(server, users):
    """Cyrus's quota tool takes its arguments as prefixes: checking u1 with u10 and u11 once counted
    their roots twice (false "usage was 1, now 2"; on 3.2, whose quota -f repairs, a root removed)."""
    accounts = [users.create(name) for name in ("p1", "p10", "p11")]
    for account in accounts:
        server.set_quota(server.quota_root(account.name), storage_kb=1000)
    assert server.consistency_problems([a.name for a in accounts]) == []
    for account in accounts:  # each root still there, with its own folder counted once
        assert server.consistency_problems([account.name]) == []
        listed = server.tool("quota", account.mailbox).check().output
        assert re.search(rf"\s{re.escape(account.mailbox)}$", listed, re.M), listed


@pytest.mark.requires("dovecot")
def test_dovecot_check_sees_damaged_index(server, populated):
    # The admin's appends index the folder under the admin's home (shared namespace); the owner's
    # own access writes the index files in the owner's Maildir, which is what gets damaged here.
    with server.user_session(populated.name) as own:
        own.select_folder(server.mailbox_name(populated.name, "sub", populated.name), readonly=True)
    path = server.mailbox_path(f"{populated.mailbox}.sub")
    log = server.read_file(path + "/dovecot.index.log")
    server.write_file(path + "/dovecot.index.log", log[:40] + b"\xff" * 64 + log[104:])
    server.delete_file(path + "/dovecot-uidlist")
    assert server.consistency_problems([populated.name])
