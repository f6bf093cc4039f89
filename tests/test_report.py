import json

from imapwright.report import html
from imapwright.report.model import CheckRecord, summarize, write_atomic, write_json


def _records():
    return [
        CheckRecord("s/t.py::a[cyrus:3.6]", "s/t.py::a", "cyrus:3.6", "passed", 0.1),
        CheckRecord("s/t.py::a[dovecot:2.3]", "s/t.py::a", "dovecot:2.3", "deviation", 0.1,
                    message="known deviation: r [ref]"),
        CheckRecord("s/t.py::b[cyrus:3.6]", "s/t.py::b", "cyrus:3.6", "failed", 0.2, message="assert 1 == 2",
                    server_log="2026-11-29T04:28:05.022069+00:00 vm cyrus/imap[38]: <login>"),
    ]


def test_summary_counts_per_server():
    summary = summarize(_records(), "run1", {"cyrus:3.6": "3.6.1"}, "t0", "t1", 1)
    assert summary["counts"]["passed"] == 1 and summary["counts"]["failed"] == 1
    assert summary["per_server"]["dovecot:2.3"]["deviation"] == 1
    assert summary["per_server"]["cyrus:3.6"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 0, "deviation": 0}


def test_html_has_matrix_failures_and_escaped_log():
    page = html.render(summarize(_records(), "run1", {"cyrus:3.6": "3.6.1"}, "t0", "t1", 1))
    assert "<th>cyrus:3.6</th>" in page and "<th>dovecot:2.3</th>" in page
    assert "<h2>Failures</h2>" in page and "assert 1 == 2" in page
    assert "&lt;login&gt;" in page and "<login>" not in page


def test_write_atomic_leaves_no_partial_file(tmp_path):
    target = tmp_path / "summary.json"
    write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    class Boom:
        def __str__(self):
            raise RuntimeError("boom")
    try:
        write_atomic(target, Boom())  # type: ignore[arg-type]
    except (RuntimeError, TypeError):
        pass
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_record_keeps_parameters_other_than_the_server():
    from types import SimpleNamespace

    from imapwright.report.model import record_from_report
    rep = SimpleNamespace(nodeid="suites/acl/test_rights.py::test_right_is_needed[cyrus:3.6-k]@cyrus:3.6",
                          when="call", outcome="passed", passed=True, failed=False, skipped=False, duration=0.1,
                          user_properties=[("server", "cyrus:3.6"),
                                           ("test_id", "suites/acl/test_rights.py::test_right_is_needed[k]")],
                          longrepr=None, longreprtext="")
    record = record_from_report(rep)
    assert record.test == "suites/acl/test_rights.py::test_right_is_needed[k]" and record.server == "cyrus:3.6"


def test_outcome_tables_collect_rows_per_server_and_skip_malformed_entries():
    cell = json.dumps({"row": "index-deleted", "cell": "none lost, flags CHANGED", "detail": {"lost": 0}})
    records = [
        CheckRecord("r[cyrus:3.6-x]", "r", "cyrus:3.6", "passed", 0.1, properties={"table:reconstruct": cell}),
        CheckRecord("r[cyrus:3.10-x]", "r", "cyrus:3.10", "deviation", 0.1, properties={"table:reconstruct": cell}),
        CheckRecord("r[cyrus:3.10-y]", "r", "cyrus:3.10", "passed", 0.1, properties={"table:reconstruct": "{not json"}),
    ]
    summary = summarize(records, "run1", {}, "t0", "t1", 0)
    row = summary["tables"]["reconstruct"]["index-deleted"]
    assert sorted(row) == ["cyrus:3.10", "cyrus:3.6"] and row["cyrus:3.10"]["outcome"] == "deviation"
    assert len(summary["tables"]["reconstruct"]) == 1
    page = html.render(summary)
    assert "<h2>Outcomes: reconstruct</h2>" in page and "none lost, flags CHANGED" in page


def test_headline_says_pass_fail_or_interrupted_with_counts_per_server():
    fail = html.render(summarize(_records(), "run1", {}, "t0", "t1", 1))
    assert "verdict-FAIL'>FAIL</p>" in fail
    assert "cyrus:3.6: 1 passed, 1 failed, 0 deviations, 0 skipped" in fail
    ok = html.render(summarize(_records()[:2], "run2", {}, "t0", "t1", 0))
    assert "verdict-PASS'>PASS</p>" in ok
    cut = summarize(_records()[:2], "run3", {}, "t0", "t1", 2,
                    {"status": "interrupted", "not_run": 26, "reason": "interrupted by Ctrl-C (SIGINT)"})
    assert (cut["verdict"], cut["complete"], cut["not_run"]) == ("INTERRUPTED", False, 26)
    page = html.render(cut)
    assert "verdict-INTERRUPTED'>INTERRUPTED</p>" in page and "26 tests did not run" in page
    assert ">PASS<" not in page


def test_long_names_wrap_and_report_files_are_readable_by_others(tmp_path):
    page = html.render(summarize(_records(), "run1", {}, "t0", "t1", 1))
    assert "<td class='name'>" in page and "overflow-wrap:anywhere" in page
    write_json(tmp_path / "summary.json", {"a": 1})
    assert (tmp_path / "summary.json").stat().st_mode & 0o044 == 0o044


def test_a_report_without_a_server_property_invents_no_server():
    from types import SimpleNamespace

    from imapwright.report.model import record_from_report

    rep = SimpleNamespace(user_properties=[], when="setup", nodeid="s/t.py::x[dovecot:2.3-n]@dovecot:2.3",
                          outcome="skipped", failed=False, skipped=True, passed=False, duration=0.0,
                          longrepr=("f", 1, "Skipped: needs cyrus"), longreprtext="")
    record = record_from_report(rep)
    assert record.server == "" and record.outcome == "skipped"


def test_throughput_over_time_shows_what_completed_each_second_beside_locusts_rolling_figure():
    """Issue 27, item 18: a run at a steady 100 requests/s from its first second; Locust's figure
    (the last 10 s averaged) climbs for 10 s, what completed each second does not."""
    from imapwright.report.load_html import over_time_plots

    history = [{"t": t, "rps": min(t, 10) * 10.0, "fps": 0.0, "p50_ms": 5, "p95_ms": 9, "p99_ms": 12,
                "requests": 100 * t, "failures": 0} for t in range(0, 21)]
    rate, _latency, _failures = over_time_plots(history)
    done = rate["completed each second"]
    assert done and all(value == 100 for _t, value in done)
    rolling = rate["Locust's requests/s (average of the last 10 s)"]
    assert rolling[5][1] == 50  # the lag the plot now shows beside the real figure


def test_server_health_counts_each_logged_line_once_per_server_with_its_test():
    crash = "2026-12-06T14:50:52.199687+00:00 vm cyrus/master[1]: process type:SERVICE pid:42 signaled to death by signal 11"
    lines = json.dumps([["crash", crash]])
    records = [
        CheckRecord("s/t.py::a[cyrus:3.6]", "s/t.py::a", "cyrus:3.6", "failed", 0.1,
                    properties={"server_health": "1 crash: " + crash, "server_health_lines": lines}),
        # the same line again on the teardown record of the same test: counted once
        CheckRecord("s/t.py::a[cyrus:3.6]", "s/t.py::a", "cyrus:3.6", "error", 0.1,
                    properties={"server_health_lines": lines}),
        CheckRecord("s/t.py::b[cyrus:3.6]", "s/t.py::b", "cyrus:3.6", "passed", 0.1,
                    properties={"server_health": "clean"}),
    ]
    summary = summarize(records, "run1", {}, "t0", "t1", 1)
    assert summary["server_health"]["cyrus:3.6"]["counts"] == {"crash": 1}
    assert summary["server_health"]["cyrus:3.6"]["lines"] == [
        {"kind": "crash", "line": crash, "test": "s/t.py::a", "outcome": "failed"}]
    page = html.render(summary)
    assert "Server health" in page and "signaled to death" in page and "1 crash line(s) in its log" in page
