"""Malformed ACL commands get the answers RFC 4314 requires."""

import pytest

from imapwright.protocol.imap import command, quote

from .scene import Scene


def test_unknown_right_letter_is_bad(server, users, admin_imap):
    # RFC 4314 section 3.1: "unrecognized rights MUST cause the command to fail with BAD".
    scene = Scene.build(server, users)
    typ, _ = command(admin_imap, "SETACL", quote(scene.mailbox), scene.grantee.name, "lrQ")
    assert typ == "BAD"
    assert scene.grantee.name not in [i.decode() for i, _ in admin_imap.getacl(scene.mailbox)]


@pytest.mark.parametrize("cmd,args", [
    ("SETACL", ("{grantee}", "lr")), ("DELETEACL", ("{grantee}",)), ("GETACL", ()), ("MYRIGHTS", ()),
    ("LISTRIGHTS", ("{grantee}",)),
], ids=["setacl", "deleteacl", "getacl", "myrights", "listrights"])
def test_acl_command_on_missing_mailbox_is_no(server, users, admin_imap, cmd, args):
    scene = Scene.build(server, users, messages=0)
    missing = scene.mailbox + "-missing"
    typ, _ = command(admin_imap, cmd, quote(missing), *(a.format(grantee=scene.grantee.name) for a in args))
    assert typ == "NO"


def test_empty_identifier_is_refused(server, users, admin_imap):
    scene = Scene.build(server, users, messages=0)
    typ, _ = command(admin_imap, "SETACL", quote(scene.mailbox), '""', "lr")
    assert typ in ("NO", "BAD")
    assert b"" not in [i for i, _ in admin_imap.getacl(scene.mailbox)]


def test_setacl_without_administer_right_is_refused(server, users, login):
    scene = Scene.build(server, users, messages=0)
    scene.grant("lrswi")
    typ, _ = command(login(scene.grantee), "SETACL", quote(scene.mailbox), scene.grantee.name, "lrswipkxtea")
    assert typ == "NO"
    assert "a" not in {ch for i, r in getacl_pairs(server, scene.mailbox) if i == scene.grantee.name for ch in r}


def getacl_pairs(server, mailbox):
    with server.admin_imap() as admin:
        return [(i.decode(), r.decode()) for i, r in admin.getacl(mailbox)]


def test_myrights_is_refused_without_l_r_i_k_x_or_a(server, users, login):
    # RFC 4314 section 4: MYRIGHTS needs one of l r i k x a; a user holding only s or w or t
    # learns nothing, not even that the mailbox exists.
    scene = Scene.build(server, users, messages=0)
    scene.grant("swt")
    typ, _ = command(login(scene.grantee), "MYRIGHTS", quote(scene.mailbox))
    assert typ == "NO"
