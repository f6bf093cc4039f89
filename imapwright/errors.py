"""Errors that are the user's to fix: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A problem with the user's input or environment (no traceback is shown)."""

    exit_code = 2


class ServerError(UserError):
    """A server could not be built, started or reached."""

    exit_code = 3
