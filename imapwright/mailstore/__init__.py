"""Mail stores outside the server: Berkeley mbox in its variants, Maildir, folder trees of them,
and the message fingerprint that migration checks compare."""
