"""Negative rights (-identifier) for users and groups, checked against the model and by real reads."""

from imapwright.models.acl import effective_rights

from .operations import read
from .scene import Scene, getacl, myrights




def test_negative_user_entry_removes_rights_granted_to_anyone(server, users, login):
    scene = Scene.build(server, users)
    scene.grant("lrs", identifier="anyone")
    scene.grant("rs", identifier=f"-{scene.grantee.name}")
    acl = getacl(server, scene.mailbox)
    assert effective_rights(acl, scene.grantee.name) == scene.profile.parse("l")
    assert myrights(scene.profile, login(scene.grantee), scene.mailbox) == scene.profile.parse("l")
    assert not read(scene)


def test_negative_group_entry_removes_rights_from_members_only(server, users, login):
    scene = Scene.build(server, users)
    outsider = users.create("outsider")
    group = f"{users.prefix}interns"
    server.set_groups(scene.grantee.name, [group])
    scene.grant("lrsw", identifier="anyone")
    scene.grant("w", identifier=f"-{scene.profile.group(group)}")
    acl = getacl(server, scene.mailbox)
    assert myrights(scene.profile, login(scene.grantee), scene.mailbox) == \
        effective_rights(acl, scene.grantee.name, [group]) == scene.profile.parse("lrs")
    assert myrights(scene.profile, login(outsider), scene.mailbox) == \
        effective_rights(acl, outsider.name) == scene.profile.parse("lrsw")


def test_negative_group_entry_removes_rights_granted_through_another_group(server, users, login):
    scene = Scene.build(server, users)
    staff, interns = f"{users.prefix}staff", f"{users.prefix}interns"
    server.set_groups(scene.grantee.name, [staff, interns])
    scene.grant("lrswi", identifier=scene.profile.group(staff))
    scene.grant("wi", identifier=f"-{scene.profile.group(interns)}")
    acl = getacl(server, scene.mailbox)
    expected = effective_rights(acl, scene.grantee.name, [staff, interns])
    assert expected == scene.profile.parse("lrs")
    assert myrights(scene.profile, login(scene.grantee), scene.mailbox) == expected


def test_negative_entry_for_user_beats_its_own_positive_entry(server, users, login):
    scene = Scene.build(server, users)
    scene.grant("lrsw")
    scene.grant("sw", identifier=f"-{scene.grantee.name}")
    acl = getacl(server, scene.mailbox)
    assert myrights(scene.profile, login(scene.grantee), scene.mailbox) == \
        effective_rights(acl, scene.grantee.name) == scene.profile.parse("lr")
