"""Reading a Dovecot backup's configuration and userdb (servers/dovecot_backup.py): includes
expanded from the backup's own files, sections kept, passwd-file extra fields that contain ':'
kept whole; refusals in one line. The integration test loads a real backup."""

import io
import tarfile

import pytest

from imapwright.errors import UserError
from imapwright.servers.backup import BackupArchive
from imapwright.servers.dovecot_backup import parse_config, plan

FILES = {
    "etc/dovecot/dovecot.conf": b"protocols = imap\n!include conf.d/*.conf\n!include_try /usr/share/x/*.protocol\n",
    "etc/dovecot/conf.d/10-mail.conf": b"mail_location = maildir:~/Maildir # trailing comment\n",
    "etc/dovecot/conf.d/10-auth.conf": b"!include auth-file.conf.ext\n",
    "etc/dovecot/conf.d/auth-file.conf.ext": b"userdb {\n  driver = passwd-file\n  args = /etc/dovecot/users\n"
                                            b"  default_fields = uid=vmail home=/var/vmail/%u\n}\n",
    "etc/dovecot/users": b"bob:{SSHA256}abc::::::userdb_quota_rule=*:storage=100000K userdb_acl_groups=staff\n",
}


def test_includes_and_sections_are_read_from_the_backup():
    settings = parse_config(FILES)
    assert ("", "mail_location", "maildir:~/Maildir") in settings
    assert ("userdb", "driver", "passwd-file") in settings
    assert ("userdb", "default_fields", "uid=vmail home=/var/vmail/%u") in settings


def _archive(tmp_path, files):
    path = tmp_path / "b.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {**files, "var/vmail/bob/Maildir/cur/1:2,S": b"Subject: x\n\nx\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return BackupArchive(path)


def test_users_become_the_images_passwd_files_with_their_fields_whole(tmp_path):
    archive = _archive(tmp_path, FILES)
    p = plan(archive, archive.scan((), (), ("etc/dovecot",)), (2, 3), "/srv/imapwright")
    assert p.generated["users/bob"] == (b"bob:{SSHA256}abc::::::userdb_quota_rule=*:storage=100000K "
                                        b"userdb_acl_groups=staff\n")
    assert p.target("var/vmail/bob/Maildir/cur/1:2,S") == "home/bob/Maildir/cur/1:2,S"


@pytest.mark.parametrize("change, words", [
    ({"etc/dovecot/dovecot.conf": b"dovecot_config_version = 2.4.0\n!include conf.d/*.conf\n"}, "written for Dovecot 2.4"),
    ({"etc/dovecot/conf.d/10-mail.conf": b"mail_location = mbox:~/mail\n"}, "mail_location = mbox:~/mail"),
    ({"etc/dovecot/users": b"bob@example.org:{PLAIN}x::::::\n"}, "virtual domains"),
    ({"etc/dovecot/conf.d/10-auth.conf": b"!include missing.conf.ext\n"}, "!include missing.conf.ext: not in the backup"),
])
def test_what_cannot_be_loaded_is_one_line(tmp_path, change, words):
    archive = _archive(tmp_path, {**FILES, **change})
    with pytest.raises(UserError, match=words.replace(".", r"\.").replace("(", r"\(")):
        plan(archive, archive.scan((), (), ("etc/dovecot",)), (2, 3), "/srv/imapwright")
