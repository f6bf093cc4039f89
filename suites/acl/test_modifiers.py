"""SETACL with a leading + or - (RFC 4314 section 3.1): "+rights" adds to the identifier's current
rights and "-rights" removes from them, the rest of the entry untouched; a plain string replaces.
For users, groups, `anyone` and negative identifiers, each compared with the model (GETACL) and
with what the grantee can then do (MYRIGHTS)."""

import pytest

from imapwright.models.acl import ACL, effective_rights
from imapwright.protocol.imap import command, quote

from .scene import Scene, getacl, myrights

KINDS = ("user", "group", "anyone", "negative-user", "negative-group")


def _identifier(scene: Scene, kind: str, group: str) -> str:
    return {"user": scene.grantee.name, "group": scene.profile.group(group), "anyone": "anyone",
            "negative-user": f"-{scene.grantee.name}", "negative-group": f"-{scene.profile.group(group)}"}[kind]


def _entries(acl: ACL) -> dict[str, str]:
    # A negative entry without rights takes nothing away: Dovecot 2.4 shows such entries after a
    # SETACL (see test_setacl_adds_no_entry_of_its_own); the rights they give are compared.
    return {k: v for k, v in acl.rendered().items() if v or not k.startswith("-")}


def _setacl(scene: Scene, identifier: str, rights: str) -> None:
    with scene.server.admin_imap() as admin:
        typ, data = command(admin, "SETACL", quote(scene.mailbox), quote(identifier), quote(rights))
    assert typ == "OK", (identifier, rights, data)


@pytest.mark.parametrize("kind", KINDS)
def test_plus_adds_and_minus_removes_only_the_named_rights(server, users, login, kind):
    scene = Scene.build(server, users)
    group = f"{users.prefix}team"
    server.set_groups(scene.grantee.name, [group])
    ident = _identifier(scene, kind, group)
    if kind.startswith("negative"):
        scene.grant("lrswi", identifier="anyone")  # rights a negative entry can take away
    model: ACL = getacl(server, scene.mailbox)
    for rights in ("lr", "+sw", "-r", "+ri", "-wi", "lrs"):
        _setacl(scene, ident, rights)
        model.setacl(ident, rights)
        shown = getacl(server, scene.mailbox)
        assert _entries(shown) == _entries(model), f"after SETACL {ident} {rights}"
    # The sequence ends at a replacement; the grantee's own view follows the entry.
    assert myrights(scene.profile, login(scene.grantee), scene.mailbox) == \
        effective_rights(model, scene.grantee.name, [group])


@pytest.mark.parametrize("kind", ("user", "anyone"))
def test_removing_every_right_with_minus_leaves_no_access(server, users, login, kind):
    scene = Scene.build(server, users)
    ident = _identifier(scene, kind, "")
    _setacl(scene, ident, "lrs")
    _setacl(scene, ident, "-lrs")
    model = getacl(server, scene.mailbox)
    assert effective_rights(model, scene.grantee.name) == frozenset()
    # No rights at all: MYRIGHTS is refused (the mailbox is invisible) or answers nothing.
    assert myrights(scene.profile, login(scene.grantee), scene.mailbox) in (None, frozenset())


def test_plus_on_an_identifier_without_an_entry_creates_it(server, users):
    scene = Scene.build(server, users)
    _setacl(scene, scene.grantee.name, "+lr")
    assert getacl(server, scene.mailbox).entries.get(scene.grantee.name) == scene.profile.parse("lr")


def test_setacl_adds_no_entry_of_its_own(server, users):
    """SETACL changes the entry it names and nothing else in the mailbox's ACL."""
    scene = Scene.build(server, users)
    before = getacl(server, scene.mailbox).rendered()
    _setacl(scene, scene.grantee.name, "lr")
    after = getacl(server, scene.mailbox).rendered()
    assert after == {**before, scene.grantee.name: scene.profile.render(scene.profile.parse("lr"))}
