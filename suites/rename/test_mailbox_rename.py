"""renamemailbox on today's servers: children follow (the book: only the one mailbox), contents,
flags, dates, ACLs and subscriptions survive; the edge cases RFC 9051 names."""

import hashlib
from datetime import datetime, timezone

import pytest

from imapwright.stores.tree import read_messages
from imapwright.protocol.imap import command, get_metadata, list_names, quote, set_metadata

from ..quota.account import QuotaAccount


@pytest.fixture
def owner(users, login, server):
    user = users.create("renamer")
    client = login(user)

    def name(folder):
        return server.mailbox_name(user.name, folder, user.name)

    return user, client, name


def _contents(client, mailbox):
    return sorted((hashlib.sha256(m.content).hexdigest(), tuple(sorted(m.flags)), m.date.isoformat())
                  for m in read_messages(client, mailbox))


def _fill(client, mailbox, n):
    when = datetime(2025, 12, 24, 18, 0, tzinfo=timezone.utc)
    for k in range(2):
        client.append(mailbox, f"Subject: {n}.{k}\r\n\r\n{n} {k}\r\n".encode(),
                      [b"\\Seen", b"$Important"] if k else [b"\\Answered"], when)


def test_rename_moves_every_child(owner):
    _user, client, name = owner
    tree = ["projects", "projects.alpha", "projects.alpha.notes", "projects.beta"]
    for n, folder in enumerate(tree):
        client.create_folder(name(folder))
        _fill(client, name(folder), n)
    before = {f: _contents(client, name(f)) for f in tree}
    client.rename_folder(name("projects"), name("work"))
    after = {f: _contents(client, name("work" + f[len("projects"):])) for f in tree}
    assert after == before
    assert [f for f in tree if list_names(client, name(f))] == []


def test_rename_keeps_acl_entries(owner, users, server):
    _user, client, name = owner
    friend = users.create("friend")
    client.create_folder(name("shared"))
    client.setacl(name("shared"), friend.name, "lrs")
    client.rename_folder(name("shared"), name("shared2"))
    acl = {i.decode(): r.decode() for i, r in client.getacl(name("shared2"))}
    assert set(acl.get(friend.name, "")) >= set("lrs")


def test_rename_carries_the_subscription(owner):
    _user, client, name = owner
    client.create_folder(name("news"))
    client.subscribe_folder(name("news"))
    client.rename_folder(name("news"), name("olds"))
    subscribed = [n for _f, _s, n in client.list_sub_folders()]
    assert name("olds") in subscribed and name("news") not in subscribed


def test_rename_onto_an_existing_name_is_refused(owner):
    _user, client, name = owner
    for folder in ("a", "b"):
        client.create_folder(name(folder))
        _fill(client, name(folder), folder)
    before = _contents(client, name("b"))
    typ, _ = command(client, "RENAME", quote(name("a")), quote(name("b")))
    assert typ == "NO"
    assert _contents(client, name("b")) == before


def test_rename_into_a_missing_parent_creates_it(owner):
    # RFC 9051 6.3.6: the server creates any superior hierarchical names that do not exist.
    _user, client, name = owner
    client.create_folder(name("loose"))
    client.rename_folder(name("loose"), name("new.parent.loose"))
    assert list_names(client, name("new.parent.loose")) == [name("new.parent.loose")]


def test_renaming_inbox_moves_its_messages_and_inbox_stays(owner, server, user_inbox_size=3):
    # RFC 9051 6.3.6: renaming INBOX moves all its messages to a new mailbox; INBOX stays, empty.
    user, client, name = owner
    for n in range(user_inbox_size):
        client.append("INBOX", f"Subject: inbox {n}\r\n\r\n{n}\r\n".encode())
    before = _contents(client, "INBOX")
    client.rename_folder("INBOX", name("old-inbox"))
    assert _contents(client, name("old-inbox")) == before
    assert _contents(client, "INBOX") == []


@pytest.mark.parametrize("folder", ["with space", "caf\u00e9 \u00fcber", "a&b", "deep.l1.l2.l3.l4.l5"],
                         ids=["space", "non-ascii", "ampersand", "deep"])
def test_rename_of_awkward_names(owner, folder):
    _user, client, name = owner
    client.create_folder(name(folder))
    _fill(client, name(folder), 1)
    before = _contents(client, name(folder))
    client.rename_folder(name(folder), name(folder + " renamed"))
    assert _contents(client, name(folder + " renamed")) == before
    assert not list_names(client, name(folder))


def test_rename_keeps_uidvalidity_and_uids(owner):
    # RFC 9051 allows a new UIDVALIDITY after RENAME, but then every client must refetch the
    # mailbox; a server that changes it is recorded in its deviations file.
    _user, client, name = owner
    client.create_folder(name("uv"))
    _fill(client, name("uv"), 1)
    before = client.folder_status(name("uv"), [b"UIDVALIDITY", b"UIDNEXT"])
    client.rename_folder(name("uv"), name("uv2"))
    after = client.folder_status(name("uv2"), [b"UIDVALIDITY", b"UIDNEXT"])
    assert after == before
    client.select_folder(name("uv2"), readonly=True)
    assert client.search() == [1, 2]


@pytest.mark.parametrize("entry", ["/private/comment", "/shared/comment"])
def test_rename_keeps_mailbox_annotations(owner, entry):
    # RFC 5464 section 3.2: annotations belong to the mailbox; RENAME must not lose them.
    _user, client, name = owner
    client.create_folder(name("annotated"))
    client.create_folder(name("annotated.child"))
    set_metadata(client, name("annotated"), {entry: "parent note"})
    set_metadata(client, name("annotated.child"), {entry: "child note"})
    client.rename_folder(name("annotated"), name("noted"))
    assert get_metadata(client, name("noted"), entry) == {entry: "parent note"}
    assert get_metadata(client, name("noted.child"), entry) == {entry: "child note"}


@pytest.mark.requires("quota-roots")
def test_rename_between_two_users_moves_quota_usage_without_doubling(server, users, admin_imap):
    # The admin moves a folder from one account to another: its usage leaves the first quota
    # root and arrives in the second, once (Cyrus issue #461 doubled usage across roots).
    giver = QuotaAccount.build(server, users, storage_kb=1000, folders=("stuff",))
    taker = QuotaAccount.build(server, users, storage_kb=1000)
    model = taker.model = giver.model  # one model over both roots
    model.set_root(taker.user.mailbox, storage=1000)
    model.create(taker.user.mailbox)
    giver.append(50_000, "stuff")
    giver.append(20_000)
    source = server.mailbox_name(giver.user.name, "stuff")
    target = server.mailbox_name(taker.user.name, "stuff")
    for mailbox in (source, server.mailbox_name(taker.user.name)):
        admin_imap.setacl(mailbox, server.admin_user, "lrswipkxtea")
    typ, data = command(admin_imap, "RENAME", quote(source), quote(target))
    assert typ == "OK", data
    model.rename(giver.key("stuff"), taker.key("stuff"))
    assert giver.reported() == model.report(giver.user.mailbox)
    assert taker.reported() == model.report(taker.user.mailbox)
