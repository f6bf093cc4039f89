#!/bin/sh
# Start syslog, prepare the volume on first use, write ports and per-start settings, run Dovecot.
set -eu
: "${IMAP_PORT:?}" "${LMTP_PORT:?}" "${SIEVE_PORT:=0}" "${ADMIN_PASSWORD:?}"
mkdir -p /var/log/imapwright
rm -f /run/rsyslogd.pid
rsyslogd
D=/srv/imapwright
mkdir -p "$D/home" "$D/users" "$D/shared"
chown vmail:vmail "$D/home" "$D/shared"
chown root:dovecot "$D/users"; chmod 750 "$D/users"
hash=$(doveadm pw -s SSHA256 -p "$ADMIN_PASSWORD")
printf 'admin:%s::::::\n' "$hash" > "$D/master-users"
printf 'admin:%s::::::\n' "$hash" > "$D/users/admin"
printf 'anonymous:{CRYPT}!::::::\n' > "$D/users/anonymous"  # ANONYMOUS sessions; no password login
chown root:dovecot "$D/users/anonymous"; chmod 640 "$D/users/anonymous"
chown root:dovecot "$D/master-users" "$D/users/admin"; chmod 640 "$D/master-users" "$D/users/admin"
unset ADMIN_PASSWORD
# The listener's address setting is "address" in 2.3 and "listen" from 2.4 on.
case "$(dovecot --version)" in 2.3*) addr=address ;; *) addr=listen ;; esac
{
  for svc in "imap-login imap $IMAP_PORT" "lmtp lmtp $LMTP_PORT" "managesieve-login sieve $SIEVE_PORT"; do
    set -- $svc
    printf 'service %s {\n  inet_listener %s {\n    %s = 127.0.0.1\n    port = %s\n  }\n}\n' "$1" "$2" "$addr" "$3"
  done
  # IMAPWRIGHT_CONFIG: newline-separated "key = value" lines, the settings of this start.
  printf '%s\n' "${IMAPWRIGHT_CONFIG:-}"
} > /etc/dovecot/imapwright-local.conf
echo "imapwright: dovecot starting" | logger -t imapwright
exec /usr/sbin/dovecot -F
