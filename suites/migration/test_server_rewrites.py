"""What each server does to a message on its way in, per method, measured against
fixtures/migration/methods.toml [rewrites]: a listed rule that no longer happens, or a change no
rule names, fails. Then the tool's own verify, with those rules, must call no present message
missing and name every dropped one (issue 16 observations 4, 5, 6, 7)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from imapwright.admin.migrate import apply_user, make_plan, rewrite_rules, server_folders, verify_user
from imapwright.mailstore import rewrites

SPEC = importlib.util.spec_from_file_location(
    "wild_corpus", Path(__file__).resolve().parents[2] / "fixtures" / "migration" / "wild_corpus.py")
wild = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(wild)

ALL = frozenset(rewrites.RULES)
METHODS = [pytest.param("append", id="append"),
           pytest.param("deliver", id="deliver", marks=pytest.mark.requires("lmtp")),
           pytest.param("copy", id="copy", marks=pytest.mark.requires("spool-copy"))]


def _write(root: Path, user: str) -> None:
    (root / user).mkdir(parents=True)
    (root / user / "INBOX").write_bytes(b"".join(b"From a@example.org Mon Dec  2 15:26:33 2002\n" + c + b"\n"
                                                 for c in wild.rewrite_cases()))


@pytest.mark.parametrize("method", METHODS)
def test_server_rewrites_are_the_listed_ones(server, users, tmp_path, method, record_property):
    user = users.create("rw").name
    _write(tmp_path, user)
    [plan] = make_plan(tmp_path, [user]).users
    rules = rewrite_rules(method, server.family_name)
    result = apply_user(server, plan, method)
    stored = server_folders(server, user)["INBOX"]
    trace = method != "deliver"
    observed, unexplained, lost = set(), [], []
    stored_ids = {i for m in stored if (i := rewrites.message_id(m.content)) is not None}
    for n, source in enumerate(plan.folders[0].messages, 1):
        mark = f"marker-{n}\n".encode()
        found = [m for m in stored if mark in m.content.replace(b"\r\n", b"\n")] or [
            m for m in stored if rewrites.key(m.content, ALL, trace) == rewrites.key(source.content, ALL, trace)]
        if not found:
            refused = any(f"message {n}:" in r for r in result.refused)
            rule = rewrites.dropped_by(source.content, frozenset(rewrites.DROPPING), stored_ids)
            if rule and not refused:
                observed.add(rule)
            elif not refused:
                lost.append(n)
            continue
        changed = rewrites.explain(source.content, found[0].content, ALL, trace)
        if changed == ["(unexplained)"]:
            unexplained.append(n)
        observed |= set(changed)
    record_property("table:migration rewrites", f'{{"row": "{method}", "cell": "{", ".join(sorted(observed)) or "none"}"}}')
    assert not lost, f"messages neither stored, refused nor dropped by a rule: {lost}"
    assert not unexplained, f"messages changed by no known rule: {unexplained}"
    # A drop rule says what the server may do (Cyrus's duplicate suppression let a second
    # Message-ID through once under CI load); alterations happen every time.
    may_drop = frozenset(rewrites.DROPPING)
    assert observed <= rules and observed - may_drop == rules - may_drop, (
        f"{method} on {server.name}: observed {sorted(observed)}, fixtures/migration/methods.toml lists "
        f"{sorted(rules)}")
    # The apply ledger counted what was dropped, not as added.
    assert result.added + result.dropped + len(result.refused) == len(plan.folders[0].messages)
    assert result.added == len(stored)
    # verify, with the listed rules: nothing present called missing; what the server dropped named.
    kinds = {}
    for d in verify_user(server, plan, frozenset({"trace"}) if trace else frozenset(), method):
        kinds.setdefault(d.kind, []).append(d.text)
    assert not kinds.get("missing", []) or len(kinds["missing"]) == len(result.refused), kinds
    assert not kinds.get("extra") and not kinds.get("changed"), kinds
    assert len(kinds.get("dropped", [])) == result.dropped
    # A re-run recognises its own altered messages (it used to refuse the user: "not from SOURCE").
    again = apply_user(server, plan, method)
    assert again.added == 0 and again.already == len(stored)
