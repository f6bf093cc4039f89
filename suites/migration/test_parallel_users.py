"""`migrate apply --jobs N`: users migrated at the same time, each in a session of its own, each
arriving whole in its own account (nothing of one user in another's), the ledger adding up."""

from __future__ import annotations

import threading

import pytest

from imapwright.admin.migrate import CARRIES, EXPECTED_KINDS, apply_all, make_plan, server_folders, verify_user
from imapwright.mailstore.message import StoredMessage

from .source import write_user

METHODS = [pytest.param("append", id="append"),
           pytest.param("deliver", id="deliver", marks=pytest.mark.requires("lmtp")),
           pytest.param("copy", id="copy", marks=pytest.mark.requires("spool-copy"))]


def _messages(user: str, folder: str, count: int) -> list[StoredMessage]:
    """Messages that name their owner and folder: one found in another account shows at once."""
    return [StoredMessage(f"From: a@example.org\r\nTo: {user}@example.org\r\nSubject: {user} {folder} {n}\r\n"
                          f"Message-ID: <{user}.{folder}.{n}@parallel>\r\n\r\n{'body of ' * 40}{n}\r\n".encode(),
                          frozenset(), None) for n in range(count)]


@pytest.mark.parametrize("method", METHODS)
def test_users_migrated_in_parallel_each_arrive_whole_in_their_own_account(server, users, tmp_path, method):
    names = [users.create(f"par{i}").name for i in range(4)]
    # Four users on three sessions: at least two run side by side.
    source = {u: {"INBOX": _messages(u, "INBOX", 450 + 10 * i), "work": _messages(u, "work", 7)}
              for i, u in enumerate(names)}
    for user, folders in source.items():
        write_user(tmp_path / "source" / user, folders, uw_header=False)
    plan = make_plan(tmp_path / "source", names)
    threads = set()

    def progress(_n: int) -> None:
        threads.add(threading.get_ident())

    batch = apply_all(server, plan, method, progress=progress, jobs=3)
    assert len(threads) >= 2, "the users' sessions did not run side by side"
    assert [e["status"] for e in batch.users.values()] == ["applied"] * 4
    assert batch.ledger["stored"] == sum(len(m) for f in source.values() for m in f.values())
    for user_plan in plan.users:
        assert sorted(server_folders(server, user_plan.user)) == ["INBOX", "work"]
        differences = [d for d in verify_user(server, user_plan, CARRIES[method], method)
                       if d.kind not in EXPECTED_KINDS]
        assert differences == [], f"{user_plan.user}: {differences[:3]}"
