"""Backups of populated stores, made the way the README tells an admin to make them: the server's
files at Debian's paths (configdirectory /var/lib/cyrus, partition-default /var/spool/cyrus/mail,
sievedir /var/spool/sieve, Debian's /etc/imapd.conf with the settings the store was made with),
then `tar -C / -czf BACKUP etc/imapd.conf var/lib/cyrus var/spool/cyrus var/spool/sieve`.

The harness's own store (admin/store.py: nested quota roots, shared folders, a bulletin board, a
group, Sieve scripts) plus awkward folder names, made on a catalogue server and copied off its
stopped volume by a container of the same image, so every file is as that version wrote it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from imapwright.servers import engine
from imapwright.servers.families import DATA
from imapwright.stores.store import Store

AWKWARD = ("with space", "caf\u00e9 \u00fcber", "a&b", "deep.l1.l2.l3")

# Debian's shipped /etc/imapd.conf (bookworm), its comments removed, with the settings this
# store was made with where they differ (allowanonymouslogin; no hashimapspool): what an admin's
# file looks like, including what the copy cannot use (saslauthd, TLS files, sockets).
DEBIAN_IMAPD_CONF = """\
# /etc/imapd.conf of a Debian server
configdirectory: /var/lib/cyrus
proc_path: /run/cyrus/proc
mboxname_lockpath: /run/cyrus/lock
defaultpartition: default
partition-default: /var/spool/cyrus/mail
partition-news: /var/spool/cyrus/news
newsspool: /var/spool/news
altnamespace: no
unixhierarchysep: no
lmtp_downcase_rcpt: yes
admins: cyrus
allowanonymouslogin: yes
popminpoll: 1
autocreate_quota: 0
umask: 077
sieveusehomedir: false
sievedir: /var/spool/sieve
httpmodules: caldav carddav
allowplaintext: yes
sasl_mech_list: PLAIN
sasl_pwcheck_method: saslauthd
tls_server_cert: /etc/ssl/certs/ssl-cert-snakeoil.pem
tls_server_key: /etc/ssl/private/ssl-cert-snakeoil.key
tls_client_ca_dir: /etc/ssl/certs
lmtpsocket: /run/cyrus/socket/lmtp
idlesocket: /run/cyrus/socket/idle
notifysocket: /run/cyrus/socket/notify
syslog_prefix: cyrus
"""

README_TAR = "tar -C / -czf /tmp/backup.tgz etc/imapd.conf var/lib/cyrus var/spool/cyrus var/spool/sieve"


def add_awkward_folders(server, store: Store, prefix: str = "INBOX.") -> None:
    """Awkward names in one account, a message in each (seen by the snapshot, like real mail).
    `prefix`: the owner's name for its folders' parent (Cyrus "INBOX.", Dovecot "")."""
    user = sorted(store.accounts)[1]
    with server.user_session(user) as client:
        for name in AWKWARD:
            client.create_folder(f"{prefix}{name}")
            client.append(f"{prefix}{name}", f"Subject: in {name}\r\nMessage-ID: <{len(name)}@awkward>\r\n\r\n"
                                           f"{name}\r\n".encode(), [b"\\Seen"])


def debian_backup(server, out: Path, imapd_conf: str = DEBIAN_IMAPD_CONF) -> Path:
    """Stop `server` keeping its volume, lay its files out at Debian's paths in a container of the
    same image, run the README's tar command there; the archive is written to `out`."""
    server.stop(keep_data=True)
    script = (
        "set -e; rm -rf /var/lib/cyrus /var/spool/cyrus /var/spool/sieve; mkdir -p /var/lib /var/spool/cyrus; "
        f"cp -a {DATA}/config /var/lib/cyrus; cp -a {DATA}/spool/default /var/spool/cyrus/mail; "
        f"mkdir -p /var/spool/cyrus/news; cp -a {DATA}/sieve /var/spool/sieve; "
        "rm -rf /var/lib/cyrus/socket/* /var/lib/cyrus/proc/*; "
        "printf '%s' \"$CONF\" > /etc/imapd.conf; " + README_TAR)
    return _tar_in_helper(server, script, {"CONF": imapd_conf}, out)


def _tar_in_helper(server, script: str, env: dict[str, str], out: Path) -> Path:
    """Run `script` (which leaves /tmp/backup.tgz) in a container of the server's image with its
    stopped volume mounted read-only; the archive is written to `out`."""
    helper = engine.client().containers.run(
        server.image_id, entrypoint=["sh", "-c", script], environment=env, network_mode="host",
        volumes={server.volume_name: {"bind": DATA, "mode": "ro"}}, labels=server.labels, detach=True)
    try:
        status = helper.wait(timeout=300)
        assert status["StatusCode"] == 0, helper.logs().decode(errors="replace")
        stream, _ = helper.get_archive("/tmp/backup.tgz")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            out.write_bytes(tar.extractfile("backup.tgz").read())
    finally:
        helper.remove(force=True)
    return out


# A Debian Dovecot 2.3 with virtual users (passwd-file) under /var/vmail, as the wiki's
# "simple virtual user installation" sets it up, with the plugins this store was made with.
DEBIAN_DOVECOT = {
    "dovecot.conf": "!include_try /usr/share/dovecot/protocols.d/*.protocol\nprotocols = imap lmtp sieve\n"
                    "listen = *\n!include conf.d/*.conf\n!include_try local.conf\n",
    "conf.d/10-auth.conf": "disable_plaintext_auth = yes\nauth_mechanisms = plain login\n"
                           "!include auth-passwdfile.conf.ext\n",
    "conf.d/auth-passwdfile.conf.ext": "passdb {\n  driver = passwd-file\n  args = scheme=SSHA256 username_format=%u "
                                       "/etc/dovecot/users\n}\nuserdb {\n  driver = passwd-file\n  args = "
                                       "username_format=%u /etc/dovecot/users\n  default_fields = uid=vmail gid=vmail "
                                       "home=/var/vmail/%u\n}\n",
    "conf.d/10-mail.conf": "mail_location = maildir:~/Maildir\nnamespace inbox {\n  inbox = yes\n  separator = .\n}\n"
                           "mail_plugins = $mail_plugins acl quota\n",
    "conf.d/10-ssl.conf": "ssl = yes\nssl_cert = </etc/dovecot/private/dovecot.pem\n"
                          "ssl_key = </etc/dovecot/private/dovecot.key\n",
    "conf.d/90-acl.conf": "plugin {\n  acl = vfile:/etc/dovecot/dovecot-acl\n"
                          "  acl_shared_dict = file:/var/lib/dovecot/db/shared-mailboxes.db\n}\n",
    "conf.d/90-quota.conf": "plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n}\n",
    "conf.d/90-sieve.conf": "plugin {\n  sieve = file:~/sieve;active=~/.dovecot.sieve\n}\n",
}
README_DOVECOT_TAR = "tar -C / -czf /tmp/backup.tgz etc/dovecot var/vmail"


def debian_dovecot_backup(server, out: Path) -> Path:
    """Stop `server` keeping its volume; lay its users and homes out as a Debian virtual-user
    server keeps them (one /etc/dovecot/users file, homes in /var/vmail); run the README's tar."""
    server.stop(keep_data=True)
    writes = "; ".join(f"mkdir -p \"$(dirname /etc/dovecot/{name})\"; printf '%s' \"$C{n}\" > /etc/dovecot/{name}"
                       for n, name in enumerate(DEBIAN_DOVECOT))
    script = (
        "set -e; rm -rf /etc/dovecot; mkdir -p /etc/dovecot /var/vmail; " + writes + "; "
        f"for d in {DATA}/home/*; do cp -a \"$d\" /var/vmail/; done; "
        f"for f in {DATA}/users/*; do case ${{f##*/}} in admin|anonymous) ;; *) cat \"$f\";; esac; done "
        "> /etc/dovecot/users; " + README_DOVECOT_TAR)
    return _tar_in_helper(server, script, {f"C{n}": text for n, text in enumerate(DEBIAN_DOVECOT.values())}, out)
