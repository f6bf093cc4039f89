#!/bin/sh
# Start syslog, prepare the volume on first use, write ports and per-start settings, run Dovecot.
set -eu
: "${IMAP_PORT:?}" "${LMTP_PORT:?}" "${SIEVE_PORT:=0}" "${ADMIN_PASSWORD:?}" "${IMAPS_PORT:=0}" "${SYNC_PORT:=0}"
mkdir -p /var/log/imapwright
rm -f /run/rsyslogd.pid /run/dovecot/master.pid  # a killed container's: their pids mean nothing now
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
# A replica (upgrade --via replication): the master's doveadm backup authenticates with this.
doveadm_password=$ADMIN_PASSWORD
unset ADMIN_PASSWORD
# The listener's address setting is "address" in 2.3 and "listen" from 2.4 on.
case "$(dovecot --version)" in 2.3*) addr=address ;; *) addr=listen ;; esac
{
  for svc in "imap-login imap $IMAP_PORT" "lmtp lmtp $LMTP_PORT" "managesieve-login sieve $SIEVE_PORT"; do
    set -- $svc
    printf 'service %s {\n  inet_listener %s {\n    %s = 127.0.0.1\n    port = %s\n  }\n}\n' "$1" "$2" "$addr" "$3"
  done
  if [ "$SYNC_PORT" != 0 ]; then
    printf 'service doveadm {\n  inet_listener doveadm {\n    %s = 127.0.0.1\n    port = %s\n  }\n}\n' "$addr" "$SYNC_PORT"
    printf 'doveadm_password = %s\n' "$doveadm_password"
  fi
  # TLS, when the harness gives a certificate (its run's CA issued it): STARTTLS everywhere, IMAPS
  # on IMAPS_PORT. The settings' names changed in 2.4.
  if [ -n "${IMAPWRIGHT_TLS_CERT:-}" ]; then
    mkdir -p /etc/imapwright/tls
    printf '%s\n' "$IMAPWRIGHT_TLS_CERT" > /etc/imapwright/tls/cert.pem
    (umask 077; printf '%s\n' "${IMAPWRIGHT_TLS_KEY:?}" > /etc/imapwright/tls/key.pem)
    case "$addr" in
      address) printf 'ssl = yes\nssl_cert = </etc/imapwright/tls/cert.pem\nssl_key = </etc/imapwright/tls/key.pem\n' ;;
      *) printf 'ssl = yes\nssl_server_cert_file = /etc/imapwright/tls/cert.pem\nssl_server_key_file = /etc/imapwright/tls/key.pem\n' ;;
    esac
    [ "$IMAPS_PORT" = 0 ] || printf 'service imap-login {\n  inet_listener imaps {\n    %s = 127.0.0.1\n    port = %s\n    ssl = yes\n  }\n}\n' "$addr" "$IMAPS_PORT"
  fi
  # IMAPWRIGHT_CONFIG: newline-separated "key = value" lines, the settings of this start.
  printf '%s\n' "${IMAPWRIGHT_CONFIG:-}"
} > /etc/dovecot/imapwright-local.conf
chmod 640 /etc/dovecot/imapwright-local.conf; chown root:dovecot /etc/dovecot/imapwright-local.conf
unset doveadm_password
unset IMAPWRIGHT_TLS_KEY
echo "imapwright: dovecot starting" | logger -t imapwright
# tini as PID 1 reaps the orphans exim's sendmail leaves (its delivery process): Dovecot's master
# as PID 1 would be handed them and log "waitpid() returned unknown PID" as an error.
exec /usr/bin/tini -s -- /usr/sbin/dovecot -F
