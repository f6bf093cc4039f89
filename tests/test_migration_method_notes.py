"""Before a delivering migration, plan and the dry run say what the method will do to these
messages on servers known to rewrite them, and how to keep them (issue 27, item 17)."""

import subprocess


def _mbox(*messages: str) -> str:
    return "".join(f"From a@example.org Tue Nov 29 07:44:52 2026\n{m}\n\n" for m in messages)


def test_the_dry_run_counts_duplicate_message_ids_and_names_the_setting_that_keeps_them(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "INBOX").write_text(_mbox(
        "From: a@example.org\nMessage-ID: <same@x>\nDate: Tue, 29 Nov 2026 07:44:52 +0000\n\none",
        "From: a@example.org\nMessage-ID: <same@x>\nDate: Tue, 29 Nov 2026 07:44:52 +0000\n\ntwo",
        "From: a@example.org\nDate: Tue, 29 Nov 2026 07:44:52 +0000\n\nno id"))
    run = subprocess.run(["imapwright", "migrate", "apply", str(tmp_path), "--method", "deliver", "--dry-run"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "messages\tthat share a Message-ID with an earlier message of their folder\t1" in run.stdout
    assert "messages\tthat have no Message-ID\t1" in run.stdout
    [note] = [line for line in run.stdout.splitlines() if line.startswith("note: --method deliver on cyrus")]
    assert "Here: 1 messages have no Message-ID; 1 messages share a Message-ID" in note
    assert "duplicatesuppression: 0" in note and "--method append" in note
    quiet = subprocess.run(["imapwright", "migrate", "apply", str(tmp_path), "--method", "append", "--dry-run"],
                           capture_output=True, text=True, timeout=60)
    assert not [line for line in quiet.stdout.splitlines() if line.startswith("note:")]  # append keeps them
