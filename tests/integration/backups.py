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


def add_awkward_folders(server, store: Store) -> None:
    """Awkward names in one account, a message in each (seen by the snapshot, like real mail)."""
    user = sorted(store.accounts)[1]
    with server.user_session(user) as client:
        for name in AWKWARD:
            client.create_folder(f"INBOX.{name}")
            client.append(f"INBOX.{name}", f"Subject: in {name}\r\nMessage-ID: <{len(name)}@awkward>\r\n\r\n"
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
    helper = engine.client().containers.run(
        server.image_id, entrypoint=["sh", "-c", script], environment={"CONF": imapd_conf}, network_mode="host",
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
