"""MH folders and single-message files migrate like mbox and Maildir (issue 27, item 15): every
message stored, MH sequences as flags, nothing left over for verify, on every server."""

import os
import subprocess

from imapwright.admin.migrate import server_folders
from imapwright.servers.target import target_url


def _message(n: int, subject: str) -> bytes:
    return (f"From: Ann <a@example.org>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
            f"Date: Tue, 0{n} Dec 2026 10:00:00 +0100\r\nMessage-ID: <{subject}.{n}@example.org>\r\n\r\nbody {n}\r\n").encode()


def _cli(server, *args):
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    return subprocess.run(["imapwright", "migrate", *args, "--target", target_url(server)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_an_nmh_tree_and_saved_messages_migrate_with_their_flags(server, users, tmp_path):
    user = users.create().name
    root = tmp_path / user
    for folder, count in (("inbox", 2), ("archive", 1)):
        (root / folder).mkdir(parents=True)
        for n in range(1, count + 1):
            (root / folder / str(n)).write_bytes(_message(n, folder))
    (root / "inbox" / ".mh_sequences").write_text("unseen: 2\nflagged: 1\n")
    (root / "receipt.eml").write_bytes(_message(3, "receipt"))
    run = _cli(server, "apply", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    stored = server_folders(server, user)
    assert sorted(stored) == ["INBOX", "archive", "receipt"]
    flags = {m.content.split(b"Message-ID: <")[1].split(b"@")[0].decode(): set(m.flags) - {"\\Recent"}
             for m in stored["INBOX"]}
    assert flags == {"inbox.1": {"\\Seen", "\\Flagged"}, "inbox.2": set()}
    assert len(stored["archive"]) == 1 and len(stored["receipt"]) == 1
    verify = _cli(server, "verify", str(tmp_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
