"""The subscriptions suite goes red on a server that answers OK to SUBSCRIBE and UNSUBSCRIBE and
changes nothing (a proxy in front of a real server swallows both), and stays green through the
same proxy when it swallows nothing (issue 32 item 1)."""

import os
from pathlib import Path

import pytest

from imapwright.servers.handle import Endpoint
from imapwright.servers.target import PASSWORD_ENV, format_target

from .imap_proxy import SwallowingProxy

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "subscriptions"
pytestmark = pytest.mark.requires("exec")


def _run_through(pytester, monkeypatch, server, swallow: set[str]):
    proxy = SwallowingProxy((server.imap.host, server.imap.port), swallow)
    try:
        url = format_target(server.admin_user, Endpoint(server.imap.host, proxy.port), exec_=server.channel.name)
        monkeypatch.setenv(PASSWORD_ENV, server.admin_password)
        monkeypatch.setenv("PYTHONPATH", str(ROOT))
        result = pytester.runpytest_subprocess(
            str(SUITE), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-p", "no:benchmark", "--target", url,
            "--allow-destructive", "--no-consistency-check", "--log-gate", "off", "-rfx")
    finally:
        proxy.close()
    failed = {line.split("::")[1].split("[")[0] for line in result.outlines if line.startswith("FAILED ")}
    return result, failed, proxy.swallowed


def test_a_server_that_ignores_subscribe_turns_the_suite_red(pytester, monkeypatch, server):
    result, failed, swallowed = _run_through(pytester, monkeypatch, server, {"SUBSCRIBE", "UNSUBSCRIBE"})
    assert swallowed and any(" SUBSCRIBE " in s.upper() for s in swallowed)
    assert {"test_subscribe_is_listed_by_lsub", "test_unsubscribe_removes_it_from_lsub",
            "test_subscribing_to_a_name_that_does_not_exist_is_kept_or_refused_cleanly"} <= failed, \
        result.stdout.str()[-3000:]
    assert "test_list_subscribed_agrees_with_lsub" in failed or "LIST-EXTENDED" in result.stdout.str()


def test_the_same_proxy_swallowing_nothing_keeps_the_suite_green(pytester, monkeypatch, server):
    result, failed, swallowed = _run_through(pytester, monkeypatch, server, set())
    assert swallowed == [] and failed == set(), result.stdout.str()[-3000:]
