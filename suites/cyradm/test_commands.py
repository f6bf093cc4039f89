"""The book's tool: every cyradm command the chapter uses, by its long and its short name, in batch
mode against the server, each outcome checked over IMAP (LIST, GETACL, GETQUOTA) or against the
mailbox's partition on disk."""

import pytest

from imapwright.admin.cyradm import run_cyradm
from imapwright.models.acl import PROFILES, ACL
from imapwright.protocol.imap import list_names

pytestmark = [pytest.mark.requires("cyrus", "exec"), pytest.mark.destructive]

LONG_SHORT = {"listmailbox": "lm", "createmailbox": "cm", "deletemailbox": "dm", "renamemailbox": "renm",
              "setaclmailbox": "sam", "deleteaclmailbox": "dam", "listaclmailbox": "lam", "setquota": "sq",
              "listquota": "lq", "listquotaroot": "lqr"}


def _name(command: str, form: str) -> str:
    return command if form == "long" else LONG_SHORT[command]


def _clean(run) -> None:
    errors = [f"{c}: {o}" for c, o in zip(run.commands, run.outputs) if ": " in o and "quota:" not in o]
    assert not errors, errors


@pytest.fixture
def box(users):
    """A top-level shared mailbox name unique to the test (created by the test through cyradm)."""
    return f"{users.prefix}shared"


@pytest.mark.parametrize("form", ("long", "short"))
def test_createmailbox_listmailbox_and_deletemailbox(server, admin_imap, box, form):
    run = run_cyradm(server, [f"{_name('createmailbox', form)} {box}", f"{_name('createmailbox', form)} {box}.sub",
                              f"{_name('listmailbox', form)} {box}*", f"{_name('listmailbox', form)} {box}%"])
    _clean(run)
    assert list_names(admin_imap, f"{box}*") == [box, f"{box}.sub"]
    # * crosses levels, % does not (the book's user.abt* / user.abt%).
    assert f"{box}.sub" in run.outputs[2] and f"{box}.sub" not in run.outputs[3] and box in run.outputs[3]
    # The book: the admin grants itself d (today x) before it may delete; leaf first.
    run = run_cyradm(server, [f"{_name('setaclmailbox', form)} {box}.sub {server.admin_user} all",
                              f"{_name('deletemailbox', form)} {box}.sub",
                              f"{_name('setaclmailbox', form)} {box} {server.admin_user} all",
                              f"{_name('deletemailbox', form)} {box}"])
    _clean(run)
    assert list_names(admin_imap, f"{box}*") == []


def test_deletemailbox_removes_everything_below(server, admin_imap, box):
    """The book: deletemailbox removes a mailbox and everything below it."""
    run_cyradm(server, [f"cm {box}", f"cm {box}.sub", f"cm {box}.sub.deeper"])
    run = run_cyradm(server, [f"sam {box} {server.admin_user} all", f"dm {box}"])
    assert list_names(admin_imap, f"{box}*") == [], run.outputs[1]


def test_deletemailbox_of_an_account_removes_its_folders(server, admin_imap, users):
    user = users.create()
    run_cyradm(server, [f"cm {user.mailbox}.drafts", f"cm {user.mailbox}.sent-mail"])
    run = run_cyradm(server, [f"sam {user.mailbox} {server.admin_user} all", f"dm {user.mailbox}"])
    _clean(run)
    assert list_names(admin_imap, f"{user.mailbox}*") == []


@pytest.mark.parametrize("form", ("long", "short"))
@pytest.mark.requires("partitions")
def test_createmailbox_and_renamemailbox_with_a_partition(server, admin_imap, box, form):
    cm, renm = _name("createmailbox", form), _name("renamemailbox", form)
    run = run_cyradm(server, [f"{cm} {box} second", f"{cm} {box}2"])
    _clean(run)
    assert server.mailbox_path(box).startswith(server.partitions()["second"])
    assert server.mailbox_path(f"{box}2").startswith(server.partitions()["default"])
    # Moving a mailbox to another partition: same name, the partition named (the book's form).
    run = run_cyradm(server, [f"{renm} {box}2 {box}2 second"])
    _clean(run)
    assert server.mailbox_path(f"{box}2").startswith(server.partitions()["second"])
    run = run_cyradm(server, [f"{renm} {box} {box}-renamed"])
    _clean(run)
    assert list_names(admin_imap, f"{box}-renamed") == [f"{box}-renamed"]


@pytest.mark.parametrize("form", ("long", "short"))
def test_setaclmailbox_deleteaclmailbox_and_listaclmailbox(server, admin_imap, box, users, form):
    profile = PROFILES[server.family_name]
    friend = users.create("friend")
    run = run_cyradm(server, [f"cm {box}", f"{_name('setaclmailbox', form)} {box} {friend.name} lrsw",
                              f"{_name('setaclmailbox', form)} {box} anyone lr",
                              f"{_name('deleteaclmailbox', form)} {box} anyone",
                              f"{_name('listaclmailbox', form)} {box}"])
    _clean(run)
    acl = ACL.parse_entries(profile, [(i.decode(), r.decode()) for i, r in admin_imap.getacl(box)])
    assert acl.entries.get(friend.name) == profile.parse("lrsw") and "anyone" not in acl.entries
    listed = dict(line.split() for line in run.outputs[-1].splitlines() if line.strip())
    assert {k: profile.parse_reported(v) for k, v in listed.items()} == acl.entries


@pytest.mark.parametrize("form", ("long", "short"))
def test_setquota_listquota_and_listquotaroot(server, admin_imap, users, form):
    user = users.create()
    run = run_cyradm(server, [f"{_name('setquota', form)} {user.mailbox} 15360",
                              f"{_name('listquota', form)} {user.mailbox}",
                              f"{_name('listquotaroot', form)} {user.mailbox}"])
    assert admin_imap.get_quota_root(user.mailbox)[1][0].limit == 15360
    assert "STORAGE 0/15360 (0%)" in run.outputs[1]
    assert f"{user.mailbox} STORAGE 0/15360 (0%)" in run.outputs[2]
