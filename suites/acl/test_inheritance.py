"""Default ACLs and inheritance: owner rights on a new account, children copying their parent's
ACL at creation time, the default ACL of top-level mailboxes, and what an administrator can do."""

import pytest

from imapwright.models.acl import (acl_difference, new_account_acl, new_child_acl, new_toplevel_acl,
                                   rights_difference)
from imapwright.protocol.imap import command, list_names, quote

from .scene import Scene, getacl, myrights


def test_owner_of_new_account_has_the_servers_owner_rights(server, users, login):
    profile = Scene.profile_of(server)
    owner = users.create()
    shown = myrights(profile, login(owner), server.mailbox_name(owner.name, "", owner.name))
    assert not (d := rights_difference(profile.parse(profile.owner_default), shown, profile)), d


@pytest.mark.requires("cyrus")
def test_new_account_acl_names_the_owner(server, users):
    profile = Scene.profile_of(server)
    owner = users.create()
    assert not (d := acl_difference(new_account_acl(profile, owner.name), getacl(server, owner.mailbox))), d


def test_child_copies_parent_acl_at_creation_and_not_later(server, users, login):
    profile = Scene.profile_of(server)
    owner, friend, later = users.create("owner"), users.create("friend"), users.create("later")
    o = login(owner)
    parent = server.mailbox_name(owner.name, "projects", owner.name)
    o.create_folder(parent)
    o.setacl(parent, friend.name, "lrs")
    parent_acl = getacl(server, server.mailbox_name(owner.name, "projects"))
    o.create_folder(server.mailbox_name(owner.name, "projects.2026", owner.name))
    child = server.mailbox_name(owner.name, "projects.2026")
    assert not (d := acl_difference(new_child_acl(parent_acl), getacl(server, child))), d
    o.setacl(parent, later.name, "lrs")  # after the child exists
    assert later.name not in getacl(server, child).entries
    assert myrights(profile, login(friend), server.mailbox_name(owner.name, "projects.2026", friend.name)) == \
        profile.parse("lrs")


@pytest.mark.requires("cyrus")
def test_toplevel_mailbox_gets_the_default_acl(server, users, admin_imap):
    profile = Scene.profile_of(server)
    name = f"{users.prefix}bulletin"
    users.create()  # the consistency check runs for the test's users
    admin_imap.create_folder(name)
    try:
        assert not (d := acl_difference(new_toplevel_acl(profile), getacl(server, name))), d
    finally:
        admin_imap.setacl(name, server.admin_user, "lrswipkxtea")
        admin_imap.delete_folder(name)


@pytest.mark.requires("cyrus")
def test_owner_keeps_implicit_rights_after_its_entry_is_deleted(server, users, login, admin_imap):
    # Measured on Cyrus 3.6: after DELETEACL of the owner's entry, GETACL shows the owner again
    # with exactly the implicit owner rights (imapd.conf implicit_owner_rights), and so does
    # MYRIGHTS.
    profile = Scene.profile_of(server)
    owner = users.create()
    assert command(admin_imap, "DELETEACL", quote(owner.mailbox), owner.name)[0] == "OK"
    implicit = profile.parse(profile.implicit_owner)
    entry = getacl(server, owner.mailbox).entries.get(owner.name)
    assert not (d := rights_difference(implicit, entry, profile)), f"GETACL owner entry: {d}"
    shown = myrights(profile, login(owner), "INBOX")
    assert not (d := rights_difference(implicit, shown, profile)), f"MYRIGHTS: {d}"


@pytest.mark.requires("cyrus")
def test_admin_holds_lookup_and_administer_without_any_acl_entry(server, users, admin_imap):
    profile = Scene.profile_of(server)
    owner = users.create()
    assert server.admin_user not in getacl(server, owner.mailbox).entries
    assert owner.mailbox in list_names(admin_imap, owner.mailbox)
    assert myrights(profile, admin_imap, owner.mailbox) >= profile.parse(profile.implicit_admin)
    assert command(admin_imap, "SETACL", quote(owner.mailbox), "anyone", "l")[0] == "OK"
    # ... but not insert: appending needs an ACL entry (ENVIRONMENT.md: "Mailbox does not exist").
    assert command(admin_imap, "EXAMINE", quote(owner.mailbox))[0] == "NO"


def test_getacl_after_setacl_shows_exactly_the_old_entries_plus_the_new_one(server, users):
    scene = Scene.build(server, users, messages=0)
    before = getacl(server, scene.mailbox)
    scene.grant("lr", identifier="anyone")
    before.setacl("anyone", "lr")
    assert getacl(server, scene.mailbox).rendered() == before.rendered()
