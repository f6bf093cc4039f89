"""Round trip per method: the awkward corpus -> server -> mbox. Whatever a method carries arrives
identical, and revert writes back exactly what the server holds. What each method loses (kinds of
message, flags, dates, added header fields) is measured and must match fixtures/migration/
methods.toml, so a change in either direction is noticed; the measurement goes into the report."""

from __future__ import annotations

import json

import pytest

from imapwright.admin.migrate import EVERYTHING, apply_user, compare_folder, make_plan, revert_user, server_folders
from imapwright.mailstore.corpus import awkward_messages

from .expectations import expected_carry
from .source import counts, measure, write_user

METHODS = [pytest.param("append", id="append"),
           pytest.param("deliver", id="deliver", marks=pytest.mark.requires("lmtp")),
           pytest.param("copy", id="copy", marks=pytest.mark.requires("spool-copy"))]


@pytest.fixture(scope="module")
def corpus():
    return awkward_messages(big=True)


def _source(tmp_path, user, corpus):
    half = len(corpus) // 2
    folders = {"INBOX": corpus[:half], "work": corpus[half:]}
    write_user(tmp_path / "source" / user, folders)
    return folders


@pytest.mark.parametrize("method", METHODS)
def test_round_trip_carries_what_the_method_can(server, users, tmp_path, corpus, method, record_property):
    user = users.create("mig").name
    source = _source(tmp_path, user, corpus)
    plan = make_plan(tmp_path / "source", [user])
    assert plan.problems == []
    [user_plan] = plan.users
    assert [fp.internal_data for fp in user_plan.folders] == [1, 0], "UW's FOLDER INTERNAL DATA message not left out"

    result = apply_user(server, user_plan, method)
    on_server = server_folders(server, user)
    carried = measure(source, on_server)
    record_property("table:migration", json.dumps({"row": method, "cell": _cell(carried, result),
                                                   "detail": {**carried.as_dict(), "refused": result.refused}}))
    expected = expected_carry(method, server)
    assert carried.as_dict() == expected.values, f"{method} on {server.name}: measured {carried.as_dict()}, " \
                                                 f"fixtures/migration/methods.toml says {expected.values} ({expected.reason})"

    # Revert writes back exactly what the server holds: content, flags and dates.
    revert_user(server, user, tmp_path / "reverted")
    [back] = make_plan(tmp_path / "reverted", [user]).users
    reverted = {fp.name: fp.messages for fp in back.folders}
    for folder, messages in on_server.items():
        assert compare_folder(folder, messages, reverted.get(folder, []), EVERYTHING) == []


@pytest.mark.parametrize("method", METHODS)
def test_rerun_adds_nothing(server, users, tmp_path, corpus, method):
    user = users.create("rerun").name
    _source(tmp_path, user, corpus[:6])
    [user_plan] = make_plan(tmp_path / "source", [user]).users
    apply_user(server, user_plan, method)
    before = counts(server_folders(server, user))
    again = apply_user(server, user_plan, method)
    assert counts(server_folders(server, user)) == before
    assert again.already >= sum(before.values()) - len(again.refused)


def _cell(carried, result) -> str:
    parts = [f"lost {len(carried.lost)}: {', '.join(sorted(carried.lost))}" if carried.lost else "nothing lost"]
    parts += [f"{what} {'kept' if ok else 'LOST'}" for what, ok in
              (("flags", carried.flags), ("dates", carried.dates), ("headers", carried.headers))]
    parts += [f"{len(result.refused)} refused"] if result.refused else []
    return ", ".join(parts)


def test_a_message_with_its_own_status_header_verifies_after_revert_to_mbox(server, users, tmp_path):
    """A Maildir file whose header holds Status and X-Status (mail a client once kept in an mbox,
    as Python's own email test corpus has it) is stored with them as content; reverted to mbox,
    they become the mbox's metadata (an mbox cannot hold them as content), and verify of the
    reverted mbox against the server compares what an mbox can hold: nothing missing, nothing
    extra (found migrating an nmh ~/Mail: one message missing and one extra)."""
    from imapwright.admin.migrate import verify_user
    from imapwright.mailstore.maildir import write_maildir
    from imapwright.mailstore.message import StoredMessage

    user = users.create("status").name
    own_status = b"From: a@example.org\nSubject: kept in an mbox once\nMessage-ID: <s1@example.org>\n" \
                 b"Status: O\nX-Status: \n\nbody\n"
    plain = b"From: a@example.org\nSubject: plain\nMessage-ID: <s2@example.org>\n\nbody\n"
    write_maildir(tmp_path / "source" / user / "INBOX", [StoredMessage(own_status, frozenset({"\\Seen"})),
                                                         StoredMessage(plain)])
    [user_plan] = make_plan(tmp_path / "source", [user]).users
    apply_user(server, user_plan, "append")
    assert verify_user(server, user_plan) == []
    assert any(b"X-Status:" in m.content for m in server_folders(server, user)["INBOX"])  # stored as content

    revert_user(server, user, tmp_path / "reverted")
    [back] = make_plan(tmp_path / "reverted", [user]).users
    assert [str(d) for d in verify_user(server, back)] == []
