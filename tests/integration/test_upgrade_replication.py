"""Upgrade by replication (#29 item 3): FROM the master, TO (Debian's cyrus-replication:
sync_server) its replica, a full initial sync, rolling replication while deliveries and flag
changes keep coming, then the switch. The new primary holds what the master held (snapshots
compared) and every delivery the master acknowledged; the lag and the switch time are measured;
a message removed on the replica after the switch is reported."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from imapwright.admin.replicate import run_replication
from imapwright.catalogue import lookup
from imapwright.stores.store import StoreSize

PAIRS = [("cyrus:3.2", "cyrus:3.6"), ("cyrus:3.6", "cyrus:3.10"), ("cyrus:3.10", "cyrus:3.12")]


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_the_replica_takes_over_with_every_acknowledged_delivery(starts_servers, pair):
    result = run_replication(lookup(pair[0]), lookup(pair[1]), StoreSize(6, 3), duration=6)
    assert not result.failed and result.findings == [] and result.problems == [], (
        result.failed, result.findings, result.problems)
    assert [s.name for s in result.steps if not s.ok] == []
    assert result.traffic["deliveries"] > 50 and result.traffic["flag_changes"] > 10, result.traffic
    d = result.deliveries
    assert d["acknowledged"] == result.traffic["deliveries"] and d["missing_count"] == 0, d
    assert result.lag["probes"] > 0 and result.lag["lost"] == 0 and result.lag["max"] < 10, result.lag
    assert 0 < result.switch["total"] < 30, result.switch
    assert all(h["checked"] and h["clean"] for h in result.server_health.values()), result.server_health
    assert result.stale == []
    assert result.passed


def test_a_message_removed_on_the_replica_after_the_switch_is_reported(starts_servers):
    user = "u0001"
    removed = []

    def remove_newest(stage, server, store):
        if stage == "promoted":
            with server.user_session(user) as client:
                client.select_folder("INBOX")
                newest = max(client.search())
                removed.append(client.fetch([newest], [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])[newest])
                client.delete_messages([newest])
                client.expunge()
    result = run_replication(lookup("cyrus:3.6"), lookup("cyrus:3.10"), StoreSize(4, 2), duration=3,
                             observe=remove_newest)
    assert removed and not result.passed
    assert any(f.startswith(f"{user}/INBOX") or f.startswith(f"{user}: ") for f in result.findings), result.findings
    # A traffic delivery (the newest message): also missing from the ledger's account.
    assert result.deliveries["missing_count"] == 1 and result.deliveries["missing"][0].startswith(user), result.deliveries


def test_the_command_reports_lag_switch_and_deliveries(starts_servers, tmp_path):
    run = subprocess.run(["imapwright", "upgrade", "cyrus:3.10", "cyrus:3.12", "--via", "replication", "--duration", "3",
                          "--users", "3", "--messages", "1", "--suites", "", "--reports", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "replication lag under that traffic: p50" in out and "switch: drained in" in out
    [folder] = list(tmp_path.iterdir())
    summary = json.loads((folder / "summary.json").read_text())
    result = summary["result"]
    assert result["via"] == "replication" and result["passed"]
    assert result["deliveries"]["acknowledged"] == result["deliveries"]["on the replica"] > 0
    page = (folder / "index.html").read_text()
    assert "Replication lag under that traffic" in page and "The switch" in page
    assert "sync_password" not in (folder / "summary.json").read_text() and "sync_password" not in page


# Dovecot's replication documentation warns that shared folders are not replicated correctly
# (https://doc.dovecot.org/configuration_manual/replication: "Shared folder replication doesn't
# work correctly"), and 2.4 has no replicator: dsync passes from the 2.3 master. Measured
# 2026-12-06: every message, flag and ACL right of the accounts' own folders arrives (the ACL
# entries rewritten as the pair lists); what is lost is sharers' metadata of others' folders
# (subscriptions to them, private seen flags). Those stay findings of the run.
SHARED_METADATA = re.compile(r"^u\d{4}(: subscriptions \[.*'user\.| sees user\.)")


def test_dovecot_by_dsync_keeps_every_message_and_reports_what_shared_folders_lose(starts_servers):
    result = run_replication(lookup("dovecot:2.3"), lookup("dovecot:2.4"), StoreSize(4, 2), duration=5)
    assert not result.failed and result.problems == [], (result.failed, result.problems)
    assert [s.name for s in result.steps if not s.ok] == []
    assert result.traffic["passes"]["count"] >= 2 and result.traffic["passes"]["failed"] == 0, result.traffic
    assert result.deliveries["missing_count"] == 0 and result.deliveries["acknowledged"] > 20, result.deliveries
    assert result.lag["probes"] > 0 and result.lag["lost"] == 0, result.lag
    assert all(h["clean"] for h in result.server_health.values()), result.server_health
    assert result.findings and not result.passed  # shared folders: reported, never passed
    assert [f for f in result.findings if not SHARED_METADATA.match(f)] == []


def test_replication_with_more_than_one_target_is_one_line(tmp_path):
    run = subprocess.run(["imapwright", "upgrade", "cyrus:3.2", "cyrus:3.6", "cyrus:3.10", "--via", "replication",
                          "--reports", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0, run.stderr
    assert "give FROM and one TO" in run.stderr
