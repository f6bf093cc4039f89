"""junit.xml as CI history reads it (junitparser, not pytest's own writer): test ids that do not
change with the number of servers, server/version/deviation/server_health properties on every test case, and a
failure's server log lines in its system-out."""

import subprocess
import sys

from junitparser import JUnitXml, Properties

INNER = '''
import pytest

def test_noop_answers_ok(admin_imap):
    assert admin_imap.noop()[0]

def test_fails_after_a_bad_login(server):
    import imapclient
    with pytest.raises(imapclient.exceptions.LoginError):
        server.login("nosuchuser", "wrong")
    assert False, "fails on purpose: its server log must be in system-out"
'''


def _cases(tmp_path, name, servers):
    tmp_path.joinpath("test_inner.py").write_text(INNER)
    junit = tmp_path / f"{name}.xml"
    args = [a for s in servers for a in ("--server", s)]
    if len(servers) > 1:
        args += ["-n", str(len(servers)), "--dist", "loadgroup"]
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                    "-o", "junit_family=xunit1", "-o", "junit_logging=system-out", "-o",
                    "junit_log_passing_tests=false", "test_inner.py", f"--junitxml={junit}", *args],
                   cwd=tmp_path, capture_output=True, timeout=300)
    return {case.name: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}


def test_junit_ids_properties_and_server_log(tmp_path):
    alone = _cases(tmp_path, "one", ["cyrus:3.6"])
    both = _cases(tmp_path, "two", ["cyrus:3.6", "dovecot:2.3"])
    assert set(alone) == {"test_noop_answers_ok[cyrus:3.6]", "test_fails_after_a_bad_login[cyrus:3.6]"}
    assert set(alone) <= set(both)  # the same ids with a second server
    assert not any("@" in name for name in both)
    for name, case in both.items():
        props = {p.name: p.value for p in case.child(Properties)}
        assert props["server"] in ("cyrus:3.6", "dovecot:2.3"), name
        assert props["server_version"].split(".")[0] in ("3", "2"), (name, props)
        assert props["deviation"] == "none"
        assert props["server_health"] == "clean", (name, props)  # the log gate read every test's window
    failed = both["test_fails_after_a_bad_login[cyrus:3.6]"]
    assert not failed.is_passed
    assert "badlogin" in (failed.system_out or "")  # Cyrus's log line for the refused login
