"""A pair that cannot be upgraded in place is a finding with the server's own output, not a crash
of the harness: Cyrus 3.6 started on a store written by 3.10 (a downgrade, which no guide
supports) cannot read the newer index files; reconstruct rebuilds them, and the comparison shows
what that cost."""


from imapwright.stores.store import StoreSize
from imapwright.admin.upgrade import Pair, Step, run_upgrade
from imapwright.catalogue import lookup


def test_a_downgrade_runs_to_the_end_and_reports_what_changed(starts_servers):
    pair = Pair("cyrus:3.10", "cyrus:3.6", "(a downgrade: no documentation)", "", (
        Step("reconstruct", "Cyrus reconstruct(8)", run=("{bin}/reconstruct",)),))
    result = run_upgrade(lookup("cyrus:3.10"), lookup("cyrus:3.6"), StoreSize(3, 3), pair=pair)
    assert result.failed == ""  # it ran to the end: the result is the report, not an exception
    assert not result.passed
    [step] = result.steps
    assert "failed to read index header" in step.output  # the server's own words
    assert any(": uidvalidity " in f for f in result.findings)
    assert any(" flags ['\\\\Seen'] -> []" in f for f in result.findings)
