"""The subscriptions suite goes red on a server that answers OK to SUBSCRIBE and UNSUBSCRIBE and
changes nothing (a proxy in front of a real server swallows both), and stays green through the
same proxy when it swallows nothing (issue 32 item 1)."""

from pathlib import Path

import pytest

from .imap_proxy import run_suite_through

SUITE = Path(__file__).resolve().parents[2] / "suites" / "subscriptions"
pytestmark = pytest.mark.requires("exec")


def _run_through(pytester, monkeypatch, server, swallow: set[str]):
    result, failed, proxy = run_suite_through(pytester, monkeypatch, server, SUITE, "-rfx", swallow=swallow)
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
