"""Bad input through cyradm: the error text each mistake gets (recorded, so a change of wording or
of outcome is seen) and the server state unchanged (LIST, GETACL, GETQUOTAROOT before and after)."""

import pytest

from imapwright.admin.cyradm import run_cyradm
from imapwright.protocol.imap import command, list_names, quote

pytestmark = [pytest.mark.requires("cyrus", "exec"), pytest.mark.destructive]

# command template -> what cyradm prints (a regular expression; the same on 3.2 to 3.12 unless
# listed in a deviation). {box} exists, {missing} does not.
MISTAKES = {
    "lam {missing}": r"^Mailbox does not exist$",  # without the command's name, unlike the others
    "sam {box} {friend} rubbish": r"^setaclmailbox: {friend}: rubbish: The u right is not supported$",
    "sq {missing} 100": r"^quota:100\nsetquota: Mailbox does not exist$",
    "dm {missing}": r"^deletemailbox: Mailbox does not exist$",
    "cm {box}": r"^createmailbox: Mailbox already exists$",
    "renm {missing} {missing}2": r"^renamemailbox: Mailbox does not exist$",
}


def _state(server, box):
    with server.admin_imap() as admin:
        names = list_names(admin, f"{box}*")
        acl = sorted(admin.getacl(box))
        root = command(admin, "GETQUOTAROOT", quote(box))
    return names, acl, root


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_mistake_gets_its_error_and_changes_nothing(server, users, mistake):
    import re

    friend = users.create("friend")
    box = f"{users.prefix}bad"
    run_cyradm(server, [f"cm {box}", f"sam {box} {friend.name} lr"])
    before = _state(server, box)
    line = mistake.format(box=box, missing=f"{box}-missing", friend=friend.name)
    run = run_cyradm(server, [line])
    expected = MISTAKES[mistake].format(friend=re.escape(friend.name))
    assert re.search(expected, run.outputs[0]), f"{line!r} printed {run.outputs[0]!r}"
    assert _state(server, box) == before
