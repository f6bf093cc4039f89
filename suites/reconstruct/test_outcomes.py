"""Fault x server outcomes: real spool files damaged, the documented repair run, and what comes back
checked message by message. What every repair must do is asserted here (nothing lost that the
fault did not destroy, nothing altered, flags and dates kept where the index survived, a second
repair finds nothing); what differs between faults and versions (UIDs, UIDVALIDITY, flags after a
lost index, seen state) goes into the report's reconstruct table."""

from __future__ import annotations

import json

import pytest

from imapwright.servers.faults.spool import CYRUS_FAULTS, DOVECOT_FAULTS, Fault

from .spool import populate

pytestmark = pytest.mark.requires("exec", "files")

ALL = [pytest.param(f, id=f"{f.family}-{f.name}", marks=pytest.mark.requires(f.family))
       for f in CYRUS_FAULTS + DOVECOT_FAULTS]


def _outcome(fault, before, after, repair, second_repair):
    kept = set(before.owner) & set(after.owner)
    lost, gained = set(before.owner) - set(after.owner), set(after.owner) - set(before.owner)
    return {
        "fault": fault.what,
        "lost": len(lost), "gained": len(gained),
        "uids_kept": all(before.owner[d].uid == after.owner[d].uid for d in kept),
        "uidvalidity_kept": before.uidvalidity == after.uidvalidity,
        "uids_reused": sorted(s.uid for d, s in after.owner.items()
                              if {b.uid: k for k, b in before.owner.items()}.get(s.uid, d) != d),
        "flags_kept": all(before.owner[d].flags == after.owner[d].flags for d in kept),
        "dates_kept": all(before.owner[d].date == after.owner[d].date for d in kept),
        "sharer_seen_kept": before.sharer_seen & kept == after.sharer_seen & kept,
        "repair_exit": repair.exit_code,
        "repair_output": repair.output.strip().splitlines()[-5:],
        "second_repair": second_repair or ["nothing to do"],
    }


def _cell(o):
    parts = [f"REPAIR FAILED (exit {o['repair_exit']})"] if o["repair_exit"] else []
    parts += [f"lost {o['lost']}" if o["lost"] else "none lost"]
    parts += [f"gained {o['gained']}"] if o["gained"] else []
    parts += [f"UIDs REUSED {o['uids_reused']}"] if o["uids_reused"] else []
    parts += [f"{what} {'kept' if o[key] else 'CHANGED'}" for key, what in
              (("uids_kept", "UIDs"), ("uidvalidity_kept", "UIDVALIDITY"), ("flags_kept", "flags"),
               ("dates_kept", "dates"), ("sharer_seen_kept", "sharer's seen"))]
    return ", ".join(parts)


@pytest.mark.parametrize("fault", ALL)
@pytest.mark.provokes("error", reason="the test damages the mailbox's files on disk: the server and reconstruct "
                                     "report the damage as I/O errors (a crash still fails it)")
def test_repair_after_fault(server, users, fault: Fault, record_property, consistency):
    box = populate(server, users)
    before = box.view()
    fault.damage(server, box.victim)
    repair = fault.repair(server, box.victim)
    after = box.view()
    second = consistency(server, [box.owner.name, box.sharer.name])
    outcome = _outcome(fault, before, after, repair, second)
    record_property("table:reconstruct", json.dumps({"row": fault.name, "cell": _cell(outcome), "detail": outcome}))

    assert repair.exit_code == 0, f"the documented repair failed: {repair.output.strip()[-300:]}"
    destroyed = before.owner.keys() - after.owner.keys()
    victim_digest = next(d for d, seen in before.owner.items() if seen.uid == box.victim.uids[1])
    lost_uids = sorted(before.owner[d].uid for d in destroyed)
    altered = sorted({seen.uid for seen in after.owner.values()} & set(lost_uids))
    assert len(destroyed) == fault.destroys, \
        f"messages lost: UIDs {lost_uids}; of these, with other content under the same UID: {altered}"
    assert destroyed <= {victim_digest}, "a message the fault did not touch was lost"
    assert len(after.owner.keys() - before.owner.keys()) == fault.adds, "unexpected messages appeared"
    if fault.keeps_index:
        kept = before.owner.keys() & after.owner.keys()
        assert {d: (before.owner[d].flags, before.owner[d].date) for d in kept} == \
               {d: (after.owner[d].flags, after.owner[d].date) for d in kept}, "flags or dates changed"
    # RFC 9051 2.3.1.1: under one UIDVALIDITY a UID never names a different message.
    if before.uidvalidity == after.uidvalidity:
        by_uid = {seen.uid: d for d, seen in before.owner.items()}
        reused = sorted(seen.uid for d, seen in after.owner.items() if by_uid.get(seen.uid, d) != d)
        assert reused == [], f"UIDs {reused} now name other messages, UIDVALIDITY unchanged"
    assert second == [], "a second repair still finds work"
