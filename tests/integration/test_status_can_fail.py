"""The STATUS tests go red on a server whose STATUS lies (a proxy adds one to every STATUS
MESSAGES it relays, or one to UNSEEN), and stay green through the same proxy when it changes
nothing (issue 32 item 2)."""

import re
from pathlib import Path

import pytest

from .imap_proxy import run_suite_through

SUITE = Path(__file__).resolve().parents[2] / "suites" / "health" / "test_status.py"
pytestmark = pytest.mark.requires("exec")


def _off_by_one(item: bytes):
    pattern = re.compile(rb"^(\* STATUS .*\W" + item + rb" )(\d+)")

    def rewrite(line: bytes) -> bytes:
        return pattern.sub(lambda m: m[1] + str(int(m[2]) + 1).encode(), line)
    return rewrite


def _run(pytester, monkeypatch, server, rewrite):
    result, failed, proxy = run_suite_through(pytester, monkeypatch, server, SUITE, "-rfs", lmtp=True, rewrite=rewrite)
    return result, failed, proxy.rewritten

@pytest.mark.parametrize("item", [b"MESSAGES", b"UNSEEN"])
def test_a_status_that_lies_turns_the_status_tests_red(pytester, monkeypatch, server, item):
    result, failed, rewritten = _run(pytester, monkeypatch, server, _off_by_one(item))
    assert rewritten
    assert {"test_status_agrees_after_append", "test_status_agrees_after_expunge", "test_status_agrees_after_rename",
            "test_status_agrees_after_another_session_changes_flags", "test_status_agrees_after_delivery",
            "test_status_counts_appended_mail_before_the_mailbox_was_ever_selected"} <= failed, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines([f"*STATUS {item.decode()} *EXAMINE/FETCH*"])


def test_the_same_proxy_changing_nothing_keeps_them_green(pytester, monkeypatch, server):
    result, failed, rewritten = _run(pytester, monkeypatch, server, lambda line: line)
    assert rewritten == 0 and failed == set(), result.stdout.str()[-3000:]


def test_a_status_that_lies_only_when_uidvalidity_is_asked_alone_turns_them_red(pytester, monkeypatch, server):
    """As Cyrus 3.2 does after its mailbox list is restored: STATUS (UIDVALIDITY) alone says 0,
    with the other items it tells the truth."""
    alone = re.compile(rb"^(\* STATUS .*\(UIDVALIDITY )(\d+)\)")
    result, failed, rewritten = _run(pytester, monkeypatch, server, lambda line: alone.sub(rb"\g<1>0)", line))
    assert rewritten
    assert "test_status_agrees_after_append" in failed, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*STATUS UIDVALIDITY asked alone 0, EXAMINE*"])
