"""Load runs end to end against the real servers: Locust drives them, the harness checks that
what was acknowledged is what is stored, and the check itself is shown to fail when mail goes
missing or appears unacknowledged. Runs are short (seconds): CI shows they work, not how fast."""

import json
import re
from collections import Counter

import pytest

from imapwright.load.config import LoadConfig
from imapwright.load.mail import make_message
from imapwright.load.runner import LoadParams, check_server, population_names, run_load

pytestmark = [pytest.mark.requires("lmtp"), pytest.mark.destructive]


def info(server) -> dict:
    return {"name": server.name, "family": server.family_name, "version": server.version}


def run(server, tmp_path, scenario: str, **params):
    defaults = {"users": 4, "spawn_rate": 10, "duration": 5, "population": 4, "stop_timeout": 10}
    out, summary = run_load(server, LoadParams(scenario, **{**defaults, **params}), tmp_path, info(server))
    assert json.loads((out / "summary.json").read_text()) == summary
    return out, summary


def by_name(summary) -> dict:
    return {f"{r['type']} {r['name']}": r for r in summary["stats"]["requests"]}


def test_delivery_run_stores_exactly_what_was_acknowledged(server, tmp_path):
    # 8 s: on a machine as busy as CI's, Locust's start took 4 s of a 5 s run (one CPU interval left)
    out, summary = run(server, tmp_path, "delivery", duration=8)
    led = summary["checks"]["ledger"]
    assert summary["passed"], summary["checks"]
    assert led["acknowledged"] == by_name(summary)["LMTP deliver"]["requests"] > 50
    # Stored: every acknowledged one, and at most the one per user the run's end cut off.
    assert led["accounted"] and led["on_server"] - led["acknowledged"] == led["unknown_stored"] <= 4, led
    assert summary["stats"]["total"]["failures"] == 0 and not summary["exceptions"]
    for name in ("locust.json", "locust_stats.csv", "locust_stats_history.csv", "index.html", "locust.html"):
        assert (out / name).stat().st_size > 0, name
    assert not list(tmp_path.glob(".*partial"))  # the run directory is complete, nothing half-way
    page = (out / "index.html").read_text()
    assert "<svg" in page and "<script" not in page
    # Generator and server CPU were sampled through the run, the server's from its container's cgroup.
    cpu = summary["cpu"]
    # From the first request on (start-up is not judged): two intervals show both sides.
    assert cpu["server_measured"] and len(cpu["points"]) >= 2, cpu
    assert max(p["server"] for p in cpu["points"]) > 0 and max(p["generator"] for p in cpu["points"]) > 0
    assert "Generator and server CPU" in page and isinstance(cpu["generator_bound"], bool)


@pytest.mark.parametrize("engine", [{}, {"imap_pipeline": "1"}], ids=["one-per-round-trip", "pipelined"])
def test_mixed_run_sends_one_event_per_imap_command(server, tmp_path, engine):
    """The process's IMAP loop on a real server, a command per round trip and pipelined."""
    mix = "select=100,fetch=100,fetch2=50,search=50,store=50,append=60,expunge=60,idle=10,logout=20,list=20"
    _, summary = run(server, tmp_path, "mixed", users=10, duration=8,
                     options={"mix": mix, "idle_seconds": "0.2", **engine})
    rows = by_name(summary)
    for command in ("LOGIN", "SELECT", "FETCH", "STORE", "APPEND", "EXPUNGE", "LIST", "SEARCH", "LOGOUT", "IDLE"):
        assert rows[f"IMAP {command}"]["requests"] > 0, command
        assert rows[f"IMAP {command}"]["failures"] == 0, command
    # Sessions are persistent: a LOGIN for each Locust session and each imaptest-style logout, no more.
    assert rows["IMAP LOGIN"]["requests"] <= rows["IMAP LOGOUT"]["requests"] + 10
    led = summary["checks"]["ledger"]
    # Expunges ran; those the answers show done are "removed", the rest (pipelined on Dovecot, whose
    # answers name no message: ledger.expunge_outcome) may be gone or not and are counted as such.
    assert led["removed"] + led["unknown_removed"] > 0, led
    assert led["expected"] == led["acknowledged"] - led["removed"], led
    # A command the run's end cut off may or may not have happened (once in CI: an APPEND stored
    # whose answer never came): accounted for, not forgotten.
    assert led["accounted"], led
    assert summary["passed"], summary["checks"]


@pytest.mark.requires("tls")
def test_mixed_run_with_tls_logs_in_over_tls(server, tmp_path):
    """--tls: the run's IMAP sessions are on the IMAPS port; the server's own login lines mark TLS
    (Cyrus 'plaintext+TLS', Dovecot ', TLS,') for at least as many logins as the run made. (The
    harness's own check sessions before and after the run stay plain; without --tls none is TLS.)"""
    import re
    from datetime import UTC, datetime

    since = datetime.now(UTC)
    _, summary = run(server, tmp_path, "mixed", users=4, duration=6, prefix="tlsload", tls=True)
    # Once in CI (dovecot:2.3) the run failed with its checks passing: say which part failed.
    assert summary["passed"], (summary["status_reason"], summary["exceptions"][:2],
                               summary["server_log"]["health"]["summary"], summary["checks"])
    assert summary["parameters"]["tls"] is True
    logins = [line.message for line in server.logs(since)
              if "tlsload" in line.message and re.search(r"logged in|Login: user=", line.message, re.I)]
    over_tls = [text for text in logins if re.search(r"\bTLS\b", text)]
    assert len(over_tls) >= by_name(summary)["IMAP LOGIN"]["requests"] > 0, logins[:5]


@pytest.mark.requires("quota-roots")
def test_admin_churn_runs_without_failures(server, tmp_path):
    if server.family_name == "cyrus" and server.version_tuple < (3, 6):
        # Not a deviation entry: it comes and goes (a race), which the deviation list cannot hold.
        pytest.skip("open finding on cyrus:3.2: the admin's first SETQUOTA on a user (which makes the root and "
                    "walks the user's folders) racing that user's RENAMEs leaves X-NUM-FOLDERS one too high "
                    "('usage was 2, now 1' from quota -f; imapd logs 'Header CRC mismatch' for the renamed "
                    "folder): 17-55% of fresh users in probes (1-4 renaming sessions each), none on 3.6/3.10; "
                    "a rarer race on 3.12 counts one too few ('QUOTAERROR: ... Quota root does not exist', "
                    "about 1 user in 100). Not yet a suite test: neither race hits reliably enough for a gate")
    # A population of its own: a race it may hit (below) must not leave miscounted accounts to the
    # load tests after it (CI 2026-12-06: three more tests on cyrus:3.12 failed on this one's account).
    _, summary = run(server, tmp_path, "admin-churn", users=8, duration=6, prefix="churn")
    rows = by_name(summary)
    for command in ("CREATE", "RENAME", "SETACL", "DELETEACL", "DELETE", "SETQUOTA"):
        assert rows[f"IMAP {command}"]["requests"] > 0 and rows[f"IMAP {command}"]["failures"] == 0, command
    checks = summary["checks"]
    miscount = [p for p in checks["consistency"] if re.fullmatch(r"quota -f: user\.churn\d+: MAILBOX usage was 0, now 1", p)]
    if (not summary["passed"] and server.family_name == "cyrus" and server.version_tuple >= (3, 12) and miscount
            and miscount == checks["consistency"] and checks["ledger"]["accounted"] and summary["complete"]):
        # The open 3.12 race named in the skip above (SETQUOTA's root creation racing RENAMEs counts
        # one mailbox too few, about 1 user in 100): it comes and goes, so it cannot be a deviation
        # entry; everything else of the run held. CREATE, RENAME and SETQUOTA pass on their own
        # in suites/quota and suites/rename on 3.12.
        pytest.xfail(f"open finding on cyrus:3.12 (a race): {miscount[0]}")
    assert summary["passed"], checks


def test_capacity_stops_at_the_threshold_and_names_the_saturation_point(server, tmp_path):
    # A p95 threshold of 1 ms: no real server meets it, so the first step saturates and the run
    # ends long before its duration.
    _, summary = run(server, tmp_path, "capacity", users=20, duration=60,
                     options={"step_users": "2", "step_seconds": "3", "max_users": "20", "p95_ms": "1",
                              "max_failure_ratio": "0.01"})
    capacity = summary["capacity"]
    assert capacity["saturation"]["point"] is None and capacity["saturation"]["crossed"]["users"] == 2
    assert capacity["saturation"]["reason"].startswith("at 2 users: p95")
    assert summary["stats"]["seconds"] < 30
    assert summary["passed"], summary["checks"]
    # Crossed on latency at 2 users in 3 s: neither side had run out of CPU by then.
    assert capacity["saturated_first"] == "neither"


@pytest.mark.requires("exec", "mailbox-list")
def test_large_list_runs_reconstruct_while_delivering_with_two_workers(server, tmp_path):
    out, summary = run(server, tmp_path, "large-list", users=3, duration=12, mailboxes=300, workers=2)
    rows = by_name(summary)
    for name in ("ADMIN reconstruct one user", "ADMIN reconstruct full list", "IMAP LIST", "LMTP deliver"):
        row = rows.get(name, {"requests": 0, "failures": 0})
        # Twice in CI the figures came out empty with the ledger full: a Locust worker process exiting
        # after its master wrote its emptied statistics over the run's (load/distributed.py).
        assert row["requests"] > 0 and row["failures"] == 0, (
            name, summary["status_reason"], sorted(rows), summary["exceptions"], summary.get("workers"),
            summary["checks"].get("statistics"), (out / "locust.log").read_text(errors="replace")[-4000:])
    latency = summary["large_list"]["latency"]
    assert latency["reconstruct full list"]["runs"] > 0
    assert summary["passed"], summary["checks"]


@pytest.mark.requires("exec")
def test_large_mailbox_grows_its_folder_then_reads_changes_and_repairs_it_while_delivering(server, tmp_path):
    out, summary = run(server, tmp_path, "large-mailbox", users=5, duration=12, messages=1500, prefix="big")
    large = summary["large_mailbox"]
    assert large["messages"] == 1500 and large["user"] == "big00000" and large["grow_per_second"] > 0
    # Every request on the large folder ran without a failure, and the repair (reconstruct or
    # force-resync of that folder) ran with deliveries during it.
    for name in ("large SELECT", "large FETCH newest 20", "large SEARCH UNSEEN", "large SEARCH SUBJECT",
                 "large STORE", "large APPEND", "large EXPUNGE", "repair the large folder"):
        assert large["requests"].get(name, {}).get("requests", 0) > 0, (name, sorted(large["requests"]))
        assert large["requests"][name]["failures"] == 0, name
    assert large["latency"]["repair the large folder"]["runs"] > 0
    # The grown messages are not the load's: the ledger accounts for exactly what the load did,
    # APPENDs and EXPUNGEs on the large folder included.
    led = summary["checks"]["ledger"]
    assert led["accounted"] and led["removed"] > 0, led
    with server.user_session("big00000") as client:
        held = client.folder_status(server.mailbox_name("big00000", "", "big00000"), [b"MESSAGES"])[b"MESSAGES"]
    assert held >= 1500, held  # the grown messages, and what the load left there
    assert summary["passed"], summary["checks"]
    page = (out / "index.html").read_text()
    assert "Large mailbox" in page and "grown to 1500 messages" in page



@pytest.mark.requires("exec")
def test_large_mailbox_on_a_population_from_an_earlier_run_grows_only_what_the_folder_lacks(server, tmp_path):
    """A second run on the same server (a --target keeps its accounts) tops the folder up to
    --messages instead of failing on the messages the first run left."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    run(server, tmp_path / "first", "large-mailbox", users=3, duration=3, messages=600, prefix="again")
    _, summary = run(server, tmp_path / "second", "large-mailbox", users=3, duration=3, messages=900, prefix="again")
    large = summary["large_mailbox"]
    assert large["before"] >= 600 and large["messages"] == large["before"] + large["delivered"] >= 900, large
    assert summary["checks"]["ledger"]["accounted"], summary["checks"]


@pytest.mark.requires("spool-copy")
def test_large_mailbox_filled_by_copy_holds_every_copied_file_after_the_repair(server, tmp_path):
    """--fill copy: message files written into the spool (after deliveries there first, so Cyrus's
    file names must start past the UIDs in use) are all in the folder once the repair ran."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    run(server, tmp_path / "first", "large-mailbox", users=3, duration=3, messages=300, prefix="copied")
    out, summary = run(server, tmp_path / "second", "large-mailbox", users=4, duration=10, messages=1300,
                       fill="copy", prefix="copied")  # long enough for a repair with deliveries during it
    large = summary["large_mailbox"]
    assert large["fill"] == "copy" and large["before"] >= 300, large
    assert large["messages"] == large["before"] + large["delivered"] >= 1300, large
    assert summary["passed"], summary["checks"]
    assert "copied into the spool" in (out / "index.html").read_text()


def test_the_server_check_fails_on_a_lost_and_an_unacknowledged_message(server, tmp_path):
    out, summary = run(server, tmp_path, "delivery", population=2, duration=3, prefix="lost")
    assert summary["passed"]
    users = population_names(2, "lost")
    config = LoadConfig(users=users)
    before = {(u, "INBOX"): Counter() for u in users}
    inbox = server.mailbox_name(users[0], "", users[0])
    with server.user_session(users[0]) as client:
        client.select_folder(inbox)
        uid = client.search(["HEADER", "Message-ID", "load.imapwright.test"])[0]
        lost = client.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])[uid]
        client.delete_messages([uid])
        client.expunge()
    mid, message = make_message(2000)
    lmtp = server.lmtp_client()
    try:
        assert lmtp.deliver(message, [users[1]])[0].accepted
    finally:
        lmtp.close()
    checks = check_server(server, config, out / "ledger", before)
    led = checks["ledger"]
    assert not checks["passed"]
    assert led["missing_count"] == 1 and led["extra_count"] == 1
    assert led["extra"] == [f"{users[1]}/INBOX {mid}"]
    lost_id = [v for k, v in lost.items() if k.startswith(b"BODY[")][0].decode().split(":", 1)[1].strip()
    assert led["missing"] == [f"{users[0]}/INBOX {lost_id}"]


def test_a_run_stops_after_its_request_budget(server, tmp_path):
    _, summary = run(server, tmp_path, "delivery", duration=60, max_requests=150, prefix="budget")
    total = summary["stats"]["total"]["requests"]
    assert total == 150  # users take a request from the budget before they start one
    assert summary["stats"]["seconds"] < 30  # stopped by count long before the 60 s
    assert summary["passed"], summary["checks"]


def test_workers_share_the_request_budget(server, tmp_path):
    # 3 workers, 4 users: parts 34, 33, 33 of 100, taken before each request is sent.
    _, summary = run(server, tmp_path, "delivery", duration=60, max_requests=100, workers=3, prefix="share")
    assert summary["stats"]["total"]["requests"] == 100
    assert summary["stats"]["seconds"] < 40
    assert summary["passed"], summary["checks"]


def test_many_workers_report_every_request_the_ledger_holds(server, tmp_path):
    """A master used to quit 0.5 s after its workers were told to, before their last statistics
    arrived (1,791 reported against 1,934 acknowledged with 20 workers)."""
    _, summary = run(server, tmp_path, "delivery", users=16, duration=5, workers=8, prefix="many")
    stat = summary["checks"]["statistics"]
    assert stat["agree"] and stat["reported"] == stat["ledger"] > 0, stat
    # Checks passed but the run did not (CI, 2026-12-03): say why (status, lost workers, exceptions).
    assert summary["passed"], {k: summary.get(k) for k in ("status", "status_reason", "workers", "exceptions")}
