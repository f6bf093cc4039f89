"""Quota usage (RFC 9208) after each kind of change, compared with the reference model."""

import pytest

from imapwright.admin.quota import listquotaroot

from .account import QuotaAccount


def test_setquota_15000_and_listquotaroot_as_in_the_book(server, users):
    account = QuotaAccount.build(server, users, storage_kb=15000)
    account.append(7 * 1024)
    lines = [str(line) for line in listquotaroot(account.client, "INBOX")]
    storage = [line for line in lines if " STORAGE " in line]
    assert storage and storage[0].endswith(f" STORAGE {account.expected()['STORAGE'][0]}/15000 (0%)"), lines


def test_usage_after_append(server, users):
    account = QuotaAccount.build(server, users, storage_kb=1000, messages=100, folders=("drafts",))
    for size, folder in ((3000, ""), (50_000, "drafts"), (1, "drafts")):
        assert account.append(size, folder)
        assert account.reported(folder) == account.expected(folder)


def test_usage_after_copy_and_move(server, users):
    account = QuotaAccount.build(server, users, storage_kb=1000, messages=100, folders=("archive",))
    account.append(20_000)
    c = account.client
    c.select_folder("INBOX")
    c.copy([1], account.own("archive"))
    account.model.store(account.key("archive"), 20_000)
    assert account.reported() == account.expected()
    c.move([1], account.own("archive"))
    sizes = account.model.mailboxes[account.key("")]
    account.model.mailboxes[account.key("archive")].append(sizes.pop())
    assert account.reported() == account.expected()


def test_usage_after_expunge(server, users):
    account = QuotaAccount.build(server, users, storage_kb=1000, messages=100)
    for size in (10_000, 20_000, 30_000):
        account.append(size)
    c = account.client
    c.select_folder("INBOX")
    c.add_flags([2], [b"\\Deleted"])
    assert account.reported() == account.expected()  # \Deleted alone frees nothing
    c.expunge()
    account.model.expunge(account.key(""), 1)
    assert account.reported() == account.expected()


def test_usage_after_deleting_a_folder(server, users):
    account = QuotaAccount.build(server, users, storage_kb=1000, messages=100, folders=("old",))
    account.append(40_000, "old")
    account.append(5_000)
    assert account.reported() == account.expected()
    account.client.delete_folder(account.own("old"))
    account.model.delete(account.key("old"))
    assert account.reported() == account.expected()


@pytest.mark.requires("lmtp")
def test_usage_after_lmtp_delivery(server, users):
    account = QuotaAccount.build(server, users, storage_kb=1000, messages=100)
    for size in (2_000, 25_000):
        assert account.deliver(size).accepted
    assert account.reported() == account.expected()


@pytest.mark.requires("quota-roots")
def test_nested_root_counts_its_own_subtree(server, users):
    account = QuotaAccount.build(server, users, storage_kb=1000, folders=("archive", "archive.2026"))
    server.set_quota(account.key("archive"), storage_kb=200)
    account.model.set_root(account.key("archive"), storage=200)
    account.append(30_000, "archive.2026")
    account.append(10_000)
    assert account.reported("archive.2026") == account.expected("archive.2026")
    assert account.reported() == account.expected()


@pytest.mark.requires("quota-roots")
def test_rename_into_and_out_of_a_root_moves_usage_without_doubling(server, users):
    # Cyrus issue #461: renaming a mailbox between quota roots doubled the usage.
    account = QuotaAccount.build(server, users, storage_kb=1000, folders=("inside", "boxes"))
    server.set_quota(account.key("boxes"), storage_kb=500)
    account.model.set_root(account.key("boxes"), storage=500)
    account.append(60_000, "inside")
    account.client.rename_folder(account.own("inside"), account.own("boxes.inside"))
    account.model.rename(account.key("inside"), account.key("boxes.inside"))
    assert account.reported() == account.expected()
    assert account.reported("boxes") == account.expected("boxes")
    account.client.rename_folder(account.own("boxes.inside"), account.own("out"))
    account.model.rename(account.key("boxes.inside"), account.key("out"))
    assert account.reported() == account.expected()
    assert account.reported("boxes") == account.expected("boxes")


def test_getquota_of_the_root_agrees_with_getquotaroot(server, users):
    # RFC 9208 section 4.2: GETQUOTA names a root as GETQUOTAROOT reported it.
    account = QuotaAccount.build(server, users, storage_kb=500, messages=50)
    account.append(12_000)
    roots, quotas = account.client.get_quota_root("INBOX")
    assert len(roots.quota_roots) == 1
    via_root = account.client.get_quota(roots.quota_roots[0])
    assert [(q.resource, q.usage, q.limit) for q in via_root] == [(q.resource, q.usage, q.limit) for q in quotas]
