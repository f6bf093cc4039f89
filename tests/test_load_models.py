"""The load harness's own arithmetic and parsers: ledger comparison, capacity steps and the
saturation point, Locust output read back (recorded from real runs), mixes and configuration."""

import json
from collections import Counter
from pathlib import Path

import pytest

from imapwright.errors import UserError
from imapwright.load import ledger, results
from imapwright.load.config import LoadConfig
from imapwright.load.mixes import DEFAULT_MIX, parse_mix
from imapwright.load.saturation import Step, percentile, saturation, step_from_counts

DATA = Path(__file__).parent / "data" / "locust"


# -- ledger -------------------------------------------------------------------------------------
def write_ledger(tmp_path: Path, lines: list[str], name: str = "ledger-1.tsv") -> Path:
    (tmp_path / name).write_text("".join(line + "\n" for line in lines))
    return tmp_path


def test_ledger_counts_adds_minus_removes_per_folder(tmp_path):
    write_ledger(tmp_path, ["add\talice\tINBOX\t<1@x>", "add\talice\tINBOX\t<2@x>", "remove\talice\tINBOX\t<2@x>"])
    write_ledger(tmp_path, ["add\tbob\tINBOX\t<3@x>"], "ledger-2.tsv")
    expected = ledger.read_ledgers(tmp_path)
    check = ledger.compare(expected, {("alice", "INBOX"): Counter({"<1@x>": 1}), ("bob", "INBOX"): Counter({"<3@x>": 1})})
    assert (check.acknowledged, check.removed, check.expected, check.on_server) == (3, 1, 2, 2)
    assert check.passed


def test_an_expunge_answered_without_an_expunge_keeps_its_message_and_is_counted(tmp_path):
    write_ledger(tmp_path, ["add\talice\tINBOX\t<1@x>", "removing\talice\tINBOX\t<1@x>", "kept\talice\tINBOX\t<1@x>"])
    expected = ledger.read_ledgers(tmp_path)
    assert expected.kept == 1 and not expected.maybe_gone
    check = ledger.compare(expected, {("alice", "INBOX"): Counter({"<1@x>": 1})})
    assert check.passed and check.accounted and check.as_dict()["kept"] == 1
    gone = ledger.compare(expected, {("alice", "INBOX"): Counter()})
    assert gone.missing == ["alice/INBOX <1@x>"]  # kept means there: gone after all is a loss



def test_an_expunge_is_read_from_its_answers_for_the_message_it_was_for():
    flagged = b"* 5 FETCH (UID 9 FLAGS (\\Deleted))"
    assert ledger.expunge_outcome([flagged, b"* 5 EXPUNGE"], 9) == "remove"
    # Another session's expunge of an earlier message comes first: ours moves down to 4.
    assert ledger.expunge_outcome([flagged, b"* 2 EXPUNGE", b"* 4 EXPUNGE"], 9) == "remove"
    assert ledger.expunge_outcome([flagged, b"* 2 EXPUNGE", b"* 5 EXPUNGE"], 9) == ""  # 5 is another now
    assert ledger.expunge_outcome([flagged], 9) == "kept"  # answered OK, nothing expunged
    assert ledger.expunge_outcome([b"* 1 EXPUNGE", b"* 0 RECENT"], 9) == ""  # no FETCH: cannot tell
    assert ledger.expunge_outcome([b"* 0 RECENT"], 9) == "kept"


def test_ledger_names_a_missing_and_an_unacknowledged_message(tmp_path):
    write_ledger(tmp_path, ["add\talice\tINBOX\t<1@x>", "add\talice\tINBOX\t<2@x>"])
    check = ledger.compare(ledger.read_ledgers(tmp_path),
                           {("alice", "INBOX"): Counter({"<1@x>": 1, "<9@x>": 1})})
    assert check.missing == ["alice/INBOX <2@x>"]
    assert check.extra == ["alice/INBOX <9@x>"]
    assert not check.passed


def test_ledger_counts_a_duplicate_delivery_as_extra(tmp_path):
    write_ledger(tmp_path, ["add\talice\tINBOX\t<1@x>"])
    check = ledger.compare(ledger.read_ledgers(tmp_path), {("alice", "INBOX"): Counter({"<1@x>": 2})})
    assert check.extra == ["alice/INBOX <1@x>"] and not check.missing


def test_ledger_allows_a_message_whose_outcome_was_unknown(tmp_path):
    # The connection broke after DATA, or the run's end killed the command: either is right.
    write_ledger(tmp_path, ["sent\talice\tINBOX\t<5@x>", "unknown\talice\tINBOX\t<5@x>",
                            "sent\talice\tINBOX\t<6@x>"])
    check = ledger.compare(ledger.read_ledgers(tmp_path), {("alice", "INBOX"): Counter({"<5@x>": 1})})
    assert check.passed and check.unknown_stored == 1
    assert check.accounted and (check.expected, check.on_server) == (0, 1)


def test_a_refused_message_found_stored_is_extra(tmp_path):
    write_ledger(tmp_path, ["sent\talice\tINBOX\t<7@x>", "refused\talice\tINBOX\t<7@x>"])
    check = ledger.compare(ledger.read_ledgers(tmp_path), {("alice", "INBOX"): Counter({"<7@x>": 1})})
    assert check.extra == ["alice/INBOX <7@x>"]


def test_an_acknowledged_message_is_not_excused_by_its_sent_line(tmp_path):
    write_ledger(tmp_path, ["sent\talice\tINBOX\t<8@x>", "add\talice\tINBOX\t<8@x>"])
    check = ledger.compare(ledger.read_ledgers(tmp_path), {("alice", "INBOX"): Counter()})
    assert check.missing == ["alice/INBOX <8@x>"]


def test_an_expunge_without_an_answer_may_or_may_not_have_happened(tmp_path):
    write_ledger(tmp_path, ["add\talice\tINBOX\t<9@x>", "removing\talice\tINBOX\t<9@x>",
                            "add\talice\tINBOX\t<10@x>", "removing\talice\tINBOX\t<10@x>"])
    check = ledger.compare(ledger.read_ledgers(tmp_path), {("alice", "INBOX"): Counter({"<10@x>": 1})})
    assert check.passed
    assert check.unknown_removed == 1 and check.accounted and (check.expected, check.on_server) == (2, 1)


def test_ledger_ignores_a_line_cut_short_by_a_killed_process(tmp_path):
    (tmp_path / "ledger-1.tsv").write_text("add\talice\tINBOX\t<1@x>\nadd\talice\tIN")
    assert ledger.read_ledgers(tmp_path).acknowledged == 1


def test_timings_are_read_from_every_process(tmp_path):
    (tmp_path / "timings-1.tsv").write_text("deliver\t100.5\t12.0\nbroken line\n")
    (tmp_path / "timings-2.tsv").write_text("deliver\t101.0\t8.5\nreconstruct full list\t100.0\t2000.0\n")
    t = ledger.read_timings(tmp_path)
    assert t["deliver"] == [(100.5, 12.0), (101.0, 8.5)] and t["reconstruct full list"] == [(100.0, 2000.0)]


# -- capacity ------------------------------------------------------------------------------------
def test_percentile_of_a_histogram():
    hist = {10: 90, 100: 9, 1000: 1}
    assert percentile(hist, 0.5) == 10 and percentile(hist, 0.95) == 100 and percentile(hist, 0.999) == 1000
    assert percentile({}, 0.95) == 0.0


def test_a_step_counts_only_its_own_requests():
    step = step_from_counts(users=10, seconds=5, requests=100, failures=2,
                            before={10: 500}, after={10: 550, 300: 50})
    assert step.p50_ms == 10 and step.p95_ms == 300  # the earlier 500 fast requests do not dilute it
    assert step.rps == 20 and step.failure_ratio == 0.02


def steps(*p95s: float, failures: tuple = ()) -> list[Step]:
    fails = failures or (0,) * len(p95s)
    return [Step(5 * (i + 1), 10, 1000 * (i + 1), f, 5, p) for i, (p, f) in enumerate(zip(p95s, fails))]


def test_saturation_is_the_last_step_under_the_thresholds():
    sat = saturation(steps(50, 80, 120, 400), p95_ms=100, max_failure_ratio=0.01)
    assert sat.point.users == 10 and sat.crossed.users == 15
    assert sat.reason == "at 15 users: p95 120 ms > 100 ms"


def test_saturation_by_failures():
    sat = saturation(steps(50, 50, failures=(0, 500)), p95_ms=100, max_failure_ratio=0.01)
    assert sat.crossed.users == 10 and "failures 25.0% > 1.0%" in sat.reason


def test_no_saturation_within_the_run():
    sat = saturation(steps(10, 20), p95_ms=100, max_failure_ratio=0.01)
    assert sat.crossed is None and sat.point.users == 10 and sat.reason == "not saturated within the run"


def test_saturated_from_the_first_step():
    sat = saturation(steps(500), p95_ms=100, max_failure_ratio=0.01)
    assert sat.point is None and sat.crossed.users == 5


# -- Locust output (recorded: a mixed run on dovecot:2.3, an admin-churn run on cyrus:3.6) ---------
def test_read_stats_from_locust_json():
    stats = results.read_stats(DATA / "mixed.json")
    rows = {(r["type"], r["name"]): r for r in stats["requests"]}
    assert rows[("LMTP", "deliver")]["requests"] == 1039
    assert rows[("IMAP", "APPEND")]["requests"] == 37
    assert stats["total"]["requests"] == sum(r["requests"] for r in stats["requests"]) == 1577
    raw = {e["name"]: e for e in json.loads((DATA / "mixed.json").read_text())}
    idle = raw["IDLE"]
    assert rows[("IMAP", "IDLE")]["max_ms"] == round(idle["max_response_time"], 1)
    # p95 from the histogram lies between the fastest and slowest deliveries
    d = rows[("LMTP", "deliver")]
    assert raw["deliver"]["min_response_time"] <= d["p95_ms"] <= raw["deliver"]["max_response_time"] + 1
    assert d["p50_ms"] <= d["p95_ms"] <= d["p99_ms"]


def test_read_stats_of_a_run_without_requests(tmp_path):
    stats = results.read_stats(tmp_path / "absent.json")
    assert stats["requests"] == [] and stats["total"]["requests"] == 0


def test_read_history_keeps_aggregated_rows_and_tolerates_na():
    points = results.read_history(DATA / "mixed_stats_history.csv")
    assert points[0]["t"] == 0 and points[0]["p95_ms"] is None  # "N/A" before the first request
    assert all(b["t"] >= a["t"] for a, b in zip(points, points[1:]))
    assert points[-1]["requests"] > 0 and max(p["users"] for p in points) == 8


def test_read_failures_and_exceptions():
    failures = results.read_failures(DATA / "churn_failures.csv")
    assert {(f["name"], f["count"]) for f in failures} == {("SETACL", 20), ("DELETEACL", 51)}
    [exc] = results.read_exceptions(DATA / "churn_exceptions.csv")
    assert exc["count"] == 17 and "Quota.__init__()" in exc["message"]


# -- mixes and configuration ----------------------------------------------------------------------
def test_default_mix_is_imaptests():
    mix = parse_mix(DEFAULT_MIX)
    assert mix["select"] == 100 and mix["idle"] == 0 and set(mix) >= {"fetch", "store", "append", "expunge", "logout"}


@pytest.mark.parametrize("text", ["select=x", "bogus=10", "select", "select=0,fetch=0"])
def test_bad_mix_is_a_user_error(text):
    with pytest.raises(UserError):
        parse_mix(text)


def test_config_round_trips_through_the_environment():
    config = LoadConfig(imap=("127.0.0.1", 143), lmtp=("127.0.0.1", 24), users=["a", "b"], password="pw",
                        admin="cyrus", admin_password="apw", ledger="/tmp/l", exec="ssh:root@10.0.0.5:2222", family="cyrus",
                        options={"mix": "select=1", "step_users": "5"})
    assert LoadConfig.from_env(config.to_env()) == config


def test_config_names_what_a_scenario_lacks():
    with pytest.raises(SystemExit, match="IMAPWRIGHT_LOAD_LMTP, IMAPWRIGHT_LOAD_USERS"):
        LoadConfig.from_env({}).need("LMTP", "USERS")


def test_delivery_latency_inside_and_outside_reconstruct_windows():
    from imapwright.load.results import windows_latency
    from imapwright.load.scenarios import SCENARIOS

    labels = SCENARIOS["large-list"].windows

    timings = {"deliver": [(1.0, 10), (2.0, 20), (3.5, 300), (5.0, 12)], "reconstruct full list": [(3.0, 1000)]}
    result = windows_latency(timings, labels)
    assert result["reconstruct full list"] == {"runs": 1, "deliveries_during": 1, "p50_ms_during": 300.0,
                                               "p95_ms_during": 300.0}
    assert result["outside"] == {"deliveries": 3, "p50_ms": 12.0, "p95_ms": 20.0}
    assert windows_latency({"deliver": [(1.0, 10)]}, labels) is None  # no reconstruct ran


def test_ledger_counts_the_additions_that_came_back(tmp_path):
    # add, refused and unknown came back (one request event each); a bare sent was cut off.
    write_ledger(tmp_path, ["sent\ta\tINBOX\t<1@x>", "add\ta\tINBOX\t<1@x>", "sent\ta\tINBOX\t<2@x>",
                            "refused\ta\tINBOX\t<2@x>", "sent\ta\tINBOX\t<3@x>", "unknown\ta\tINBOX\t<3@x>",
                            "sent\ta\tINBOX\t<4@x>", "removing\ta\tINBOX\t<1@x>", "remove\ta\tINBOX\t<1@x>"])
    assert ledger.read_ledgers(tmp_path).finished == 3


def test_statistics_that_lost_requests_fail_the_check():
    from imapwright.load.results import statistics_check

    stats = results.read_stats(DATA / "mixed.json")
    adding = sum(r["requests"] for r in stats["requests"]
                 if r["type"] == "LMTP" or (r["type"] == "IMAP" and r["name"] == "APPEND"))
    assert adding > 0
    assert statistics_check(stats, adding) == {"reported": adding, "ledger": adding, "agree": True}
    assert not statistics_check(stats, adding + 2)["agree"]  # two requests never reached the master


def test_the_terminal_headlines_the_check_that_failed_first():
    """Issue 27, item 4: a lost worker's run said "server check FAILED" with every server count 0;
    the cause (the run was partial, Locust and the ledger disagree) comes first."""
    from imapwright.cli.load import _first_failure

    ledger = {"passed": True, "missing_count": 0, "extra_count": 0}
    summary = {"complete": False, "status": "partial", "status_reason": "worker 0 (w0) lost 5 s into the run",
               "exceptions": [], "passed": False,
               "checks": {"ledger": ledger, "statistics": {"agree": False, "reported": 90, "ledger": 80},
                          "consistency_count": 0, "passed": False}}
    assert _first_failure(summary) == "partial: worker 0 (w0) lost 5 s into the run"
    summary.update(complete=True)
    assert _first_failure(summary) == "statistics incomplete: Locust counted 90 deliveries and APPENDs, the ledger 80"
    summary["checks"]["statistics"]["agree"] = True
    summary["checks"]["ledger"] = {**ledger, "passed": False, "missing_count": 2}
    assert _first_failure(summary).startswith("the server does not hold what was acknowledged: 2 missing")
    summary["checks"]["ledger"] = ledger
    summary["passed"] = True
    assert _first_failure(summary) is None


def test_a_server_that_failed_under_the_check_is_the_headline_and_in_the_report():
    """dovecot:2.3 at a million messages: its imap process died under the ledger check. The run's
    measurements are kept; the terminal and the page say the server was not checked, and why."""
    from imapwright.cli.load import _first_failure
    from imapwright.load.results import unchecked_server
    from imapwright.report.load_html import checks_section

    why = "the server failed while it was checked: dovecot:2.3: reading big00000's INBOX failed (EOF)"
    summary = {"complete": True, "exceptions": [], "passed": False, "checks": unchecked_server(why)}
    assert _first_failure(summary) == f"the server was not checked: {why}"
    page = checks_section(summary)
    assert "<span class='failed'>failed</span>" in page and f"Not checked: {why}" in page.replace("&#x27;", "'")


def test_a_large_list_run_without_a_completed_reconstruct_is_not_a_measurement():
    from imapwright.load.results import windows_latency, windows_unmeasured
    from imapwright.load.scenarios import SCENARIOS

    labels = SCENARIOS["large-list"].windows

    assert "nothing of their effect" in windows_unmeasured(None, labels)
    only_full = windows_latency({"deliver": [(1.0, 10), (3.5, 300)], "reconstruct full list": [(3.0, 1000)]}, labels)
    assert windows_unmeasured(only_full, labels).startswith("reconstruct one user never completed")
    both = windows_latency({"deliver": [(1.0, 10)], "reconstruct full list": [(3.0, 1000)],
                             "reconstruct one user": [(5.0, 100)]}, labels)
    assert windows_unmeasured(both, labels) == ""


def test_a_knob_not_set_reads_its_default_from_the_one_list_of_knobs():
    from imapwright.load.scenarios import KNOBS

    config = LoadConfig.from_env({"IMAPWRIGHT_LOAD_OPT_THINK": "0"})
    assert config.option("think") == "0"
    assert config.option("idle_seconds") == KNOBS["idle_seconds"].default == "1"
    with pytest.raises(KeyError):
        config.option("no_such_knob")  # a name the list lacks is a programming error, not a silent default


def test_every_knob_the_load_code_reads_is_in_the_list():
    import re

    from imapwright.load.scenarios import KNOBS

    root = Path(__file__).resolve().parent.parent
    read = {m for p in [*(root / "imapwright" / "load").glob("*.py"), *(root / "loadtests").glob("*.py")]
            for m in re.findall(r"\.option\(\"([a-z_]+)\"\)", p.read_text())}
    assert read and read <= KNOBS.keys(), read - KNOBS.keys()
