"""IMAP sessions only (the mixed scenario's users, no background delivery), for the generator
benchmark against benchmarks/null_imap.py."""

from imapwright.load.users import MixedSession


class Session(MixedSession):
    pass
