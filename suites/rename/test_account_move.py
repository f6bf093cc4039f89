"""A whole account renamed by the server (Cyrus with allowusermoves): everything that belongs to the
user moves with it. One rename per server, one behaviour checked per test; the known Cyrus
user-rename bugs (sieve scripts and subscriptions lost) are among them as regression tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from imapwright.admin import rename_account
from imapwright.protocol.imap import list_names
from imapwright.pytest_plugin.users import UserFactory
from imapwright.servers.handle import ServerHandle

pytestmark = pytest.mark.requires("cyrus", "sieve")
FOLDERS = ("drafts", "sent-mail", "projects", "projects.2026")
SUBSCRIBED = ("INBOX.drafts", "INBOX.projects.2026")
SCRIPT = 'require "fileinto";\r\nif header :contains "subject" "report" { fileinto "INBOX.projects"; }\r\n'


@dataclass
class Move:
    server: ServerHandle
    old: str
    new: str
    password: str = field(repr=False)
    reader: object = None  # the user the account shares a folder with
    before: dict = field(default_factory=dict)

    def login_new(self):
        return self.server.login(self.new, self.password)


def _own_folders(client):
    return sorted(f for _fl, _d, f in client.list_folders("", "INBOX*"))


def _seen(client, folders):
    out = {}
    for folder in folders:
        client.select_folder(folder, readonly=True)
        out[folder] = sorted(client.search(["SEEN"]))
        client.unselect_folder()
    return out


def _quota(server, root):
    with server.admin_imap() as admin:
        roots, quotas = admin.get_quota_root(root)
    return [(q.quota_root, q.resource, q.usage, q.limit) for q in quotas]


@pytest.fixture(scope="module")
def moved(server):
    """Populate an account on a fresh server with allowusermoves, record it, RENAME it."""
    if not server.owned:
        pytest.skip("needs a server imapwright starts (reconfigured with allowusermoves)")
    from imapwright.servers.managed import start_server

    handle = start_server(server.spec, {"allowusermoves": True})
    try:
        factory = UserFactory(handle)
        owner, reader = factory.create("alpha"), factory.create("reader")
        move = Move(handle, owner.name, owner.name + "moved", owner.password, reader)
        client = handle.login(owner.name, owner.password)
        base = datetime(2026, 2, 1, 8, 0, tzinfo=timezone.utc)
        for n, folder in enumerate(FOLDERS):
            client.create_folder(f"INBOX.{folder}")
        for n, folder in enumerate(("INBOX", *(f"INBOX.{f}" for f in FOLDERS))):
            for k in range(4):
                client.append(folder, f"Subject: {folder} {k}\r\n\r\n{n} {k}\r\n".encode(),
                              [b"\\Seen"] if k % 2 else [b"$Label1"], base + timedelta(hours=n, minutes=k))
        for folder in SUBSCRIBED:
            client.subscribe_folder(folder)
        client.setacl("INBOX.projects", reader.name, "lrs")
        client.setacl("INBOX.projects", "anyone", "lr")
        # The sharer's own seen state on the owner's folder (Cyrus keeps it per reader).
        shared = factory.login(reader)
        shared.select_folder(f"{owner.mailbox}.projects")
        shared.add_flags([1, 2], [b"\\Seen"])
        shared.create_folder("INBOX.for-alpha")
        shared.setacl("INBOX.for-alpha", owner.name, "lrsw")
        factory.close_clients()
        handle.set_quota(owner.mailbox, storage_kb=5000)
        with handle.sieve_client(owner.name, owner.password) as sieve:
            sieve.put_script("main", SCRIPT)
            sieve.set_active("main")
        move.before = {
            "folders": _own_folders(client),
            "seen": _seen(client, ["INBOX", *(f"INBOX.{f}" for f in FOLDERS)]),
            "subscribed": sorted(f for _fl, _d, f in client.list_sub_folders()),
            "snapshot": rename_account.snapshot(handle, owner.mailbox),
            "quota": _quota(handle, owner.mailbox),
            "acl": {f: sorted(client.getacl(f)) for f in ("INBOX", "INBOX.projects")},
        }
        client.logout()
        rename_account.native(handle, owner.name, move.new)
        handle.set_password(move.new, move.password)
        yield move
    finally:
        handle.stop()


def test_account_move_keeps_every_folder(moved):
    with moved.login_new() as client:
        assert _own_folders(client) == moved.before["folders"]
    with moved.server.admin_imap() as admin:
        assert list_names(admin, f"user.{moved.old}") == list_names(admin, f"user.{moved.old}.*") == []


def test_account_move_keeps_every_message_with_flags_and_dates(moved):
    assert rename_account.snapshot(moved.server, f"user.{moved.new}") == moved.before["snapshot"]


def test_account_move_keeps_the_owners_seen_state(moved):
    with moved.login_new() as client:
        assert _seen(client, list(moved.before["seen"])) == moved.before["seen"]


def test_account_move_keeps_a_sharers_seen_state(moved):
    reader = moved.reader
    with moved.server.login(reader.name, reader.password) as client:
        client.select_folder(f"user.{moved.new}.projects", readonly=True)
        assert client.search(["SEEN"]) == [1, 2]


def test_account_move_keeps_subscriptions(moved):
    with moved.login_new() as client:
        assert sorted(f for _fl, _d, f in client.list_sub_folders()) == moved.before["subscribed"]


def test_account_move_keeps_the_quota_root_limit_and_usage(moved):
    new_root = f"user.{moved.new}"
    expected = [(new_root, res, usage, limit) for _root, res, usage, limit in moved.before["quota"]]
    assert _quota(moved.server, new_root) == expected


def test_account_move_keeps_sieve_scripts_and_the_active_one(moved):
    with moved.server.sieve_client(moved.new, moved.password) as sieve:
        assert sieve.list_scripts() == {"main": True}
        assert sieve.get_script("main") == SCRIPT


def test_account_move_renames_the_owners_acl_entries(moved):
    with moved.login_new() as client:
        for folder, before in moved.before["acl"].items():
            renamed = sorted((moved.new.encode() if ident == moved.old.encode() else ident, rights)
                             for ident, rights in before)
            assert sorted(client.getacl(folder)) == renamed


def test_account_move_leaves_no_entry_for_the_old_name_on_a_sharers_folder(moved):
    # The old name is free to be given to somebody else: rights it held must not pass to them.
    reader = moved.reader
    with moved.server.login(reader.name, reader.password) as client:
        idents = [ident.decode() for ident, _r in client.getacl("INBOX.for-alpha")]
    assert moved.old not in idents


def test_account_move_frees_the_old_name(moved):
    fresh = secrets.token_urlsafe(12)
    moved.server.create_user(moved.old, fresh)
    with moved.server.login(moved.old, fresh) as client:
        assert _own_folders(client) == ["INBOX"]
