"""The log gate can fail: a test whose own checks pass goes red when the server's log shows a
session process killed by SIGSEGV in its window, or a database error line; the same test without
either stays green. An inner pytest run against this server as a --target, on every family."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from imapwright.servers.target import PASSWORD_ENV, format_target

INNER = '''
import time

import pytest

# What each family writes for a database error (the lines the real servers log, marked as ours).
DATABASE_ERROR = {
    "cyrus": ("cyrus/imap", "DBERROR: opening /var/lib/cyrus/mailboxes.db: cyrusdb error (imapwright self-test)"),
    "dovecot": ("dovecot", "imap(selftest)<1><selftest>: Error: Corrupted index file (imapwright self-test)"),
}


def test_a_session_process_is_killed_in_the_middle(server):
    with server.admin_imap() as client:
        assert client.noop()
        # The newest IMAP session process is the one serving this connection (imapd: Cyrus, imap: Dovecot).
        assert server.exec(["pkill", "-SEGV", "-n", "-x", "imapd|imap"], user="root").exit_code == 0
    with server.admin_imap() as client:  # the server goes on: the test's own assertion passes
        assert client.noop()


def test_a_database_error_is_logged(server):
    tag, text = DATABASE_ERROR[server.family_name]
    assert server.exec(["logger", "-t", tag, text], user="root").exit_code == 0
    with server.admin_imap() as client:
        assert client.noop()


@pytest.fixture
def crash_in_teardown(server):
    yield
    assert server.exec(["pkill", "-SEGV", "-n", "-x", "imapd|imap"], user="root").exit_code == 0
    time.sleep(0.5)  # the rest of a teardown (removing users...): the master logs the death meanwhile


def test_a_fixture_kills_a_session_process_at_its_end(server, admin_imap, crash_in_teardown):
    assert admin_imap.noop()


def test_nothing_goes_wrong(server):
    with server.admin_imap() as client:
        assert client.noop()
'''


@pytest.mark.requires("exec", "logs")
@pytest.mark.provokes("crash", "error", reason="the inner run kills a session process and logs a database "
                                               "error on this server: that is what it checks")
def test_a_crash_and_a_database_error_fail_tests_whose_own_checks_pass(server, tmp_path):
    if not server.owned:
        pytest.skip("kills a process of the server: only on a server imapwright started")
    (tmp_path / "test_inner.py").write_text(INNER)
    url = format_target(server.admin_user, server.imap, lmtp=server.lmtp, exec_=f"docker:{server.container.name}")
    env = {**os.environ, PASSWORD_ENV: server.admin_password}
    junit, report = tmp_path / "junit.xml", tmp_path / "report"

    def inner(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "test_inner.py", "-q", "-p", "no:cacheprovider",
                               "--rootdir", str(tmp_path), "--target", url, f"--junitxml={junit}",
                               f"--imapwright-report={report}", *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    # The tests' own assertions pass: with the gate only reporting, the run is green...
    reported = inner("--log-gate", "report")
    assert reported.returncode == 0, (reported.stdout + reported.stderr)[-3000:]
    assert json.loads((report / "summary.json").read_text())["server_health"]["target"]["counts"]["crash"] >= 1
    # ...and the gate turns exactly the two tests red.
    run = inner()
    out = run.stdout + run.stderr
    assert run.returncode == 1, out[-3000:]
    checks = {c["test"].split("::")[-1]: c for c in json.loads((report / "summary.json").read_text())["checks"]}
    crash, dberror, clean = (checks[f"test_{n}"] for n in ("a_session_process_is_killed_in_the_middle",
                                                           "a_database_error_is_logged", "nothing_goes_wrong"))
    assert crash["outcome"] == "failed" and "[crash]" in crash["message"], crash
    assert "signal 11" in crash["message"] or "signaled to death" in crash["message"], crash["message"]
    assert dberror["outcome"] == "failed" and "[error]" in dberror["message"] and "imapwright self-test" in \
        dberror["message"], dberror
    assert "[crash]" not in dberror["message"]  # the crash belongs to the test that caused it
    assert clean["outcome"] == "passed", clean
    # A crash in a fixture's teardown: the test's call passed, its teardown is the error.
    at_end = [c for c in json.loads((report / "summary.json").read_text())["checks"]
              if c["test"].endswith("test_a_fixture_kills_a_session_process_at_its_end")]
    assert [c["outcome"] for c in at_end] == ["passed", "error"], at_end
    assert "at the test's end" in at_end[1]["message"] and "[crash]" in at_end[1]["message"]
    # junit.xml: every test says how the server's log looked
    health = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}.get("server_health")
              for case in ET.parse(junit).iter("testcase")}
    assert health["test_nothing_goes_wrong[target]"] == "clean"
    assert health["test_a_database_error_is_logged[target]"].startswith("1 error: ")
    assert " crash" in health["test_a_session_process_is_killed_in_the_middle[target]"]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["server_health"]["target"]["counts"]["error"] == 1


@pytest.mark.requires("cyrus", "exec", "logs")
@pytest.mark.provokes("sanitizer", reason="writes a sanitizer report where a sanitized build writes one")
def test_a_sanitized_builds_report_reaches_the_log_the_gate_reads(server):
    """A build from `scripts/candidate-debs --from-source --sanitize address,undefined` writes its
    reports to ASAN_OPTIONS' log_path; the image copies them into the server log as they appear."""
    from datetime import UTC, datetime

    from imapwright.servers import log_gate

    since = datetime.now(UTC)
    report = "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010 (imapwright self-test)"
    assert server.exec(["sh", "-c", f"printf '%s\\n' '{report}' >> /var/log/imapwright/sanitizer/report.4242"],
                       user="cyrus").exit_code == 0
    lines = server.wait_for_log("imapwright self-test", since=since, timeout=10)
    assert [f.kind for f in log_gate.classify(server.family_name, lines)] == ["sanitizer"], lines


@pytest.mark.requires("exec", "logs")
@pytest.mark.provokes("error", reason="the inner run logs a database error on this server")
def test_a_log_noise_entry_hides_its_line_and_one_that_hid_nothing_is_named(server, tmp_path):
    if not server.owned:
        pytest.skip("writes into the server's log: only on a server imapwright started")
    import shutil

    from imapwright.resources import fixture

    (tmp_path / "test_inner.py").write_text(INNER)
    devs = tmp_path / "devs"
    shutil.copytree(fixture("deviations"), devs)
    with (devs / f"{server.family_name}.toml").open("a") as fh:
        fh.write('\n[[log_noise]]\npattern = "imapwright self-test"\ntests = ["test_inner.py::test_a_database_error_is_logged"]\n'
                 'reason = "the self-test\'s own line"\nreference = "tests/integration/test_log_gate_can_fail.py"\n'
                 '\n[[log_noise]]\npattern = "a line nobody logs"\ntests = ["test_inner.py::test_nothing_goes_wrong"]\n'
                 'reason = "never matches"\nreference = "tests/integration/test_log_gate_can_fail.py"\n'
                 '\n[[log_noise]]\npattern = "a race nobody hit"\nsometimes = true\n'
                 'tests = ["test_inner.py::test_nothing_goes_wrong"]\nreason = "a race: some runs only"\n'
                 'reference = "tests/integration/test_log_gate_can_fail.py"\n')
    url = format_target(server.admin_user, server.imap, exec_=f"docker:{server.container.name}")
    report = tmp_path / "report"
    run = subprocess.run([sys.executable, "-m", "pytest", "test_inner.py", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), "--target", url, "--deviations", str(devs),
                          f"--imapwright-report={report}", "-k", "database_error or nothing_goes_wrong"],
                         cwd=tmp_path, env={**os.environ, PASSWORD_ENV: server.admin_password},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]  # the listed line fails nothing
    assert "log noise entries that hid nothing" in run.stdout
    assert f"{server.family_name}: a line nobody logs" in run.stdout
    assert "a race nobody hit" not in run.stdout  # sometimes = true: not named when it hid nothing
    summary = json.loads((report / "summary.json").read_text())
    assert summary["unused_log_noise"] == [f"{server.family_name}: a line nobody logs"]
    health = {c["test"].split("::")[-1]: c["properties"].get("server_health") for c in summary["checks"]}
    assert health["test_a_database_error_is_logged"] == "clean (1 listed)"
