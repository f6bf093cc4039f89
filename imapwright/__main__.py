"""`python3 -m imapwright` is the `imapwright` command."""

from .cli import main

main()
