"""anyone versus anonymous (RFC 4314 section 2): the book's public list archive, and
`anyone lrs` with `-anonymous s` leaving anonymous sessions only lr."""

import pytest

from imapwright.models.acl import effective_rights, rights_difference
from imapwright.protocol.imap import command, quote

from .scene import Scene, getacl, message, myrights

pytestmark = pytest.mark.requires("anonymous")


@pytest.fixture
def archive(server, users, login):
    owner = users.create("lists")
    client = login(owner)
    own = server.mailbox_name(owner.name, "archive", owner.name)
    client.create_folder(own)
    client.append(own, message("posting 1"))
    return owner, client, own


def test_anonymous_reads_the_list_archive(server, archive):
    owner, client, own = archive
    client.setacl(own, "anonymous", "lrs")
    anon = server.login_anonymous()
    try:
        box = server.mailbox_name(owner.name, "archive", "anonymous")
        assert command(anon, "EXAMINE", quote(box))[0] == "OK"
        assert command(anon, "UID SEARCH", "ALL")[1] == [b"1"]
        command(anon, "CLOSE")
        with pytest.raises(Exception):
            anon.append(box, message("anonymous post"))
    finally:
        anon.logout()


def test_anonymous_entry_does_not_apply_to_authenticated_users(server, users, login, archive):
    owner, client, own = archive
    client.setacl(own, "anonymous", "lrs")
    reader = users.create("reader")
    shown = myrights(Scene.profile_of(server), login(reader), server.mailbox_name(owner.name, "archive", reader.name))
    assert not shown


def test_anyone_lrs_minus_anonymous_s_leaves_anonymous_lr(server, users, login, archive):
    profile = Scene.profile_of(server)
    owner, client, own = archive
    client.setacl(own, "anyone", "lrs")
    client.setacl(own, "-anonymous", "s")
    acl = getacl(server, server.mailbox_name(owner.name, "archive"))
    anon = server.login_anonymous()
    try:
        shown = myrights(profile, anon, server.mailbox_name(owner.name, "archive", "anonymous"))
    finally:
        anon.logout()
    expected = effective_rights(acl, "anonymous", anonymous=True)
    assert expected == profile.parse("lr")
    assert not (d := rights_difference(expected, shown, profile)), f"anonymous: {d}"
    reader = users.create("reader")
    shown = myrights(profile, login(reader), server.mailbox_name(owner.name, "archive", reader.name))
    assert not (d := rights_difference(effective_rights(acl, reader.name), shown, profile)), f"authenticated: {d}"
