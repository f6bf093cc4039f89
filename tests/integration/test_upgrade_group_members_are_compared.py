"""Group membership is part of what an upgrade must keep: the store's group members read others'
sent-mail (group lr) and the team folder through the group alone. An upgrade after which the
members are gone (here a step that empties the group in the new container, which is what
happened before the Cyrus image kept the harness's groups on the volume) is reported as
folders the members no longer see, never as a clean upgrade."""

from dataclasses import replace

from imapwright.stores.store import StoreSize, group_members
from imapwright.admin.upgrade import Step, find_pair, run_upgrade
from imapwright.catalogue import lookup

EMPTY_THE_GROUP = Step("members of staff removed", "(the harness's own self-test)", user="root",
                       run=("sed", "-i", "-E", r"s/^(staff:[^:]*:[^:]*):.*/\1:/", "/etc/group"))


def test_an_upgrade_that_loses_group_members_is_a_finding(starts_servers):
    pair = find_pair("cyrus:3.6", "cyrus:3.10")
    pair = replace(pair, steps=pair.steps + (EMPTY_THE_GROUP,))
    size = StoreSize(6, 2)
    result = run_upgrade(lookup("cyrus:3.6"), lookup("cyrus:3.10"), size, pair=pair)
    assert result.failed == "" and result.problems == []  # FROM had the members as designed
    users = [f"u{i:04d}" for i in range(size.users)]
    lost = sorted(f for f in result.findings if "no longer" in f)
    assert lost and {f.split()[0] for f in lost} == set(group_members(users))
    assert "u0002 sees user.u0000.team: folder no longer visible" in lost
    assert "u0002 sees user.u0003.sent-mail: folder no longer visible" in lost
    # What a member holds by its own name stays: its neighbour's work folder and the board.
    assert not [f for f in lost if f.startswith("u0002 sees user.u0001.work") or ".board" in f]
