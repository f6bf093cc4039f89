"""The book's listmailbox patterns: `*` crosses hierarchy levels, `%` stays within one."""

import pytest

from imapwright.protocol.imap import list_names

FOLDERS = ("drafts", "sent-mail")


@pytest.fixture
def abt_accounts(server, users, admin_imap):
    """abt0003 and abt0008 with the book's default folders, and one account outside the abt pattern."""
    accounts = [users.create("abt0003"), users.create("abt0008"), users.create("xyz0001")]
    for account in accounts:
        for folder in FOLDERS:
            admin_imap.create_folder(f"{account.mailbox}.{folder}")
    return accounts


def test_percent_lists_accounts_only(abt_accounts, admin_imap):
    names = list_names(admin_imap, "user.%")
    assert {a.mailbox for a in abt_accounts} <= set(names)
    assert all(name.count(".") == 1 for name in names), [n for n in names if n.count(".") != 1]


def test_percent_with_prefix_lists_matching_accounts(abt_accounts, admin_imap, users):
    names = list_names(admin_imap, f"user.{users.prefix}abt%")
    assert sorted(names) == sorted(a.mailbox for a in abt_accounts[:2])


def test_star_lists_whole_hierarchies(abt_accounts, admin_imap, users):
    names = list_names(admin_imap, f"user.{users.prefix}abt*")
    expected = [a.mailbox for a in abt_accounts[:2]] + [f"{a.mailbox}.{f}" for a in abt_accounts[:2] for f in FOLDERS]
    assert sorted(names) == sorted(expected)
