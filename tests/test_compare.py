"""Comparing runs: thresholds, verdicts for load and suite runs, server pairing, and the writers
(JUnit for CI, Markdown, self-contained HTML). Runs are summaries built here in the shape the
harness writes, figures from a recorded Locust run."""

import json
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from imapwright.errors import UserError
from imapwright.load import results
from imapwright.report import compare_out
from imapwright.report.compare import (CheckChange, comparison, pair_servers, parse_threshold, read_run,
                                       verdicts)

DATA = Path(__file__).parent / "data" / "locust"


def load_run(run_id: str = "load-a", scale_p95: float = 1.0, scale_rps: float = 1.0, lost: int = 0) -> dict:
    stats = results.read_stats(DATA / "mixed.json")
    for row in stats["requests"] + [stats["total"]]:
        row["p95_ms"] *= scale_p95
        row["rps"] *= scale_rps
    return {"kind": "load", "run_id": run_id, "scenario": "mixed", "server": {"name": "cyrus:3.6"},
            "label": f"cyrus:3.6 {run_id}", "stats": stats,
            "history": results.read_history(DATA / "mixed_stats_history.csv"),
            "checks": {"passed": not lost, "consistency_count": 0,
                       "ledger": {"missing_count": lost, "extra_count": 0}}}


def suite_run(run_id: str, outcomes: dict[tuple[str, str], str]) -> dict:
    checks = [{"test": t, "server": s, "outcome": o} for (t, s), o in outcomes.items()]
    servers = sorted({s for _, s in outcomes})
    return {"kind": "conformance", "run_id": run_id, "label": run_id, "checks": checks,
            "per_server": {s: {} for s in servers}}


@pytest.mark.parametrize("text,metric,sign,amount", [
    ("p95+10%", "p95", "+", 10), ("throughput-10%", "rps", "-", 10), ("rps-5.5%", "rps", "-", 5.5),
    ("failures+1", "failures", "+", 1), ("saturation-20%", "saturation", "-", 20), ("new-failures", "new-failures", "", 0),
    ("LOST", "lost", "", 0)])
def test_thresholds_parse(text, metric, sign, amount):
    t = parse_threshold(text)
    assert (t.metric, t.sign, t.amount) == (metric, sign, amount)


@pytest.mark.parametrize("text,message", [
    ("p95-10%", "improvement"), ("rps+10%", "improvement"), ("p95+10", "in percent"),
    ("failures+1%", "percentage points"), ("latency+10%", "expected e.g.")])
def test_bad_thresholds(text, message):
    with pytest.raises(UserError, match=message):
        parse_threshold(text)


def test_p95_threshold_crossed_and_not():
    base = load_run()
    slower = load_run("load-b", scale_p95=1.2)
    bit_slower = load_run("load-c", scale_p95=1.05)
    [t] = [parse_threshold("p95+10%")]
    assert not all(v.passed for v in verdicts(base, slower, [t]))
    assert all(v.passed for v in verdicts(base, bit_slower, [t]))
    failed = [v for v in verdicts(base, slower, [t]) if not v.passed]
    assert any(v.check == "p95+10% LMTP deliver" and "(+20.0%)" in v.detail for v in failed)


def test_throughput_threshold():
    base = load_run()
    assert not all(v.passed for v in verdicts(base, load_run("b", scale_rps=0.85), [parse_threshold("rps-10%")]))
    assert all(v.passed for v in verdicts(base, load_run("c", scale_rps=1.5), [parse_threshold("rps-10%")]))


def test_lost_mail_fails_the_candidate():
    [v] = verdicts(load_run(), load_run("b", lost=3), [parse_threshold("lost")])
    assert not v.passed and v.detail.startswith("3 missing")


def test_a_generator_bound_candidate_fails_generator_bound_and_is_flagged_anyway():
    bound = load_run("b")
    bound["cpu"] = {"generator_bound": True, "busy_share": 0.4}
    free = load_run("c")
    free["cpu"] = {"generator_bound": False, "busy_share": 0.0}
    [v] = verdicts(load_run(), bound, [parse_threshold("generator-bound")])
    assert not v.passed and "40% of the run" in v.detail
    assert all(v.passed for v in verdicts(load_run(), free, [parse_threshold("generator-bound")]))
    # Without the threshold the verdict stands on the defaults, but the comparison says it.
    result = comparison(load_run(), [bound], [])
    assert result["passed"] and any("generator-bound: cyrus:3.6 b" in w for w in result["warnings"])


def test_saturation_threshold():
    def with_capacity(run, rps):
        run["capacity"] = {"steps": [], "saturation": {"point": {"rps": rps, "users": 10}}}
        return run
    base = with_capacity(load_run(), 200.0)
    [v] = verdicts(base, with_capacity(load_run("b"), 150.0), [parse_threshold("saturation-10%")])
    assert not v.passed and "(-25.0%)" in v.detail


def test_pairing_servers():
    assert pair_servers(["cyrus:3.6", "dovecot:2.3"], ["cyrus:3.6", "dovecot:2.3"]) == [
        ("cyrus:3.6", "cyrus:3.6"), ("dovecot:2.3", "dovecot:2.3")]
    assert pair_servers(["cyrus:3.6"], ["cyrus:3.10"]) == [("cyrus:3.6", "cyrus:3.10")]  # an upgrade
    assert pair_servers(["cyrus:3.6", "dovecot:2.3"], ["cyrus:3.10", "dovecot:2.4"]) == [
        ("cyrus:3.6", "cyrus:3.10"), ("dovecot:2.3", "dovecot:2.4")]


@pytest.mark.parametrize("before,after,kind", [
    ("passed", "failed", "new failure"), ("deviation", "error", "new failure"), ("", "failed", "new failure"),
    ("failed", "passed", "fixed"), ("passed", "deviation", "new deviation"),
    ("deviation", "passed", "deviation gone"), ("passed", "", "check absent"), ("", "passed", "new check"),
    ("passed", "skipped", "changed")])
def test_change_kinds(before, after, kind):
    assert CheckChange("t", "a", "b", before, after).kind == kind


def test_new_failures_on_an_upgrade():
    base = suite_run("r1", {("acl::t1", "cyrus:3.6"): "passed", ("acl::t2", "cyrus:3.6"): "deviation",
                            ("acl::t3", "cyrus:3.6"): "failed"})
    cand = suite_run("r2", {("acl::t1", "cyrus:3.10"): "failed", ("acl::t2", "cyrus:3.10"): "passed",
                            ("acl::t3", "cyrus:3.10"): "passed"})
    result = comparison(base, [cand], [parse_threshold("new-failures")])
    [entry] = result["candidates"]
    assert {c["test"]: c["kind"] for c in entry["changes"]} == {
        "acl::t1": "new failure", "acl::t2": "deviation gone", "acl::t3": "fixed"}
    assert not result["passed"]
    assert entry["verdicts"][0]["detail"] == "acl::t1 [cyrus:3.10] passed -> failed"


def test_kinds_cannot_be_mixed():
    with pytest.raises(UserError, match="one kind"):
        comparison(load_run(), [suite_run("r", {})], [])


def test_writers():
    base, cand = load_run(), load_run("load-b", scale_p95=2)
    result = comparison(base, [cand], [parse_threshold("p95+10%"), parse_threshold("lost")])
    suite = ET.fromstring(compare_out.junit(result)).find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("failures")) == sum(case.find("failure") is not None for case in cases) > 0
    md = compare_out.markdown(result)
    assert "Verdict: **FAILED**" in md and "| LMTP deliver | p95 |" in md
    page = compare_out.html(result, [base, cand])
    # Self-contained: no scripts, stylesheets or images fetched from anywhere.
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert page.count("<svg") == 3  # throughput, p95 and failures over time


def test_conformance_page_has_the_matrix():
    base = suite_run("r1", {("t1", "cyrus:3.6"): "passed"})
    cand = suite_run("r2", {("t1", "cyrus:3.10"): "failed"})
    page = compare_out.html(comparison(base, [cand], []), [base, cand])
    assert "Conformance matrix" in page and "<td class='failed'>failed</td>" in page


def test_compare_command_exits_1_when_a_threshold_is_crossed(tmp_path):
    for name, run in (("base", load_run()), ("same", load_run("s")), ("slow", load_run("x", scale_p95=1.5))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(run))
    assert read_run(tmp_path / "base")["kind"] == "load"
    run = lambda cand: subprocess.run(  # noqa: E731
        ["imapwright", "compare", str(tmp_path / "base"), str(tmp_path / cand), "--fail-on", "p95+10%",
         "--out", str(tmp_path / f"out-{cand}")], capture_output=True, text=True, timeout=60)
    ok, bad = run("same"), run("slow")
    assert ok.returncode == 0, ok.stderr
    assert bad.returncode == 1 and "FAIL p95+10%" in bad.stderr
    assert sorted(p.name for p in (tmp_path / "out-slow").iterdir()) == [
        "compare.html", "compare.json", "compare.md", "junit.xml"]


def test_runs_of_different_scenarios_carry_a_note():
    other = load_run("b")
    other["scenario"] = "delivery"
    [entry] = comparison(load_run(), [other], [])["candidates"]
    assert entry["note"].startswith("different settings (scenario mixed against delivery)")


def test_load_runs_with_other_settings_are_named():
    base, cand = load_run(), load_run("b")
    base["parameters"] = {"users": 10, "workers": 0, "duration": 30, "options": {"size": "4096"}}
    cand["parameters"] = {"users": 20, "workers": 2, "duration": 30, "options": {"size": "8192"}}
    [entry] = comparison(base, [cand], [])["candidates"]
    assert entry["note"] == ("different settings (users 10 against 20; workers 0 against 2; option size 4096 "
                             "against 8192): the figures are not like for like")


def test_a_run_from_before_lmtp_pipelining_is_named_as_not_like_for_like():
    """Runs before the envelope went out ahead recorded no lmtp_pipeline option: their delivery
    latency covered two round trips."""
    base, cand = load_run(), load_run("b")
    base["parameters"] = {"users": 10, "options": {"size": "4096"}}
    cand["parameters"] = {"users": 10, "options": {"size": "4096", "lmtp_pipeline": "1"}}
    [entry] = comparison(base, [cand], [])["candidates"]
    assert entry["note"].startswith("different settings (option lmtp_pipeline None against 1)")


def test_suite_run_with_new_failures_fails_without_any_threshold():
    base = suite_run("r1", {("t1", "cyrus:3.6"): "passed", ("t2", "cyrus:3.6"): "passed"})
    cand = suite_run("r2", {("t1", "cyrus:3.6"): "error", ("t2", "cyrus:3.6"): "failed"})
    result = comparison(base, [cand], [])
    assert not result["passed"] and result["thresholds"] == ["new-failures"]
    assert comparison(base, [cand], [parse_threshold("none")])["passed"]  # report only, said explicitly


def test_incomplete_candidate_never_passes_and_incomplete_baseline_is_warned():
    base = suite_run("r1", {("t1", "cyrus:3.6"): "passed"})
    cand = {**suite_run("r2", {("t1", "cyrus:3.6"): "passed"}), "status": "interrupted",
            "status_reason": "interrupted by Ctrl-C (SIGINT)", "not_run": 12}
    result = comparison(base, [cand], [parse_threshold("none")])
    assert not result["passed"]
    assert result["candidates"][0]["verdicts"][-1]["detail"] == (
        "interrupted: interrupted by Ctrl-C (SIGINT) (12 tests did not run)")
    assert "not complete" in comparison(cand, [base], [])["warnings"][0]


@pytest.mark.parametrize("threshold,message", [
    ("p95+10%", "--fail-on p95+10% does not apply to suite runs"),
    ("lost", "--fail-on lost does not apply to suite runs"),
])
def test_thresholds_for_another_kind_of_run_are_refused(threshold, message):
    base = suite_run("r1", {("t1", "cyrus:3.6"): "passed"})
    with pytest.raises(UserError) as refused:
        comparison(base, [base], [parse_threshold(threshold)])
    assert str(refused.value).startswith(message)


def test_load_threshold_refusals():
    with pytest.raises(UserError, match="new-failures does not apply to load runs"):
        comparison(load_run(), [load_run("b")], [parse_threshold("new-failures")])
    with pytest.raises(UserError, match="only capacity runs have a saturation point"):
        comparison(load_run(), [load_run("b")], [parse_threshold("saturation-10%")])
    with pytest.raises(UserError, match="give it alone"):
        comparison(load_run(), [load_run("b")], [parse_threshold("none"), parse_threshold("lost")])


def test_compare_command_fails_on_new_failures_without_fail_on(tmp_path):
    """A clean run against one with 16 new errors: FAILED and exit 1, with no --fail-on given."""
    clean = suite_run("clean", {(f"t{i}", "cyrus:3.6"): "passed" for i in range(20)})
    broken = suite_run("broken", {(f"t{i}", "cyrus:3.6"): "error" if i < 16 else "passed" for i in range(20)})
    for name, run in (("clean", clean), ("broken", broken)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(run))
    result = subprocess.run(["imapwright", "compare", str(tmp_path / "clean"), str(tmp_path / "broken"), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "verdict: FAILED" in result.stderr + result.stdout
    assert json.loads((tmp_path / "out" / "compare.json").read_text())["candidates"][0]["verdicts"][0]["detail"].count(
        "-> error") == 16


def test_a_local_run_and_a_distributed_run_are_named_as_not_like_for_like():
    """Issue 27, item 5: the generators differed (processes, hosts), as users and duration would."""
    base, cand = load_run(), load_run("b")
    base["parameters"] = cand["parameters"] = {"users": 10, "workers": 0, "duration": 30, "options": {}}
    base["generator"] = {"processes": 1, "hosts": ["ci-1"], "kind": "one local process"}
    cand["generator"] = {"processes": 2, "hosts": ["load-a", "load-b"], "kind": "workers of a master"}
    [entry] = comparison(base, [cand], [])["candidates"]
    assert entry["note"] == ("different settings (generator 1 Locust process(es) on 1 host(s) (ci-1) against "
                             "2 Locust process(es) on 2 host(s) (load-a, load-b)): the figures are not like for like")
    cand["generator"] = {"processes": 1, "hosts": ["ci-2"], "kind": "one local process"}
    [entry] = comparison(base, [cand], [])["candidates"]
    assert "note" not in entry  # another machine of the same shape is like for like


def test_large_mailbox_runs_plot_each_request_and_the_repair_against_the_folder_size():
    def run(server: str, messages: int, select_p95: float, repair_p50: float) -> dict:
        requests = {"large SELECT": {"requests": 10, "failures": 0, "p50_ms": 1.0, "p95_ms": select_p95, "max_ms": 9.0},
                    "repair the large folder": {"requests": 3, "failures": 0, "p50_ms": repair_p50, "p95_ms": 1.0,
                                                "max_ms": 1.0}}
        return {"server": {"name": server}, "large_mailbox": {"messages": messages, "requests": requests}}

    page = compare_out._large_mailbox_plots([run("cyrus:3.6", 1000, 3.0, 30.0), run("cyrus:3.6", 100000, 1200.0, 1400.0),
                                              run("dovecot:2.3", 1000, 6.0, 18.0)])
    assert page.count("<svg") == 2
    assert "cyrus:3.6: SELECT" in page and "dovecot:2.3: SELECT" in page and "Repair of the large folder" in page
    assert compare_out._large_mailbox_plots([{"server": {"name": "x"}}]) == ""  # no large-mailbox run: no plot
