"""verify sees what a migration left behind: a nested Maildir folder removed from the server, a
source file that was skipped, and a message the server dropped; each is named, and only an
explicit --accept lets the last two pass."""

import os
import subprocess

import pytest

from imapwright.admin.migrate import apply_all, make_plan, verify_user
from imapwright.servers.target import target_url

pytestmark = pytest.mark.requires("lmtp")


def _maildir(path, messages):
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for n, content in enumerate(messages):
        (path / "cur" / f"100{n}.M{n}.host:2,S").write_bytes(content)


def test_verify_names_a_removed_nested_folder_a_skipped_file_and_a_dropped_message(server, users, tmp_path):
    user = users.create("left").name
    root = tmp_path / user
    _maildir(root, [b"Subject: top\nMessage-ID: <t@x>\n\ntop\n"])
    _maildir(root / "lists", [b"Subject: list\nMessage-ID: <l@x>\n\nlist\n"])
    _maildir(root / "lists" / "cyrus", [b"Subject: nested\nMessage-ID: <n@x>\n\nnested\n"])
    (root / "old.gz").write_bytes(b"\x1f\x8b\x08\x00 compressed mail")
    (root / "dups").write_bytes(b"From a Mon Dec  2 15:26:33 2002\nSubject: a\nMessage-ID: <d@x>\n\none\n\n"
                                b"From a Mon Dec  2 15:26:34 2002\nSubject: b\nMessage-ID: <d@x>\n\ntwo\n\n")
    plan = make_plan(tmp_path, [user])
    assert [f.name for f in plan.users[0].folders] == ["INBOX", "dups", "lists", "lists.cyrus"]
    batch = apply_all(server, plan, "deliver")
    assert not batch.ledger["users refused"]
    nested = server.mailbox_name(user, "lists.cyrus", user)
    with server.user_session(user) as client:
        client.delete_folder(nested)
    kinds = sorted(d.kind for d in verify_user(server, plan.users[0], frozenset(), "deliver") if d.kind != "altered")
    # Cyrus's duplicate suppression drops the second <d@x> (methods.toml), but not every time
    # (once under CI load it let it through): what the server stored decides what verify must say.
    with server.user_session(user) as client:
        stored = client.folder_status(server.mailbox_name(user, "dups", user), [b"MESSAGES"])[b"MESSAGES"]
    dropping = stored == 1
    assert batch.ledger["dropped by the server"] == int(dropping)
    assert kinds == (["dropped"] if dropping else []) + ["folder"]
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    cmd = ["imapwright", "migrate", "verify", str(tmp_path), "--users", str(tmp_path / "users.txt"),
           "--method", "deliver", "--target", target_url(server)]
    (tmp_path / "users.txt").write_text(user + "\n")
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode == 1
    assert "lists.cyrus: folder: in the source, not on the server" in out
    assert "old.gz: skipped (compressed (gzip)" in out and "[skipped:compressed]" in out
    with server.user_session(user) as client:
        client.create_folder(nested)
        client.append(nested, b"Subject: nested\r\nMessage-ID: <n@x>\r\n\r\nnested\r\n", ["\\Seen"])
    accepted = subprocess.run(cmd + ["--accept", "skipped:compressed", "--accept", "dropped:duplicate-message-id"],
                              capture_output=True, text=True, env=env, timeout=120)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert ("dropped by the server: " in accepted.stdout + accepted.stderr) == dropping
