"""`imapwright admin addusers` end to end against a running server, twice."""

import os
import subprocess

import pytest

from imapwright.protocol.imap import list_names
from imapwright.stores.tree import own_folders
from imapwright.servers.target import target_url


@pytest.mark.requires("cyrus")
def test_addusers_command_creates_then_finds_existing(server, users, tmp_path, admin_imap):
    users.create()
    names = [f"{users.prefix}c{n}" for n in range(3)]
    listing = tmp_path / "users.txt"
    listing.write_text("\n".join(["# class", *names, "Bad Name", names[0]]) + "\n")
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    argv = ["imapwright", "admin", "addusers", str(listing), "--target",
            target_url(server), "--quota", "2048"]
    first = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "3 created, 0 existing, 0 failed, 2 lines skipped"
    second = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert second.stdout.strip().splitlines()[-1] == "0 created, 3 existing, 0 failed, 2 lines skipped"
    assert server.admin_password not in first.stdout + first.stderr + second.stdout + second.stderr
    for name in names:
        assert list_names(admin_imap, f"user.{name}*") == [f"user.{name}", f"user.{name}.drafts",
                                                            f"user.{name}.sent-mail"]


@pytest.mark.requires("dovecot", "exec")
def test_addusers_on_dovecot_makes_userdb_accounts_that_migration_can_fill(server, users, tmp_path):
    """Issue 16 observation 11: on Dovecot every user failed ("[CANNOT] Mailbox can't be created"),
    and migrate apply then crashed with a LoginError traceback."""
    users.create()
    names = [f"{users.prefix}d{n}" for n in range(2)]
    listing = tmp_path / "users.txt"
    listing.write_text("\n".join(names) + "\n")
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    bare = target_url(server)
    refused = subprocess.run(["imapwright", "admin", "addusers", str(listing), "--target", bare],
                             capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and refused.stderr.strip().endswith("add ?exec=docker:NAME to --target")
    # migrate apply to a user that does not exist: that user refused in one line, no traceback
    source = tmp_path / "src"
    (source / names[0]).mkdir(parents=True)
    (source / names[0] / "INBOX").write_bytes(b"From a Mon Dec  2 15:26:33 2002\nSubject: x\n\nbody\n\n")
    apply = ["imapwright", "migrate", "apply", str(source), "--target", bare]
    missing = subprocess.run(apply, capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert f"{names[0]}: refused: the admin cannot log in as this user" in missing.stderr
    url = f"{bare}?exec=docker:{server.container.name}"
    made = subprocess.run(["imapwright", "admin", "addusers", str(listing), "--target", url, "--quota", "2048"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1] == "2 created, 0 existing, 0 failed"
    
    with server.user_session(names[1]) as own:
        _roots, quotas = own.get_quota_root("INBOX")
        assert [(q.resource, q.limit) for q in quotas] == [("STORAGE", 2048)]
        # Its own folders: other accounts' folders shared with `anyone` (populate() makes such, in
        # other tests on this server) show in Dovecot's shared namespace and are not its own.
        assert sorted(own_folders(server, own, names[1])) == ["", "drafts", "sent-mail"]
    filled = subprocess.run(apply, capture_output=True, text=True, env=env, timeout=120)
    assert filled.returncode == 0, filled.stdout + filled.stderr
    for name in names:
        server.delete_user(name)


@pytest.mark.requires("cyrus")
def test_rename_account_command_refusal_is_one_line_and_workaround_renames(server, users, admin_imap):
    user = users.create("mover")
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    url = target_url(server, exec_=True)
    native = subprocess.run(["imapwright", "admin", "rename-account", user.name, user.name + "x", "--target", url],
                            capture_output=True, text=True, env=env, timeout=120)
    assert native.returncode != 0
    assert native.stderr.strip() == (f"imapwright: error: RENAME {user.mailbox} {user.mailbox}x: "
                                     "NO Operation is not supported on mailbox")
    moved = subprocess.run(["imapwright", "admin", "rename-account", user.name, user.name + "x", "--target", url,
                            "--workaround"], capture_output=True, text=True, env=env, timeout=120)
    assert moved.returncode == 0, moved.stderr
    assert list_names(admin_imap, user.mailbox) == [] and list_names(admin_imap, user.mailbox + "x") == [user.mailbox + "x"]


@pytest.mark.requires("mailbox-list")
def test_checkpoint_command_rotates_and_refuses_restore_without_consent(server, users, tmp_path):
    users.create("cp")
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    url = target_url(server, exec_=True)
    for _ in range(3):
        run = subprocess.run(["imapwright", "admin", "checkpoint", str(tmp_path), "--target", url, "--keep", "2"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mailboxes.0.gz", "mailboxes.1.gz"]
    refused = subprocess.run(["imapwright", "admin", "checkpoint", str(tmp_path), "--target", url, "--restore", "0"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode != 0
    assert refused.stderr.strip() == ("imapwright: error: replacing the live mailbox list is destructive: "
                                      "add --allow-destructive")
