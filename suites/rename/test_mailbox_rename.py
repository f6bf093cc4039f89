"""renamemailbox on today's servers: children follow (the book: only the one mailbox), contents,
flags, dates, ACLs and subscriptions survive; the edge cases RFC 9051 names."""

import hashlib
from datetime import datetime, timezone

import pytest

from imapwright.protocol.imap import command, list_names, quote


@pytest.fixture
def owner(users, login, server):
    user = users.create("renamer")
    client = login(user)

    def name(folder):
        return server.mailbox_name(user.name, folder, user.name)

    return user, client, name


def _contents(client, mailbox):
    client.select_folder(mailbox, readonly=True)
    uids = client.search()
    data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]) if uids else {}
    client.unselect_folder()
    return sorted((hashlib.sha256(d[b"BODY[]"]).hexdigest(), tuple(sorted(f for f in d[b"FLAGS"] if f != b"\\Recent")),
                   d[b"INTERNALDATE"].isoformat()) for d in data.values())


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


def test_uidvalidity_after_rename_is_recorded(owner, record_property):
    _user, client, name = owner
    client.create_folder(name("uv"))
    _fill(client, name("uv"), 1)
    before = client.folder_status(name("uv"), [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    client.rename_folder(name("uv"), name("uv2"))
    after = client.folder_status(name("uv2"), [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    record_property("uidvalidity_kept", before == after)
    client.select_folder(name("uv2"), readonly=True)
    assert client.search() == [1, 2]  # UIDs within the new UIDVALIDITY (kept or not) start from 1
