"""Account rename: refused by default as in the book, native with allowusermoves, and the book's
workaround (Example 9-2); both ways end with the same mailboxes, message for message."""

from datetime import datetime, timedelta, timezone

import pytest

from imapwright.admin import rename_account
from imapwright.protocol.imap import command, list_names, quote

pytestmark = pytest.mark.requires("cyrus")
FOLDERS = ("drafts", "sent-mail", "projects", "projects.2026")


def populate(server, users, name):
    user = users.create(name)
    client = users.login(user)
    base = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    for n, folder in enumerate(("", *FOLDERS)):
        own = "INBOX" + (f".{folder}" if folder else "")
        if folder:
            client.create_folder(own)
        for k in range(3):
            flags = [b"\\Flagged"] if k == 1 else [b"$Label1"] if k == 2 else []
            msg = (f"Subject: {folder or 'inbox'} {k}\r\nMessage-ID: <{folder}-{k}@rename.test>\r\n\r\n"
                   f"body {n} {k}\r\n").encode()
            client.append(own, msg, flags, base + timedelta(days=n, minutes=k))
    server.set_quota(user.mailbox, storage_kb=5000)
    client.setacl("INBOX.projects", "anyone", "lr")
    with server.sieve_client(user.name, user.password) as sieve:
        sieve.put_script("vacation", 'require "vacation";\r\nvacation "away";\r\n')
        sieve.put_script("main", 'keep;\r\n')
        sieve.set_active("main")
    return user


def _scripts(server, user):
    with server.admin_sieve(user) as sieve:
        return {name: (active, sieve.get_script(name)) for name, active in sieve.list_scripts().items()}


def test_account_rename_is_refused_by_default(server, users, admin_imap):
    user = users.create("refused")
    typ, data = command(admin_imap, "RENAME", quote(user.mailbox), quote(user.mailbox + "x"))
    assert typ == "NO"
    assert b"Operation is not supported on mailbox" in b" ".join(data)


@pytest.mark.requires("sieve")
def test_native_rename_and_workaround_end_with_the_same_content(private_server, users):
    from imapwright.pytest_plugin.users import UserFactory

    private_server.reconfigure(allowusermoves=True)
    factory = UserFactory(private_server)
    a, b = populate(private_server, factory, "alpha"), populate(private_server, factory, "beta")
    before_a = rename_account.snapshot(private_server, a.mailbox)
    scripts = _scripts(private_server, a.name)
    assert before_a == rename_account.snapshot(private_server, b.mailbox)

    rename_account.native(private_server, a.name, a.name + "new")
    rename_account.workaround(private_server, b.name, b.name + "new")

    after_native = rename_account.snapshot(private_server, a.mailbox + "new")
    after_workaround = rename_account.snapshot(private_server, b.mailbox + "new")
    assert after_native == before_a
    assert after_workaround == before_a
    assert _scripts(private_server, a.name + "new") == _scripts(private_server, b.name + "new") == scripts
    with private_server.admin_imap() as admin:
        for old in (a.mailbox, b.mailbox):
            assert list_names(admin, old) == list_names(admin, old + ".*") == []
        for new in (a.mailbox + "new", b.mailbox + "new"):
            _, quotas = admin.get_quota_root(new)
            assert [(q.quota_root, q.resource, q.limit) for q in quotas if q.resource == "STORAGE"] == \
                [(new, "STORAGE", 5000)]
            acl = dict(admin.getacl(new + ".projects"))
            assert acl.get(b"anyone") == b"lr"
