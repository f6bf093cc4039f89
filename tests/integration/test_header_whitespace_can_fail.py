"""The migration rewrite measurement goes red on a server that re-folds header lines (a proxy
turns every tab that starts a header continuation into a space in the messages it returns, as a
server that normalizes folding would store them): the tab-folded Received: and DKIM-Signature:
cases of the corpus are then changed in a way no listed rule explains (issue 32 item 3). Through
the same proxy changing nothing it stays green."""

from pathlib import Path

import pytest

from imapwright.servers.handle import Endpoint
from imapwright.servers.target import PASSWORD_ENV, format_target

from .imap_proxy import SwallowingProxy

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "migration" / "test_server_rewrites.py"
pytestmark = pytest.mark.requires("exec")


def _refold(data: bytes) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    return head.replace(b"\r\n\t", b"\r\n ") + sep + body


def _run(pytester, monkeypatch, server, rewrite_literal):
    proxy = SwallowingProxy((server.imap.host, server.imap.port), rewrite_literal=rewrite_literal)
    try:
        url = format_target(server.admin_user, Endpoint(server.imap.host, proxy.port), exec_=server.channel.name)
        monkeypatch.setenv(PASSWORD_ENV, server.admin_password)
        monkeypatch.setenv("PYTHONPATH", str(ROOT))
        result = pytester.runpytest_subprocess(
            str(SUITE), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-p", "no:benchmark", "--target", url,
            "--allow-destructive", "--no-consistency-check", "--log-gate", "off", "-k", "append", "-rf")
    finally:
        proxy.close()
    return result, proxy.rewritten


def test_a_server_that_refolds_headers_turns_the_rewrite_measurement_red(pytester, monkeypatch, server):
    result, rewritten = _run(pytester, monkeypatch, server, _refold)
    assert rewritten
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unexplained*"])


def test_the_same_proxy_changing_nothing_keeps_it_green(pytester, monkeypatch, server):
    result, rewritten = _run(pytester, monkeypatch, server, lambda data: data)
    assert rewritten == 0
    result.assert_outcomes(passed=1)
