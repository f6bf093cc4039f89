#!/bin/sh
# Print the version the Cyrus server reports for itself ("cyrus-imapd 3.6.1-Debian-..." -> "3.6.1-Debian-...").
/usr/sbin/cyrmaster -V 2>&1 | sed -n 's/^cyrus-imapd //p' | head -n 1
