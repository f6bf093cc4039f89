"""The book's "horked quota" and quota -f; removing quota roots. Cyrus keeps usage on disk."""

import time

import pytest

from imapwright.servers.cyrus_tools import parse_repairs
from imapwright.servers.faults import quota as faults

from .account import QuotaAccount

pytestmark = pytest.mark.requires("quota-repair")


def _three_accounts(server, users):
    accounts = [QuotaAccount.build(server, users, storage_kb=1000) for _ in range(3)]
    for n, account in enumerate(accounts):
        account.append(10_000 * (n + 1))
    return accounts


def test_horked_quota_is_reported_and_repaired_for_exactly_the_wrong_roots(server, users):
    accounts = _three_accounts(server, users)
    wrong = accounts[:2]
    for account in wrong:
        faults.set_stored_storage(server, account.user.mailbox, 5_000_000)
    for account in accounts:  # the damage shows where it was done, and only there
        shown = account.reported()["STORAGE"][0]
        assert (shown == 5_000_000 // 1024) == (account in wrong)
    out = server.tool("quota", "-f", *(a.user.mailbox for a in accounts)).check().output  # repairs go to stderr
    repairs = [(root, was) for root, res, was, _now in parse_repairs(out) if res == "STORAGE"]
    assert sorted(repairs) == sorted((a.user.mailbox, 5_000_000) for a in wrong), out
    for account in accounts:
        assert account.reported() == account.expected()


def test_repair_keeps_nested_roots(server, users):
    # Cyrus issue #2877: quota -f removed or changed nested quota roots.
    account = QuotaAccount.build(server, users, storage_kb=1000, folders=("archive",))
    server.set_quota(account.key("archive"), storage_kb=300)
    account.model.set_root(account.key("archive"), storage=300)
    account.append(40_000, "archive")
    faults.set_stored_storage(server, account.key("archive"), 1)
    server.tool("quota", "-f", account.user.mailbox).check()
    assert account.reported("archive") == account.expected("archive") == {"STORAGE": (39, 300)}
    assert account.reported() == account.expected()


def test_removing_a_root_with_setquota_keeps_mail_and_counts_it_under_the_parent(server, users):
    account = QuotaAccount.build(server, users, storage_kb=1000, folders=("archive",))
    server.set_quota(account.key("archive"), storage_kb=300)
    account.append(40_000, "archive")
    server.set_quota(account.key("archive"))  # SETQUOTA with no resources
    account.model.set_root(account.key("archive"))
    assert account.reported("archive") == account.expected("archive") == account.expected()
    account.client.select_folder(account.own("archive"), readonly=True)
    assert len(account.client.search()) == 1


def test_removing_a_root_the_books_way_keeps_mail(server, users):
    # The book: delete the root's quota record, then repair with quota -f.
    account = QuotaAccount.build(server, users, storage_kb=1000, folders=("archive",))
    server.set_quota(account.key("archive"), storage_kb=300)
    account.append(40_000, "archive")
    faults.delete_record(server, account.key("archive"))
    server.tool("quota", "-f", account.user.mailbox).check()
    account.model.set_root(account.key("archive"))
    assert account.reported("archive") == account.expected("archive")
    account.client.select_folder(account.own("archive"), readonly=True)
    assert len(account.client.search()) == 1


def test_folder_churn_leaves_quota_f_nothing_to_fix(server, users):
    """Create, rename and delete folders under a quota root, as users do all day (the load's
    admin-churn scenario): the per-root folder count Cyrus keeps (X-NUM-FOLDERS) stays right."""
    user = users.create()
    server.set_quota(server.quota_root(user.name), storage_kb=10_000)
    client = users.login(user)
    name = lambda folder: server.mailbox_name(user.name, folder, user.name)  # noqa: E731
    for n in range(3):
        client.create_folder(name(f"churn{n}"))
    client.rename_folder(name("churn0"), name("renamed"))
    client.delete_folder(name("churn1"))
    client.delete_folder(name("renamed"))
    assert server.consistency_problems([user.name]) == []


def test_concurrent_folder_churn_leaves_quota_f_nothing_to_fix(server, users):
    """The same from four sessions at once while the admin changes the root's limit, as the load's
    admin-churn scenario does it."""
    import threading

    user = users.create()
    server.set_quota(server.quota_root(user.name), storage_kb=10_000)
    name = lambda folder: server.mailbox_name(user.name, folder, user.name)  # noqa: E731
    errors = []

    def churn(k: int) -> None:
        client = server.login(user.name, user.password)
        try:
            for n in range(15):
                client.create_folder(name(f"c{k}x{n}"))
                client.rename_folder(name(f"c{k}x{n}"), name(f"c{k}y{n}"))
                client.delete_folder(name(f"c{k}y{n}"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            client.logout()

    def set_quotas() -> None:  # the scenario's quota admin changes the limit meanwhile
        for n in range(30):
            server.set_quota(server.quota_root(user.name), storage_kb=10_000 + n)

    threads = [threading.Thread(target=churn, args=(k,)) for k in range(4)] + [threading.Thread(target=set_quotas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.consistency_problems([user.name]) == []


@pytest.mark.parametrize("verb", ["CREATE", "RENAME", "DELETE"])
def test_a_folder_command_cut_off_by_a_dropped_connection_leaves_quota_f_nothing_to_fix(server, users, verb):
    """A client that sends CREATE, RENAME or DELETE and drops the connection before the answer (a
    killed client, a load run's end): whether the command took effect or not, the root's folder
    count matches the folders there are."""
    from imapwright.protocol.imap import quote

    user = users.create()
    server.set_quota(server.quota_root(user.name), storage_kb=10_000)
    client = users.login(user)
    name = lambda folder: quote(server.mailbox_name(user.name, folder, user.name))  # noqa: E731
    for n in range(20):
        if verb != "CREATE":
            client.create_folder(server.mailbox_name(user.name, f"cut{n}", user.name))
        sock, reader, _greeting = server.dialer().connect(timeout=30)
        with sock, reader:
            sock.sendall(f"a LOGIN {quote(user.name)} {quote(user.password)}\r\n".encode())
            while not (line := reader.readline()).startswith(b"a "):
                assert line, "server closed the connection at LOGIN"
            assert line.startswith(b"a OK"), line
            args = name(f"cut{n}") + (f" {name(f'renamed{n}')}" if verb == "RENAME" else "")
            sock.sendall(f"b {verb} {args}\r\n".encode())  # and gone before the answer
    # Each dropped session's server process finishes its last command on its own time (ms); the
    # check runs once, after that: before Cyrus 3.4 it repairs what it reports, so no retrying.
    time.sleep(2)
    assert server.consistency_problems([user.name]) == []

