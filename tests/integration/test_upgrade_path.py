"""The whole Debian path on one mailstore (#29 item 1): Cyrus 3.2 (bullseye) -> 3.6 (bookworm)
-> 3.10 (trixie) -> 3.12 (forky), each hop with its documented steps and a snapshot after it,
reported per hop and end to end."""

import json
import os
import re
import subprocess

from imapwright.admin.upgrade import run_path
from imapwright.catalogue import lookup
from imapwright.stores.store import StoreSize

DEBIAN_PATH = ["cyrus:3.2", "cyrus:3.6", "cyrus:3.10", "cyrus:3.12"]
# Measured 2026-12-06: on a store made by 3.2, an account's STORAGE usage grows by 1 KB when 3.6
# moves its Sieve scripts into user.NAME.#sieve (on their first access, in the 3.2 -> 3.6 hop's
# snapshot after): the pair's expected "sieve-scripts-in-quota". Before the snapshot read the
# scripts first, this showed up a hop later (3.6 -> 3.10) as an unexplained finding.
SIEVE_KB = re.compile(r"^u\d{4}: quota INBOX STORAGE \(usage, limit\) \[(\d+), (\d+)\] -> \[(\d+), \2\]$")


def test_the_debian_path_upgrades_one_store_hop_by_hop(starts_servers):
    path = run_path([lookup(n) for n in DEBIAN_PATH], StoreSize.named("ci"))
    assert [(h.from_, h.to) for h in path.hops] == list(zip(DEBIAN_PATH, DEBIAN_PATH[1:]))
    for hop in path.hops:
        assert not hop.failed and hop.problems == [], (hop.from_, hop.to, hop.failed, hop.problems)
        assert [s.name for s in hop.steps if not s.ok] == [], hop.steps
        assert all(h["checked"] and h["clean"] for h in hop.server_health.values()), hop.server_health
        assert hop.versions[hop.from_] != hop.versions[hop.to]  # each hop really runs the next version
        assert hop.counts == path.hops[0].counts  # nothing lost from one hop to the next
        assert hop.stale == []
    assert path.hops[0].prerequisite.startswith("The 3.6 guide asks for 3.2.10")  # not met on Debian: shown
    assert path.hops[2].prerequisite.endswith("(met).")
    first, second, third = path.hops
    assert first.findings == second.findings == third.findings == []
    moved = [e["difference"] for e in first.explained if e["reason"].startswith("3.6 keeps a user's Sieve scripts")]
    assert moved and all((m := SIEVE_KB.match(d)) and int(m[3]) == int(m[1]) + 1 for d in moved), first.explained
    assert path.end_to_end["findings"] == []
    assert path.passed


def test_the_path_from_the_command_line_reports_each_hop_and_the_whole(tmp_path, starts_servers):
    run = subprocess.run(["imapwright", "upgrade", *DEBIAN_PATH[1:], "--users", "3", "--messages", "2",
                          "--suites", "", "--reports", str(tmp_path)], capture_output=True, text=True,
                         timeout=900, env={**os.environ, "COLUMNS": "200"})
    assert run.returncode in (0, 1), run.stderr[-2000:]
    out = run.stdout + run.stderr  # the report lines go to the terminal console (stderr)
    for a, b in zip(DEBIAN_PATH[1:], DEBIAN_PATH[2:]):
        assert f"{a} -> {b}: " in out
    assert "end to end cyrus:3.6 -> cyrus:3.12: " in out
    [folder] = list(tmp_path.iterdir())
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["path"]["servers"] == DEBIAN_PATH[1:] and len(summary["path"]["hops"]) == 2
    assert run.returncode == (0 if summary["path"]["passed"] else 1)
    page = (folder / "index.html").read_text()
    assert "<h2>Hops</h2>" in page and "End to end, cyrus:3.6 -&gt; cyrus:3.12" in page
