#!/bin/sh
# Print the version Dovecot reports for itself ("2.3.19.1 (9b53102964)" -> "2.3.19.1").
dovecot --version | cut -d' ' -f1
