"""An upgrade rehearsed on the admin's own data (#29 item 2): `imapwright upgrade FROM TO --data
BACKUP` on backups made as the README tells admins to make them (tests/integration/backups.py),
from stores the harness populated on each catalogue version with awkward names, nested quota
roots, shared folders and Sieve scripts. The copy must be the store (its snapshot on FROM equals
the original server's), the backup is only read, and what cannot be loaded is one line before
anything starts."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from imapwright.admin.rehearse import load_backup, rehearse
from imapwright.catalogue import lookup
from imapwright.servers import engine
from imapwright.servers.managed import start_server
from imapwright.stores.snapshot import store_snapshot
from imapwright.stores.store import StoreSize, populate_store

from .backups import DEBIAN_IMAPD_CONF, add_awkward_folders, debian_backup, debian_dovecot_backup

pytestmark = pytest.mark.xdist_group("rehearsal")  # one worker makes the backups once
HOPS = [("cyrus:3.2", "cyrus:3.6"), ("cyrus:3.6", "cyrus:3.10"), ("cyrus:3.10", "cyrus:3.12")]


@pytest.fixture(scope="module")
def backups(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """version -> (backup archive, the original server's snapshot of its store)."""
    folder = tmp_path_factory.mktemp("backups")
    made = {}
    for version, _to in HOPS:
        server = start_server(lookup(version))
        try:
            store = populate_store(server, StoreSize(4, 3))
            add_awkward_folders(server, store)
            snapshot = store_snapshot(server, {u: None for u in store.accounts})
            made[version] = (debian_backup(server, folder / f"{version.replace(':', '')}.tgz"), snapshot)
        finally:
            server.stop()
    return made


def _sha(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("hop", HOPS, ids=[f"{a}->{b}" for a, b in HOPS])
def test_a_readme_backup_rehearses_each_hop_with_the_store_intact(starts_servers, backups, hop, tmp_path):
    from_, to = hop
    archive, original = backups[from_]
    data = archive
    if from_ == "cyrus:3.10":  # a folder, as an admin's rsync copy would be
        data = tmp_path / "backup"
        with tarfile.open(archive) as tar:
            tar.extractall(data, filter="tar")
    digest = _sha(data)
    seen = {}
    backup = load_backup(lookup(from_), data)
    path = rehearse([lookup(from_), lookup(to)], backup,
                    observe=lambda stage, server, store: seen.setdefault(stage, store_snapshot(server, store.accounts)))
    result = path.hops[0]
    assert not result.failed and result.problems == [] and result.findings == [], (result.failed, result.problems,
                                                                                    result.findings)
    assert [s.name for s in result.steps if not s.ok] == []
    assert all(h["clean"] for h in result.server_health.values()), result.server_health
    assert path.passed
    assert seen["before"] == original  # the copy on FROM is the store the original server had
    awkward = seen["after"][sorted(original)[1]]["folders"]
    assert {"with space", "caf\u00e9 \u00fcber", "a&b"} <= set(awkward), sorted(awkward)
    assert result.counts["sieve scripts"] == 4 and result.counts["shared views"] > 0
    assert any(q for a in seen["after"].values() for q in a["quota"] if " " in q)  # quota roots read
    rows = {r["setting"]: r for r in backup.plan.rows}
    assert rows["sasl_pwcheck_method"]["used"] == "auxprop"  # Debian's saslauthd: overridden, listed
    assert rows["tls_server_cert"]["used"] == ""  # a file of the admin's machine: not used, listed
    assert rows["partition-default"]["used"] == "/srv/imapwright/spool/default"
    assert _sha(data) == digest  # only read


def _conf_replaced(archive: Path, out: Path, conf: str, drop: str = "") -> Path:
    """The same backup with another imapd.conf (and, with `drop`, a folder left out)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            if drop and member.name.startswith(drop):
                continue
            if member.name == "etc/imapd.conf":
                member.size = len(conf.encode())
                dst.addfile(member, io.BytesIO(conf.encode()))
            else:
                dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    return out


def _run(*args: str, reports: Path) -> subprocess.CompletedProcess:
    """The command, and whether it left or made any container or volume (found by its pid label:
    other tests' servers come and go meanwhile)."""
    with subprocess.Popen(["imapwright", "upgrade", *args, "--suites", "", "--reports", str(reports)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "COLUMNS": "400"}) as proc:
        out, err = proc.communicate(timeout=300)
    made = engine.find([f"{engine.LABEL_OWNER_PID}={proc.pid}"])
    assert not made, f"{args}: left {made}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_what_cannot_be_loaded_is_one_line_before_anything_starts(starts_servers, backups, tmp_path):
    newer, older = backups["cyrus:3.10"][0], backups["cyrus:3.2"][0]
    not_tar = tmp_path / "notes.txt"
    not_tar.write_text("not a backup\n")
    cases = {
        "newer": ((newer, "cyrus:3.6", "cyrus:3.10"), "written by Cyrus 3.10 or 3.12"),
        "older": ((older, "cyrus:3.6", "cyrus:3.10"), "--older-store"),
        "partition outside": ((_conf_replaced(newer, tmp_path / "p.tgz", DEBIAN_IMAPD_CONF
                                              + "partition-archive: /srv/archive\n"), "cyrus:3.10", "cyrus:3.12"),
                              "partition-archive: /srv/archive is not in the backup"),
        "spool left out": ((_conf_replaced(newer, tmp_path / "s.tgz", DEBIAN_IMAPD_CONF, drop="var/spool/cyrus/mail"),
                            "cyrus:3.10", "cyrus:3.12"), "partition-default: /var/spool/cyrus/mail is not in the backup"),
        "pts groups": ((_conf_replaced(newer, tmp_path / "a.tgz", DEBIAN_IMAPD_CONF + "auth_mech: pts\n"),
                        "cyrus:3.10", "cyrus:3.12"), "auth_mech: pts: the image cannot honour it"),
        "not a backup": ((not_tar, "cyrus:3.10", "cyrus:3.12"), "neither a folder nor a tar archive"),
        "missing": ((tmp_path / "nowhere.tgz", "cyrus:3.10", "cyrus:3.12"), "no such file or folder"),
    }
    for case, ((data, from_, to), words) in cases.items():
        reports = tmp_path / f"reports-{case.replace(' ', '-')}"
        run = _run(from_, to, "--data", str(data), reports=reports)
        assert run.returncode == 2, (case, run.returncode, run.stderr[-1500:])
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], (case, run.stderr)
        assert not reports.exists() or not any(reports.iterdir()), case  # nothing written


def test_older_store_is_accepted_when_the_admin_says_so(starts_servers, backups):
    # A 3.6 server upgraded in place from 3.2 whose `reconstruct -V max` never ran: every
    # cyrus.index still version 16. Given --older-store, it loads, with the versions noted.
    backup = load_backup(lookup("cyrus:3.6"), backups["cyrus:3.2"][0], older_store=True)
    assert backup.plan.store["index_versions"] == {"16": backup.plan.store["index_versions"]["16"]}
    assert any("older than FROM writes" in n for n in backup.plan.notes), backup.plan.notes


@pytest.mark.parametrize("damage", ["truncated", "zeroed"])
def test_a_damaged_mailbox_list_is_a_finding_with_the_servers_own_words(starts_servers, backups, tmp_path, damage):
    archive = backups["cyrus:3.6"][0]
    out = tmp_path / "damaged.tgz"
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == "var/lib/cyrus/mailboxes.db":
                data = data[: len(data) // 2] if damage == "truncated" else data[:64] + bytes(len(data) - 64)
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    path = rehearse([lookup("cyrus:3.6"), lookup("cyrus:3.10")], load_backup(lookup("cyrus:3.6"), out))
    result = path.hops[0]
    assert not path.passed
    said = " ".join(result.findings + result.problems) + " ".join(
        line for h in result.server_health.values() for _cls, line in h["lines"])
    assert "mailboxes.db" in said and "DBERROR" in said, said  # the server's own output, in the result


def test_a_message_lost_in_the_rehearsed_upgrade_is_a_finding(starts_servers, backups):
    archive, original = backups["cyrus:3.6"]
    user = sorted(original)[0]

    def lose_one(stage, server, store):
        if stage == "after":
            with server.user_session(user) as client:
                client.select_folder("INBOX")
                client.delete_messages(client.search()[:1])
                client.expunge()
    path = rehearse([lookup("cyrus:3.6"), lookup("cyrus:3.10")], load_backup(lookup("cyrus:3.6"), archive),
                    observe=lose_one)
    findings = path.hops[0].findings
    assert not path.passed and any(f.startswith(f"{user}/INBOX") or f.startswith(f"{user}: ") for f in findings), findings


@pytest.fixture(scope="module")
def dovecot_backup(tmp_path_factory) -> tuple[Path, dict]:
    """A Debian-style Dovecot 2.3 backup (virtual users in one passwd-file, homes in /var/vmail)
    of a store the harness populated, and the original server's snapshot of it."""
    server = start_server(lookup("dovecot:2.3"))
    try:
        store = populate_store(server, StoreSize(4, 3))
        add_awkward_folders(server, store, prefix="")
        snapshot = store_snapshot(server, {u: None for u in store.accounts})
        return debian_dovecot_backup(server, tmp_path_factory.mktemp("dovecot") / "dovecot23.tgz"), snapshot
    finally:
        server.stop()


def test_a_dovecot_backup_rehearses_2_3_to_2_4_with_the_store_intact(starts_servers, dovecot_backup):
    archive, original = dovecot_backup
    digest = _sha(archive)
    seen = {}
    backup = load_backup(lookup("dovecot:2.3"), archive)
    path = rehearse([lookup("dovecot:2.3"), lookup("dovecot:2.4")], backup,
                    observe=lambda stage, server, store: seen.setdefault(stage, store_snapshot(server, store.accounts)))
    result = path.hops[0]
    assert not result.failed and result.problems == [] and result.findings == [], (result.failed, result.problems,
                                                                                    result.findings)
    assert path.passed and [s.name for s in result.steps if not s.ok] == []
    assert seen["before"] == original  # the copy on 2.3 is the store the original server had
    assert {"with space", "caf\u00e9 \u00fcber", "a&b"} <= set(seen["after"][sorted(original)[1]]["folders"])
    assert result.counts["sieve scripts"] == 4 and result.counts["shared views"] > 0
    rows = {r["setting"]: r for r in backup.plan.rows}
    assert rows["userdb"]["given"] == "passwd-file /etc/dovecot/users" and rows["ssl_cert"]["used"] == ""
    assert _sha(archive) == digest


def test_a_dovecot_backup_that_cannot_be_loaded_is_one_line(starts_servers, dovecot_backup, tmp_path):
    archive = dovecot_backup[0]

    def replaced(name: str, text: str, out: str) -> Path:
        path = tmp_path / out
        with tarfile.open(archive) as src, tarfile.open(path, "w:gz") as dst:
            for member in src.getmembers():
                if member.name == name:
                    member.size = len(text.encode())
                    dst.addfile(member, io.BytesIO(text.encode()))
                else:
                    dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        return path
    main = "etc/dovecot/dovecot.conf"
    with tarfile.open(archive) as tar:
        conf = tar.extractfile(main).read().decode()
        auth = tar.extractfile("etc/dovecot/conf.d/auth-passwdfile.conf.ext").read().decode()
    cases = {
        "2.4 config": (replaced(main, "dovecot_config_version = 2.4.0\n" + conf, "v.tgz"), "written for Dovecot 2.4"),
        "sql userdb": (replaced("etc/dovecot/conf.d/auth-passwdfile.conf.ext", auth.replace("passwd-file", "sql"),
                                "s.tgz"), "userdb driver sql"),
        "no userdb file": (replaced("etc/dovecot/conf.d/auth-passwdfile.conf.ext",
                                    auth.replace("/etc/dovecot/users", "/var/lib/users"), "u.tgz"),
                           "the userdb /var/lib/users is not in the backup"),
    }
    for case, (data, words) in cases.items():
        run = _run("dovecot:2.3", "dovecot:2.4", "--data", str(data), reports=tmp_path / "r")
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert run.returncode == 2 and len(lines) == 1 and words in lines[0], (case, run.stderr)
