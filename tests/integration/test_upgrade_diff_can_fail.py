"""The upgrade comparison notices what an upgrade could do wrong: between two snapshots of a
populated store one flag, one ACL entry and one quota limit change, and the comparison reports
exactly those three, each for what it is."""

from imapwright.stores.snapshot import differences, store_snapshot
from imapwright.stores.store import StoreSize, populate_store
from imapwright.admin.upgrade import classify


def test_one_flag_one_acl_entry_one_quota_limit_make_exactly_three_differences(server, users):
    users.create()  # the consistency check after the test runs for this test's accounts
    store = populate_store(server, StoreSize(3, 6), prefix=f"{users.prefix}s")
    before = store_snapshot(server, store.accounts)
    assert differences(before, store_snapshot(server, store.accounts)) == []  # a snapshot is repeatable

    owner, sharer = sorted(store.accounts)[:2]
    with server.login(owner, store.accounts[owner]) as client:
        client.select_folder(server.mailbox_name(owner, "", owner))
        uid = client.search(["SEEN"])[0]
        client.remove_flags([uid], [b"\\Seen"])  # 1. a flag
        client.setacl(server.mailbox_name(owner, "work", owner), sharer, "lr")  # 2. an ACL entry (was lrsw)
    server.set_quota(server.user_mailbox(owner), storage_kb=90_000)  # 3. a quota limit (was 100000)
    after = store_snapshot(server, store.accounts)

    found = differences(before, after)
    assert len(found) == 3, found
    assert sum(f"{owner}/INBOX: message " in d and " flags " in d for d in found) == 1
    assert sum(d == f"{owner}/work: acl {sharer} [lrsw] -> [lr]" for d in found) == 1
    assert sum(d.startswith(f"{owner}: quota ") and "100000" in d and "90000" in d for d in found) == 1
    assert classify(before, after, ()).findings == found  # nothing expected: all three are findings
