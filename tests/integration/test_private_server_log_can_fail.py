"""The log gate and the failure report read a test's private server (crash, restart and
reconfigure tests get one of their own), not only the run's shared server: an error line there
fails the test, one written by a fixture at the test's end fails its teardown (the container is
removed by then), and a failing test's report shows that server's log. An inner pytest run that
starts the same catalogue server."""

import json
import os
import subprocess
import sys

import pytest

INNER = '''
from datetime import UTC, datetime

import pytest

# A line each family's log reader files under the server (tag), as a database error and as plain info.
TAG = {"cyrus": "cyrus/imap", "dovecot": "dovecot"}
ERROR = {"cyrus": "DBERROR: opening /var/lib/cyrus/mailboxes.db: cyrusdb error (imapwright private self-test)",
         "dovecot": "imap(selftest)<1><selftest>: Error: Corrupted index file (imapwright private self-test)"}


def log(server, text, priority="mail.err"):
    tag = TAG[server.family_name]
    assert server.exec(["logger", "-p", priority, "-t", tag, text], user="root").exit_code == 0


def test_an_error_on_the_private_server_fails_the_test(private_server):
    log(private_server, ERROR[private_server.family_name])
    with private_server.admin_imap() as client:
        assert client.noop()


@pytest.fixture
def error_at_the_end(private_server):
    yield
    log(private_server, ERROR[private_server.family_name])


def test_an_error_the_fixture_logs_at_the_end_fails_the_teardown(private_server, error_at_the_end):
    with private_server.admin_imap() as client:
        assert client.noop()


def test_a_failure_shows_the_private_servers_log(private_server):
    since = datetime.now(UTC)
    log(private_server, "imapwright private marker line", priority="mail.info")
    assert private_server.wait_for_log("imapwright private marker line", since=since)
    assert False, "the test's own check"
'''


@pytest.mark.requires("exec", "logs")
def test_a_private_servers_log_is_judged_and_shown(server, tmp_path):
    if not server.owned:
        pytest.skip("starts the same catalogue server as the run's: only where imapwright started this one")
    (tmp_path / "test_inner.py").write_text(INNER)
    report = tmp_path / "report"
    run = subprocess.run([sys.executable, "-m", "pytest", "test_inner.py", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), "--server", server.spec.name, f"--imapwright-report={report}"],
                         cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out[-3000:]
    checks: dict[str, list[dict]] = {}
    for c in json.loads((report / "summary.json").read_text())["checks"]:
        checks.setdefault(c["test"].split("::")[-1], []).append(c)
    [in_call] = checks["test_an_error_on_the_private_server_fails_the_test"]
    assert in_call["outcome"] == "failed" and "[error]" in in_call["message"], in_call
    assert "imapwright private self-test" in in_call["message"], in_call
    at_end = checks["test_an_error_the_fixture_logs_at_the_end_fails_the_teardown"]
    assert [c["outcome"] for c in at_end] == ["passed", "error"], at_end
    assert "at the test's end" in at_end[1]["message"] and "imapwright private self-test" in at_end[1]["message"]
    [shown] = checks["test_a_failure_shows_the_private_servers_log"]
    assert shown["outcome"] == "failed" and "the test's own check" in shown["message"], shown
    assert "imapwright private marker line" in shown["server_log"], shown["server_log"][-2000:]
    assert "private server" in out and "imapwright private marker line" in out
