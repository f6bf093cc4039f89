"""`imapwright snapshot` and `diff` against a server given as a target, read as the admin acting
for each user: what it reads is the store (the diff finds one flag changed between two
snapshots and nothing else), and reading writes nothing (the mail files before and after)."""

import json
import os
import subprocess

import pytest

from imapwright.stores.snapshot import server_snapshot
from imapwright.stores.store import populate
from imapwright.servers.target import target_url

pytestmark = pytest.mark.requires("exec")

# The mail itself: Cyrus's spool (message files and cyrus.* indexes) and quota records, Dovecot's
# Maildirs. Dovecot's dovecot.index* files and dovecot-acl-list are caches it writes on access,
# EXAMINE and LIST included (https://doc.dovecot.org/admin_manual/mailbox_formats/maildir/: indexes
# can be rebuilt; the ACL list is rebuilt from the ACLs); session databases a login touches are not
# the store either.
# NUL-separated: folder names on disk have spaces and quotes (the migration suites' awkward names).
STORE_FILES = ("cd /srv/imapwright && find spool config/quota home -type f ! -name 'dovecot.index*' "
               "! -name 'dovecot.list.index*' ! -name 'dovecot-acl-list' -print0 2>/dev/null | sort -z "
               "| xargs -0 -r md5sum")


def _files(server) -> str:
    return server.exec(["sh", "-c", STORE_FILES], user="root").check().stdout


def _cli(server, *args, check=True):
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    url = target_url(server, exec_=True)
    run = subprocess.run(["imapwright", *args, "--target", url] if args[0] == "snapshot" else ["imapwright", *args],
                         capture_output=True, text=True, env=env, timeout=300)
    return run


def test_snapshot_reads_the_store_and_writes_nothing_and_diff_finds_one_flag(server, users, tmp_path):
    names = [f"{users.prefix}sn{n}" for n in range(3)]
    populate(server, names, messages=2, quota_kb=None)
    (tmp_path / "users.txt").write_text("\n".join(names) + "\n")
    before_files = _files(server)
    first = _cli(server, "snapshot", "--users", str(tmp_path / "users.txt"), "-o", str(tmp_path / "before.json"))
    assert first.returncode == 0, first.stderr
    assert _files(server) == before_files, "the snapshot changed the store's files"
    taken = json.loads((tmp_path / "before.json").read_text())["accounts"]
    assert sorted(taken) == names and all(len(a["folders"]) == 4 for a in taken.values())
    assert sum(len(f["messages"]) for a in taken.values() for f in a["folders"].values()) == 3 * 4 * 2
    with server.user_session(names[1]) as own:
        own.select_folder(server.mailbox_name(names[1], "work", names[1]))
        own.add_flags(own.search()[:1], [b"$Changed"])
    second = _cli(server, "snapshot", "--users", str(tmp_path / "users.txt"), "-o", str(tmp_path / "after.json"))
    assert second.returncode == 0, second.stderr
    same = _cli(server, "diff", str(tmp_path / "before.json"), str(tmp_path / "before.json"), "--out", str(tmp_path / "d0"))
    assert same.returncode == 0 and "0 unexplained differences" in same.stdout
    changed = _cli(server, "diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--out", str(tmp_path / "d1"))
    assert changed.returncode == 1
    lines = [line for line in changed.stdout.splitlines() if line.startswith("difference: ")]
    # The owner's flag, and the same keyword as every account that reads the folder sees it:
    # nothing about any other message or folder.
    owner = [line for line in lines if line.startswith(f"difference: {names[1]}/work: message ")]
    views = [line for line in lines if " sees " in line and f"{names[1]}" in line.split(" sees ")[1]]
    assert len(owner) == 1 and views and sorted(owner + views) == sorted(lines), changed.stdout
    assert all("$Changed" in line for line in lines), changed.stdout
    findings = json.loads((tmp_path / "d1" / "diff.json").read_text())["findings"]
    assert findings == [line.removeprefix("difference: ") for line in lines]


def test_a_snapshot_cut_short_resumes_where_it_stopped(server, users, tmp_path):
    names = [f"{users.prefix}rs{n}" for n in range(2)]
    populate(server, names, messages=1, quota_kb=None)
    partial = tmp_path / "snap.json.partial"
    marker = {"subscribed": ["from the earlier run"], "quota": {}, "folders": {}}
    partial.write_text(json.dumps({"user": names[0], "state": marker}) + "\n" + '{"user": "cut sh')
    taken, _missing = server_snapshot(server, names, partial)
    assert taken[names[0]] == marker  # not read again
    assert taken[names[1]]["folders"]  # read now


def test_read_only_run_changes_nothing_on_a_target(server, tmp_path):
    """`run --read-only` on a production server: only checks that make no account or mailbox run
    (the rest deselected), and the server's accounts and store files are as they were."""
    accounts, files = server.list_users(), _files(server)
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    url = target_url(server, exec_=True)
    run = subprocess.run(["imapwright", "run", "health", "production", "--target", url, "--read-only", "--reports",
                          str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:]
    assert " deselected" in run.stdout
    passed = int(run.stdout.rsplit(" passed", 1)[0].rsplit(" ", 1)[-1])
    assert passed >= 3  # the production suite's reads and health's NOOP and CAPABILITY
    after = _files(server)
    changed = sorted(set(after.splitlines()) ^ set(files.splitlines()))
    assert server.list_users() == accounts and not changed, changed


def test_a_listed_account_that_does_not_exist_is_one_line_or_recorded_missing(server, users, tmp_path):
    names = [f"{users.prefix}ms0", f"{users.prefix}nosuch"]
    populate(server, names[:1], messages=1, quota_kb=None)
    (tmp_path / "users.txt").write_text("\n".join(names) + "\n")
    refused = _cli(server, "snapshot", "--users", str(tmp_path / "users.txt"), "-o", str(tmp_path / "s.json"))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    [line] = [line for line in refused.stderr.splitlines() if "error" in line]  # beside the progress lines
    assert f"account {names[1]!r}: the admin cannot act as it" in line and "--skip-missing" in line
    kept = _cli(server, "snapshot", "--users", str(tmp_path / "users.txt"), "-o", str(tmp_path / "s.json"),
                "--skip-missing")
    assert kept.returncode == 0, kept.stderr
    document = json.loads((tmp_path / "s.json").read_text())
    assert sorted(document["accounts"]) == names[:1] and document["missing"] == names[1:]


def test_an_output_in_a_missing_folder_is_one_line_before_any_work(server, tmp_path):
    refused = _cli(server, "snapshot", "--all", "-o", str(tmp_path / "missing" / "x.json"))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert f"--output {tmp_path / 'missing' / 'x.json'}: folder {tmp_path / 'missing'} does not exist" in line
    assert not (tmp_path / "missing").exists()


def test_a_folder_renamed_between_snapshots_is_one_finding_named_as_such(server, users, tmp_path):
    """Issue 27, item 8, on a real server: the folder and its sub-folder renamed, one message named
    by its Subject when its flag changes."""
    [name] = [f"{users.prefix}rn0"]
    populate(server, [name], messages=1, quota_kb=None)
    (tmp_path / "users.txt").write_text(name + "\n")
    work, child = server.mailbox_name(name, "work", name), server.mailbox_name(name, "work.sub", name)
    with server.user_session(name) as own:
        own.create_folder(child)
        own.append(child, b"From: a@example.org\r\nSubject: kept below\r\nMessage-ID: <sub1@example.org>\r\n"
                          b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nhello\r\n")
    first = _cli(server, "snapshot", "--users", str(tmp_path / "users.txt"), "-o", str(tmp_path / "before.json"))
    assert first.returncode == 0, first.stderr
    projects = server.mailbox_name(name, "projects", name)
    with server.user_session(name) as own:
        own.rename_folder(work, projects)
        own.select_folder(server.mailbox_name(name, "projects.sub", name))
        own.add_flags(own.search(), [b"\\Flagged"])
    second = _cli(server, "snapshot", "--users", str(tmp_path / "users.txt"), "-o", str(tmp_path / "after.json"))
    assert second.returncode == 0, second.stderr
    changed = _cli(server, "diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--out", str(tmp_path / "d"))
    before = json.loads((tmp_path / "before.json").read_text())["accounts"][name]["folders"]
    below = sum(f.startswith("work") and f != "work" for f in before)  # populate's own, and ours
    # Subscriptions are compared on their own (Cyrus drops a renamed folder's: a listed deviation).
    lines = [line.removeprefix("difference: ") for line in changed.stdout.splitlines()
             if line.startswith("difference: ") and ": subscriptions " not in line]
    assert lines[0] == f"{name}/work: folder renamed to projects with its {below} sub-folder(s)", changed.stdout
    [flag] = lines[1:]
    assert flag.startswith(f"{name}/projects.sub: message ") and "Subject 'kept below', <sub1@example.org>" in flag
    assert "flags [] -> ['\\\\Flagged']" in flag


@pytest.mark.parametrize("folder", ["with space", "caf\u00e9 \u00fcber", "a&b"])
def test_folders_with_awkward_names_are_read_with_their_quota_roots(server, users, tmp_path, folder):
    # imapclient's get_quota_root sends a name unencoded and unquoted: a snapshot of an account
    # with such a folder failed ("GETQUOTAROOT failed: Mailbox does not exist", found on a backup).
    user = users.create()
    client = users.login(user)
    name = server.mailbox_name(user.name, folder, user.name)
    client.create_folder(name)
    client.append(name, b"Subject: awkward\r\n\r\nx\r\n")
    has_quota = client.has_capability("QUOTA")
    taken, _missing = server_snapshot(server, [user.name], tmp_path / "partial")
    state = taken[user.name]["folders"][folder]
    assert len(state["messages"]) == 1
    if has_quota:  # under the account's root, as INBOX is
        assert state["quota"] == taken[user.name]["folders"][""]["quota"]


def test_a_subscription_that_vanishes_is_a_difference(server, users, tmp_path):
    # Subscriptions are in every snapshot (the upgrade, migration and account-move comparisons):
    # one dropped between two snapshots is named (issue 32 item 1).
    from imapwright.stores.snapshot import differences

    user = users.create()
    client = users.login(user)
    folder = server.mailbox_name(user.name, "news", user.name)
    client.create_folder(folder)
    client.subscribe_folder(folder)
    before, _ = server_snapshot(server, [user.name], tmp_path / "a")
    client.unsubscribe_folder(folder)
    after, _ = server_snapshot(server, [user.name], tmp_path / "b")
    found = differences(before, after)
    assert len(found) == 1 and found[0].startswith(f"{user.name}: subscriptions") and "news" in found[0], found
