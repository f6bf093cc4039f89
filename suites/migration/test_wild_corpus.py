"""The real-world-style corpus (fixtures/migration/wild_corpus.py) through every method: every
source message is accounted for (stored, refused, dropped under a listed rule, or left out with
its reason), and an independent check, reading each folder with its own FETCH BODY.PEEK[] and
comparing bytes under the method's documented rules, agrees with verify message for message."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from imapwright.admin.migrate import CARRIES, apply_all, make_plan, rewrite_rules, verify_user
from imapwright.mailstore import rewrites

SPEC = importlib.util.spec_from_file_location(
    "wild_corpus", Path(__file__).resolve().parents[2] / "fixtures" / "migration" / "wild_corpus.py")
wild = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(wild)

METHODS = [pytest.param("append", id="append"),
           pytest.param("deliver", id="deliver", marks=pytest.mark.requires("lmtp")),
           pytest.param("copy", id="copy", marks=pytest.mark.requires("spool-copy"))]


def _independent_missing(server, plan, rules: frozenset[str], trace: bool) -> int:
    """Source messages not found stored, by this test's own reading of the server."""
    missing = 0
    for user in plan.users:
        with server.user_session(user.user) as client:
            for fp in user.folders:
                mailbox = server.mailbox_name(user.user, "" if fp.name == "INBOX" else fp.name, user.user)
                client.select_folder(mailbox, readonly=True)
                uids = client.search()
                stored = Counter(rewrites.key(v[b"BODY[]"].replace(b"\r\n", b"\n"), rules, trace)
                                 for v in (client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}).values())
                for message in fp.messages:
                    k = rewrites.key(message.content, rules, trace)
                    if stored[k] > 0:
                        stored[k] -= 1
                    else:
                        missing += 1
    return missing


@pytest.mark.parametrize("method", METHODS)
def test_every_wild_message_is_accounted_for(server, users, tmp_path, method):
    root = tmp_path / "wild"
    expected = wild.write_tree(root)
    for name in expected:  # the corpus's users become this test's accounts
        (root / name).rename(root / users.create(name).name)
    plan = make_plan(root)
    batch = apply_all(server, plan, method, "skip-message")
    led = batch.ledger
    assert led["users refused"] == []
    assert led["cannot be migrated"] == 0  # cat's two messages without header fields are sent too
    assert led["stored"] + led["refused by the server"] + led["dropped by the server"] == led["to migrate"] == 26
    rules = rewrite_rules(method, server.family_name)
    trace = "trace" in CARRIES[method]
    theirs = _independent_missing(server, plan, rules, trace)
    ours = Counter()
    for user in plan.users:
        for d in verify_user(server, user, CARRIES[method], method):
            ours[d.kind] += 1
    assert not ours["extra"] and not ours["changed"] and not ours["folder"], ours
    assert ours["missing"] + ours["dropped"] == theirs == led["refused by the server"] + led["dropped by the server"]
