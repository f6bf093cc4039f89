#!/bin/sh
# Start syslog, prepare the volume on first use, write per-start settings, run the master.
set -eu
: "${IMAP_PORT:?}" "${LMTP_PORT:?}" "${SIEVE_PORT:=0}" "${ADMIN_PASSWORD:?}" "${IMAPS_PORT:=0}" "${SYNC_PORT:=0}"
mkdir -p /var/log/imapwright/sanitizer && chmod 1777 /var/log/imapwright/sanitizer  # before rsyslog watches it
mkdir -p /var/spool/rsyslog  # imfile's state (rsyslog.conf workDirectory)
rm -f /run/rsyslogd.pid
rsyslogd
D=/srv/imapwright
# Every start (not only the first): a volume filled from an admin's backup has its own folders.
mkdir -p "$D/config" "$D/spool/default" "$D/spool/second" "$D/sieve"
for sub in db socket log msg proc lock ptclient quota user sieve; do mkdir -p "$D/config/$sub"; done
chown -R cyrus:mail "$D"
# The groups the harness made for group:NAME ACL entries, with their members (NAME:MEMBERS lines
# kept on the volume by the harness): this container's /etc/group is new, the store's is not.
if [ -f "$D/config/groups" ]; then
    while IFS=: read -r g members; do
        grep -q "^$g:" /etc/group || groupadd "$g"
        awk -F: -v g="$g" -v m="$members" 'BEGIN { OFS = ":" } $1 == g { $4 = m } { print }' /etc/group > /etc/group.new
        cat /etc/group.new > /etc/group && rm /etc/group.new
    done < "$D/config/groups"
fi
chmod 750 "$D/config" "$D/spool/default" "$D/spool/second"
# IMAPWRIGHT_CONFIG: newline-separated "key: value" lines, the settings of this start. They replace
# the image's lines of the same key (Cyrus refuses a key given twice), then are appended.
printf '%s\n' "${IMAPWRIGHT_CONFIG:-}" > /tmp/imapwright-settings
awk -F: 'NR == FNR { if ($1 != "") over[$1] = 1; next } !($1 in over)' \
    /tmp/imapwright-settings /etc/imapwright/imapd.conf > /etc/imapd.conf
cat /tmp/imapwright-settings >> /etc/imapd.conf
rm -f /tmp/imapwright-settings
# TLS, when the harness gives a certificate (its run's CA issued it): STARTTLS on IMAP, LMTP and
# ManageSieve, and IMAPS on IMAPS_PORT. The key is written for the server only, then forgotten.
if [ -n "${IMAPWRIGHT_TLS_CERT:-}" ]; then
    mkdir -p /etc/imapwright/tls
    printf '%s\n' "$IMAPWRIGHT_TLS_CERT" > /etc/imapwright/tls/cert.pem
    (umask 077; printf '%s\n' "${IMAPWRIGHT_TLS_KEY:?}" > /etc/imapwright/tls/key.pem)
    chown cyrus:mail /etc/imapwright/tls/cert.pem /etc/imapwright/tls/key.pem
    printf 'tls_server_cert: /etc/imapwright/tls/cert.pem\ntls_server_key: /etc/imapwright/tls/key.pem\n' >> /etc/imapd.conf
fi
unset IMAPWRIGHT_TLS_KEY
sed -e "s/@IMAP_PORT@/$IMAP_PORT/" -e "s/@LMTP_PORT@/$LMTP_PORT/" -e "s/@SIEVE_PORT@/$SIEVE_PORT/" \
    -e "s/@IMAPS_PORT@/$IMAPS_PORT/" -e "s/@SYNC_PORT@/$SYNC_PORT/" /etc/imapwright/cyrus.conf > /etc/cyrus.conf
[ "$SIEVE_PORT" = 0 ] && sed -i '/timsieved/d' /etc/cyrus.conf
[ "$IMAPS_PORT" = 0 ] && sed -i '/imapd -s/d' /etc/cyrus.conf
# A replica (upgrade --via replication) listens for the master's sync_client.
[ "$SYNC_PORT" = 0 ] && sed -i '/sync_server/d' /etc/cyrus.conf
# A master: the rolling sync_client, kept running by the master process (Cyrus's replication guide).
[ "${SYNC_CLIENT:-0}" = 1 ] && printf 'DAEMON {\n  syncclient cmd="sync_client -r"\n}\n' >> /etc/cyrus.conf
printf '%s' "$ADMIN_PASSWORD" | saslpasswd2 -p -c -f "$D/config/sasldb2" cyrus
chown cyrus:mail "$D/config/sasldb2"; chmod 640 "$D/config/sasldb2"
unset ADMIN_PASSWORD
echo "imapwright: cyrus master starting" | logger -t imapwright
exec /usr/sbin/cyrmaster -C /etc/imapd.conf -M /etc/cyrus.conf -p /run/cyrmaster.pid
