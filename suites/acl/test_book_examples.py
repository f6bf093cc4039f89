"""The book's worked ACL examples, end to end, with MYRIGHTS compared to the reference model.

Mailbox names are the viewer's: Dovecot shows the owner its own folders in its private
namespace and everyone else under user.OWNER (server.mailbox_name).
"""

import pytest

from imapwright.models.acl import effective_rights
from imapwright.protocol.imap import list_names, quote

from .scene import Scene, getacl, message, myrights, ok


def test_johndoe_shares_grant_proposal_read_only_with_annsmith(server, users, login):
    profile = Scene.profile_of(server)
    johndoe, annsmith, outsider = users.create("johndoe"), users.create("annsmith"), users.create("outsider")

    def box(viewer):
        return server.mailbox_name(johndoe.name, "grant-proposal", viewer and viewer.name)

    owner = login(johndoe)
    owner.create_folder(box(johndoe))
    owner.append(box(johndoe), message("draft"))
    owner.setacl(box(johndoe), annsmith.name, profile.render(profile.expand_abbreviation("read")))

    acl = getacl(server, box(None))
    ann = login(annsmith)
    assert myrights(profile, ann, box(annsmith)) == effective_rights(acl, annsmith.name) == profile.parse("lrs")
    ann.select_folder(box(annsmith), readonly=True)
    assert ann.search() == [1]
    with pytest.raises(Exception):
        ann.append(box(annsmith), message("annsmith edits"))
    other = login(outsider)
    assert not myrights(profile, other, box(outsider))
    assert box(outsider) not in list_names(other, "*")


def test_helpdesk_group_writes_and_boss_administers(server, users, login):
    profile = Scene.profile_of(server)
    owner, mary, joe, boss, outsider = (users.create(n) for n in ("desk", "mary", "joe", "boss", "outsider"))
    group = f"{users.prefix}helpdesk"
    for member in (mary, joe):
        server.set_groups(member.name, [group])

    def queue(viewer):
        return server.mailbox_name(owner.name, "queue", viewer and viewer.name)

    o = login(owner)
    o.create_folder(queue(owner))
    o.setacl(queue(owner), profile.group(group), "".join(sorted(profile.expand_abbreviation("write"))))
    o.setacl(queue(owner), boss.name, "".join(sorted(profile.all_rights())))
    acl = getacl(server, queue(None))

    for user, groups in ((mary, [group]), (joe, [group]), (boss, []), (outsider, [])):
        expected = effective_rights(acl, user.name, groups)
        assert (myrights(profile, login(user), queue(user)) or frozenset()) == expected, user.name

    m = login(mary)
    m.append(queue(mary), message("ticket"))
    assert not ok(m, "SETACL", quote(queue(mary)), "anyone", "lr")  # write is not administer
    assert ok(login(boss), "SETACL", quote(queue(boss)), "anyone", "l")


@pytest.mark.requires("lmtp")
def test_announce_folders_are_read_by_anyone_and_posts_by_others_land_in_inbox(server, users, login):
    profile = Scene.profile_of(server)
    announce, johndoe, msmith, reader = (users.create(n) for n in ("announce", "johndoe", "msmith", "reader"))
    a = login(announce)
    for folder in ("events", "for_sale", "official_notices"):
        own = server.mailbox_name(announce.name, folder, announce.name)
        a.create_folder(own)
        a.setacl(own, "anyone", "lrs")
        a.setacl(own, johndoe.name, "lrsp")
        a.setacl(own, msmith.name, "lrsp")
        acl = getacl(server, server.mailbox_name(announce.name, folder))
        assert effective_rights(acl, johndoe.name) == profile.parse("lrsp")
        seen_by_reader = myrights(profile, login(reader), server.mailbox_name(announce.name, folder, reader.name))
        assert seen_by_reader == effective_rights(acl, reader.name) == profile.parse("lrs")
    a.append(server.mailbox_name(announce.name, "events", announce.name), message("bake sale"))
    r = login(reader)
    r.select_folder(server.mailbox_name(announce.name, "events", reader.name), readonly=True)
    assert len(r.search()) == 1
    # An LMTP delivery is nobody in particular: without p for anyone it lands in the INBOX.
    inbox = server.mailbox_name(announce.name, "", announce.name)
    before = a.folder_status(inbox, ["MESSAGES"])[b"MESSAGES"]
    with server.lmtp_client() as lmtp:
        [res] = lmtp.deliver(message("spam for sale"), [f"{announce.name}+for_sale@imapwright.test"])
    assert res.accepted
    for_sale = server.mailbox_name(announce.name, "for_sale", announce.name)
    assert a.folder_status(for_sale, ["MESSAGES"])[b"MESSAGES"] == 0
    assert a.folder_status(inbox, ["MESSAGES"])[b"MESSAGES"] == before + 1
