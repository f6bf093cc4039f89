"""In-place upgrades of a populated store (the reduced CI store: 12 accounts), one per version
pair in fixtures/upgrade/pairs.toml: every documented step succeeds, and the store after the
upgrade equals the store before, but for the differences the pair's release notes lead us to
expect; an expected difference that stopped occurring fails too, so the list stays true.
The full store runs from the command line: `imapwright upgrade FROM TO`."""

import pytest

from imapwright.stores.store import StoreSize
from imapwright.admin.upgrade import load_pairs, run_upgrade
from imapwright.catalogue import lookup

PAIRS = sorted(load_pairs())


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_upgrade_in_place_keeps_the_store(pair, starts_servers, record_property):
    from_, to = pair
    result = run_upgrade(lookup(from_), lookup(to), StoreSize.named("ci"))
    record_property("upgrade", f"{from_} -> {to}: {len(result.findings)} findings, "
                               f"{len(result.explained)} expected differences, timings {result.timings}")
    assert not result.failed, result.findings + result.problems
    assert result.problems == []  # FROM holds the store as it was made
    assert result.versions[from_] != result.versions[to]  # the new server really runs the new version
    failed_steps = [f"{s.name}:\n{s.output}" for s in result.steps if not s.ok]
    assert not failed_steps, failed_steps
    assert result.findings == []
    assert result.stale == [], "expected differences that no longer occur: update fixtures/upgrade/pairs.toml"
    counts = result.counts
    assert counts["accounts"] == 12 and counts["messages"] == 12 * 12 + 2 * 3
    assert counts["shared views"] >= 12  # every account sees its neighbour's work folder
