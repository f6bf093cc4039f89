"""Bad input stops a migration before anything is written: a truncated mbox, a file that is not
mail, an unreadable folder, a mailbox that already exists with other mail. One clear line, exit
status 2, and no user of the batch half-migrated; a dry run shows the plan and writes nothing."""

import os
import subprocess

import pytest

from imapwright.admin.migrate import apply_user, make_plan, server_folders
from imapwright.errors import UserError
from imapwright.mailstore.corpus import awkward_messages
from imapwright.servers.target import target_url

from .source import write_user

GOOD = awkward_messages(big=False)[:3]
TRUNCATED = b"From a Sun Nov 29 07:44:52 2026\nSubject: x\n\nbody\n\nFrom b Sun Nov 29 07:44:52 2026\nSubject: cut"
NOT_MAIL = b"From the desk of the director\nthis is a letter, not a mailbox\n"


def _cli(server, *args):
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    return subprocess.run(["imapwright", "migrate", *args, "--target", target_url(server)],
                          capture_output=True, text=True, env=env, timeout=300)


def _good_and_bad(users, tmp_path, content: bytes) -> tuple[str, str]:
    """Two users in the source: one whose folders are fine, one with a folder holding `content`."""
    first, second = users.create("good").name, users.create("bad").name
    write_user(tmp_path / first, {"INBOX": GOOD, "work": GOOD})
    write_user(tmp_path / second, {"INBOX": GOOD})
    (tmp_path / second / "broken").write_bytes(content)
    return first, second


@pytest.mark.parametrize("content,says", [(TRUNCATED, "cut short")])
def test_on_error_stop_refuses_the_whole_batch_before_anything_is_written(server, users, tmp_path, content, says):
    first, second = _good_and_bad(users, tmp_path, content)
    before = {u: server_folders(server, u) for u in (first, second)}
    run = _cli(server, "apply", str(tmp_path), "--on-error", "stop")
    assert run.returncode == 2  # the CLI's status for a user's mistake
    assert run.stderr.strip().count("\n") == 0 and says in run.stderr and "broken" in run.stderr
    assert {u: server_folders(server, u) for u in (first, second)} == before
    assert server.admin_password not in run.stdout + run.stderr


@pytest.mark.parametrize("content,says", [(TRUNCATED, "cut short")])
def test_a_bad_message_refuses_its_user_and_the_batch_goes_on(server, users, tmp_path, content, says):
    """Issue 16 observation 10: one bad message used to block every user of the batch."""
    first, second = _good_and_bad(users, tmp_path, content)
    before = server_folders(server, second)
    report = tmp_path / "ledger.json"
    run = _cli(server, "apply", str(tmp_path), "--report", str(report))
    assert run.returncode == 1, run.stderr
    assert server_folders(server, second) == before  # nothing of the refused user written
    assert sorted(server_folders(server, first)) == ["INBOX", "work"]
    out = run.stdout + run.stderr
    assert f"not migrated: {second}: " in out and says in out
    import json

    ledger = json.loads(report.read_text())["ledger"]
    assert ledger["users refused"] == [second] and ledger["stored"] == 2 * len(GOOD)
    good_in_broken = int(content == TRUNCATED)  # its first message is whole
    assert ledger["not sent (user refused)"] == len(GOOD) + good_in_broken and ledger["cannot be migrated"] == 1
    # skip-message: the refused user's good messages go, the bad one is left out and said so
    again = _cli(server, "apply", str(tmp_path), "--on-error", "skip-message")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(server_folders(server, second)["INBOX"]) == len(GOOD)
    verify = _cli(server, "verify", str(tmp_path))
    assert verify.returncode == 1 and "[message:" in verify.stdout + verify.stderr  # left out, not accepted
    accepted = _cli(server, "verify", str(tmp_path), "--accept", "message:not-mail", "--accept",
                    "message:cut-short")
    assert accepted.returncode == 0, accepted.stdout


def test_unreadable_folder_is_named_and_skipped(tmp_path):
    write_user(tmp_path / "ann", {"INBOX": GOOD})
    (tmp_path / "ann" / "gone").symlink_to(tmp_path / "nowhere")
    [user] = make_plan(tmp_path, ["ann"]).users
    assert [(s.path.name, s.reason.split(":")[0]) for s in user.skipped] == [("gone", "unreadable")]


def test_existing_mailbox_with_other_mail_is_not_overwritten(server, users, tmp_path):
    user = users.create("exists")
    write_user(tmp_path / user.name, {"INBOX": GOOD, "work": GOOD})
    client = users.login(user)
    work = server.mailbox_name(user.name, "work", user.name)
    client.create_folder(work)
    client.append(work, b"Subject: already here\r\n\r\nnot from the source\r\n")
    before = server_folders(server, user.name)
    [plan] = make_plan(tmp_path, [user.name]).users
    with pytest.raises(UserError, match=r"already exists with 1 messages not from .*work; not overwritten"):
        apply_user(server, plan, "append")
    assert server_folders(server, user.name) == before  # INBOX untouched as well


def test_dry_run_prints_the_plan_and_writes_nothing(server, users, tmp_path):
    user = users.create("dry").name
    write_user(tmp_path / user, {"INBOX": GOOD, "s!me": GOOD})
    before = server_folders(server, user)
    run = _cli(server, "apply", str(tmp_path), "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "s_041me" in run.stdout and "nothing written" in run.stdout
    assert server_folders(server, user) == before


def test_a_message_without_header_fields_is_the_servers_to_take_or_refuse(server, users, tmp_path):
    """Issue 27, item 16: not held back as "not mail". The server stores it (Dovecot) or refuses it
    (Cyrus: "Message contains invalid header"); either way it is accounted for, and a refusal is
    reported in the server's words like any other."""
    first, second = _good_and_bad(users, tmp_path, NOT_MAIL)
    report = tmp_path / "ledger.json"
    run = _cli(server, "apply", str(tmp_path), "--report", str(report))
    import json

    ledger = json.loads(report.read_text())["ledger"]
    assert ledger["users refused"] == [] and ledger["cannot be migrated"] == 0
    assert ledger["stored"] + ledger["refused by the server"] == ledger["to migrate"] == 3 * len(GOOD) + 1
    stored = server_folders(server, second)
    if ledger["refused by the server"]:
        assert run.returncode == 1 and f"not migrated: {second}: broken: " in run.stdout + run.stderr
        assert stored["broken"] == []  # the folder made, its one message refused
    else:
        assert run.returncode == 0 and [m.content for m in stored["broken"]] == [
            b"this is a letter, not a mailbox\r\n"]
