"""The upgrade pairs file and the classification of snapshot differences (expected by the release
notes, stale expectation, or finding), on snapshots built here."""

import copy

import pytest

from imapwright.admin.upgrade import Expected, classify, load_pairs
from imapwright.catalogue import lookup


def test_every_pair_names_catalogue_servers_of_one_family_with_referenced_steps():
    pairs = load_pairs()
    assert {("cyrus:3.2", "cyrus:3.6"), ("cyrus:3.6", "cyrus:3.10"), ("dovecot:2.3", "dovecot:2.4")} <= set(pairs)
    for (a, b), pair in pairs.items():
        assert lookup(a).family == lookup(b).family
        assert pair.reference.startswith("https://")
        for step in pair.steps:
            assert step.reference and step.kind in ("start", "exec")
            assert step.run if step.kind == "exec" else step.log
        for e in pair.expected:
            assert e.reason and e.reference


def test_an_unknown_expected_kind_is_refused(tmp_path):
    bad = tmp_path / "pairs.toml"
    bad.write_text('[[pair]]\nfrom="a"\nto="b"\nreference="r"\n[[pair.expected]]\nkind="magic"\nreason="x"\nreference="y"\n')
    with pytest.raises(ValueError, match="unknown expected kind 'magic'"):
        load_pairs(bad)


def snap(acl: dict, flags: list) -> dict:
    return {"ann": {"subscribed": [], "quota": {}, "folders": {"": {
        "uidvalidity": 1, "acl": acl, "quota": [], "messages": {"m" * 64: [flags, "2025-01-01T00:00:00", 1]}}}}}


PREFIX = Expected("acl-identifier-prefix", "#", "2.3 shows global entries with #", "ref")


def test_a_difference_the_release_notes_explain_is_not_a_finding():
    before, after = snap({"#ann": "lr", "bob": "l"}, []), snap({"ann": "lr", "bob": "l"}, [])
    result = classify(before, after, (PREFIX,))
    # ACL differences are per identifier: "#ann" went, "ann" came; both are the one documented change.
    assert result.findings == [] and len(result.explained) == 2 and result.stale == []
    assert {e["reason"] for e in result.explained} == {PREFIX.reason}


def test_an_expected_difference_that_did_not_occur_is_reported_stale():
    before = snap({"ann": "lr"}, [])
    result = classify(before, copy.deepcopy(before), (PREFIX,))
    assert result.findings == [] and result.stale == [{"kind": "acl-identifier-prefix", "value": "#",
                                                       "reason": PREFIX.reason, "reference": "ref"}]


def test_an_unexplained_change_beside_an_explained_one_is_a_finding():
    before, after = snap({"#ann": "lr"}, ["\\Seen"]), snap({"ann": "lr"}, [])
    result = classify(before, after, (PREFIX,))
    assert len(result.explained) == 2
    assert result.findings == [f"ann/INBOX: message {'m' * 12} (dated 2025-01-01) flags ['\\\\Seen'] -> []"]


def test_an_explained_kind_does_not_hide_a_real_acl_change():
    before, after = snap({"#ann": "lr", "bob": "lrs"}, []), snap({"ann": "lr", "bob": "l"}, [])
    result = classify(before, after, (PREFIX,))
    # Per identifier, the documented prefix change is explained and bob's real change stays a finding.
    assert result.findings == ["ann/INBOX: acl bob [lrs] -> [l]"]
    assert len(result.explained) == 2 and result.stale == []


def test_a_step_no_upgrade_guide_names_carries_its_measurement_into_the_report():
    from imapwright.admin.upgrade import StepResult, UpgradeResult
    from imapwright.report.upgrade_html import render_upgrade

    steps = load_pairs()[("dovecot:2.3", "dovecot:2.4")].steps
    ours = [s for s in steps if s.why]
    assert [s.name for s in ours] == ["ACL lists and the shared-mailbox dictionary rebuilt before users log in"]
    result = UpgradeResult("dovecot:2.3", "dovecot:2.4", steps=[
        StepResult(s.name, s.reference, 0.1, True, "(exit 0)", s.why) for s in steps])
    page = render_upgrade({"kind": "upgrade", "run_id": "r", "started": "s", "finished": "f",
                           "result": result.as_dict()})
    assert "Why: Measured (benchmarks/dovecot_acl_rebuild.py" in page
    assert page.count("Why: ") == 1  # steps from the guides say only where they come from


def test_a_path_that_stopped_says_where_and_has_no_end_to_end_verdict():
    from imapwright.admin.upgrade import PathResult, UpgradeResult
    from imapwright.report.upgrade_html import render_upgrade

    done = UpgradeResult("cyrus:3.2", "cyrus:3.6", versions={"cyrus:3.2": "3.2.6", "cyrus:3.6": "3.6.1"})
    stopped = UpgradeResult("cyrus:3.6", "cyrus:3.10", failed="start cyrus:3.10",
                            findings=["cyrus:3.10 did not start on cyrus:3.6's data: exit 75"])
    path = PathResult(["cyrus:3.2", "cyrus:3.6", "cyrus:3.10", "cyrus:3.12"], [done, stopped])
    assert done.passed and not stopped.passed and not path.passed
    page = render_upgrade({"kind": "upgrade", "run_id": "r", "started": "s", "finished": "f",
                           "path": path.as_dict()})
    assert "The path stopped at cyrus:3.10" in page and "no end-to-end comparison" in page
    assert "stopped at start cyrus:3.10" in page and "did not start on cyrus:3.6&#x27;s data" in page
    whole = PathResult(["cyrus:3.2", "cyrus:3.6"], [done], {"findings": ["u1: quota"], "explained": [], "stale": []})
    assert not whole.passed  # every hop clean, but the first store and the last differ



START_LOG = """\
2026-12-07T14:26:50.008069+00:00 vm cyrus/ctl_cyrusdb[49]: skiplist: clean shutdown file missing, updating recovery stamp
2026-12-07T14:26:50.008849+00:00 vm cyrus/ctl_cyrusdb[49]: recovering cyrus databases
2026-12-07T14:26:50.012326+00:00 vm cyrus/ctl_cyrusdb[49]: done recovering cyrus databases
"""  # cyrus:3.6's start, recorded
DBERROR = ("2026-12-07T14:26:50.013000+00:00 vm cyrus/ctl_cyrusdb[49]: DBERROR: opening /var/lib/cyrus/mailboxes.db: "
           "cyrusdb error\n")


class _RecordedLog:
    """What run_step reads of a server: its family, version and log lines (recorded above)."""
    family_name, version_tuple = "cyrus", (3, 6)

    def __init__(self, text):
        from imapwright.servers import logs
        self.lines = logs.parse(text)

    def logs(self, since):
        return self.lines


def test_a_start_step_is_judged_by_the_log_gate_with_the_runs_noise_lists(tmp_path):
    """The start's log lines pass or fail the step as the log gate judges them, so a line the
    admin's --deviations lists (log_gate.use_deviations) does not fail it."""
    from datetime import UTC, datetime

    from imapwright.admin.upgrade import Step, run_step
    from imapwright.servers import log_gate

    step = Step("mailboxes.db upgraded by ctl_cyrusdb -r", "https://example.org", kind="start", log="ctl_cyrusdb")
    since = datetime(2026, 12, 7, tzinfo=UTC)
    assert run_step(_RecordedLog(START_LOG), step, since).ok
    result = run_step(_RecordedLog(START_LOG + DBERROR), step, since)
    assert not result.ok and "DBERROR" in result.output
    (tmp_path / "cyrus.toml").write_text('[[log_noise]]\npattern = "^DBERROR: opening"\nruns = ["upgrade"]\n'
                                         'reason = "r"\nreference = "https://example.org"\n')
    log_gate.use_deviations(tmp_path)
    try:
        assert run_step(_RecordedLog(START_LOG + DBERROR), step, since).ok
    finally:
        log_gate.use_deviations(None)
