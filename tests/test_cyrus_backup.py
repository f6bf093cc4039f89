"""How a Cyrus backup is read and mapped before anything starts (servers/cyrus_backup.py): settings
parsed as Cyrus parses them, folders mapped into the image's layout, paths inside the backup
rewritten, files of the admin's machine not used, refusals in one line. The scans here are built
by hand; the integration test loads real backups made on each catalogue version."""

import io
import random
import tarfile

import pytest

from imapwright.errors import UserError
from imapwright.servers.backup import BackupArchive, LoadPlan, Scan
from imapwright.servers.cyrus_backup import parse_config, plan

CONF = """configdirectory: /var/lib/cyrus
partition-default: /var/spool/cyrus/mail
sievedir: /var/spool/sieve
duplicate_db_path: /var/lib/cyrus/deliver.db
tls_server_cert: /etc/ssl/certs/x.pem
sasl_pwcheck_method: saslauthd
admins: root
quota_db: quotalegacy
"""
DIRS = {"var", "var/lib", "var/lib/cyrus", "var/spool", "var/spool/cyrus", "var/spool/cyrus/mail", "var/spool/sieve"}


def _index(version: int) -> bytes:
    return bytes(8) + version.to_bytes(4, "big") + bytes(4)


def _scan(conf: str = CONF, dirs=DIRS, versions=(17, 17)) -> Scan:
    heads = [(f"var/spool/cyrus/mail/uuid/a/b/{n}/cyrus.index", _index(v)) for n, v in enumerate(versions)]
    return Scan({"etc/imapd.conf": conf.encode()}, set(dirs), heads, files=10, bytes=1000)


def test_folders_map_into_the_image_layout_and_paths_inside_are_rewritten():
    p = plan(_scan(), (3, 6), "/srv/imapwright")
    assert p.settings["configdirectory"] == "/srv/imapwright/config"
    assert p.settings["partition-default"] == "/srv/imapwright/spool/default"
    assert p.settings["duplicate_db_path"] == "/srv/imapwright/config/deliver.db"
    assert p.settings["quota_db"] == "quotalegacy"  # everything else as given
    assert "tls_server_cert" not in p.settings
    assert p.settings["sasl_pwcheck_method"] == "auxprop" and p.settings["admins"] == "root cyrus"
    assert p.target("var/spool/cyrus/mail/uuid/a/cyrus.index") == "spool/default/uuid/a/cyrus.index"
    assert p.target("etc/passwd") is None
    assert p.skipped("var/lib/cyrus/proc/123") and not p.skipped("var/lib/cyrus/mailboxes.db")
    rows = {r["setting"]: r for r in p.rows}
    assert rows["tls_server_cert"]["used"] == "" and rows["sasl_pwcheck_method"]["given"] == "saslauthd"


@pytest.mark.parametrize("conf, dirs, versions, words", [
    (CONF, DIRS - {"var/spool/cyrus/mail"}, (17,), "partition-default: /var/spool/cyrus/mail is not in the backup"),
    (CONF + "mboxlist_db_path: /data/mailboxes.db\n", DIRS, (17,), "mboxlist_db_path: /data/mailboxes.db is outside"),
    (CONF + "virtdomains: userid\n", DIRS, (17,), "virtual domains"),
    (CONF + "auth_mech: pts\n", DIRS, (17,), "auth_mech: pts"),
    (CONF + "admins: other\n", DIRS, (17,), "admins is given twice"),
    ("partition-default: /var/spool/cyrus/mail\n", DIRS, (17,), "names no configdirectory"),
    (CONF, DIRS, (17, 19), "written by Cyrus 3.10 or 3.12"),
    (CONF, DIRS, (16, 16), "--older-store"),
    (CONF + "@include /etc/more.conf\n", DIRS, (17,), "@include"),
])
def test_what_cannot_be_loaded_is_refused_in_one_line(conf, dirs, versions, words):
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        plan(_scan(conf, dirs, versions), (3, 6), "/srv/imapwright")


def test_an_older_store_loads_when_the_admin_says_so_and_is_noted():
    p = plan(_scan(versions=(16, 17)), (3, 6), "/srv/imapwright", older_store=False)  # newest is FROM's: fine
    assert any("older than FROM writes" in n for n in p.notes)
    p = plan(_scan(versions=(16, 16)), (3, 6), "/srv/imapwright", older_store=True)
    assert p.store["index_versions"] == {"16": 2}


def test_comments_and_odd_lines_are_read_as_cyrus_reads_them():
    settings, notes = parse_config("# c\n\nconfigdirectory: /x\nbad line\nKey: a: b\n")
    assert settings == {"configdirectory": "/x", "key": "a: b"} and len(notes) == 1


def test_a_tar_backup_is_scanned_and_written_mapped(tmp_path):
    archive = tmp_path / "b.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in [("./etc/imapd.conf", CONF.encode()), ("./var/lib/cyrus/mailboxes.db", b"db"),
                           ("./var/lib/cyrus/proc/1", b"pid"), ("./var/spool/cyrus/mail/u/cyrus.index", _index(17)),
                           ("./var/spool/sieve/u/s.script", b"keep;"), ("./etc/shadow", b"secret")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    backup = BackupArchive(archive)
    scan = backup.scan(("etc/imapd.conf",), ("cyrus.index",))
    assert {"var/lib/cyrus", "var/spool/cyrus/mail", "var/spool/sieve"} <= scan.dirs
    p = plan(scan, (3, 6), "/srv/imapwright")
    out = io.BytesIO()
    assert backup.write_tar(p, out) == 3
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert sorted(tar.getnames()) == ["config/mailboxes.db", "sieve/u/s.script", "spool/default/u/cyrus.index"]


def test_a_member_that_climbs_out_is_refused(tmp_path):
    archive = tmp_path / "b.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../etc/imapd.conf")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(UserError, match="climbs out"):
        BackupArchive(archive).scan(("etc/imapd.conf",), ())


def test_load_plan_prefers_the_longest_mapping():
    p = LoadPlan([("a/b", "x"), ("a", "y")])
    assert p.target("a/b/c") == "x/c" and p.target("a/c") == "y/c" and p.target("ab") is None


def test_an_archive_cut_short_is_one_line_wherever_the_reading_stops(tmp_path):
    # Found as a user (2026-12-06): a tarball cut in the middle of a member's content ended the
    # command in a tarfile traceback (the member's read, not the member list, hit the end).
    whole = tmp_path / "whole.tgz"
    with tarfile.open(whole, "w:gz") as tar:
        for n in range(40):
            data = random.Random(n).randbytes(5000)  # incompressible: a cut lands inside contents
            info = tarfile.TarInfo(f"var/spool/cyrus/mail/u{n}/cyrus.index")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    size = len(whole.read_bytes())
    for cut in range(600, size - 20, size // 25):
        short = tmp_path / f"cut{cut}.tgz"
        short.write_bytes(whole.read_bytes()[:cut])
        with pytest.raises(UserError, match="cannot be read to its end"):
            BackupArchive(short).scan(("etc/imapd.conf",), ("cyrus.index",))
