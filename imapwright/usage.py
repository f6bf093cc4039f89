"""Usage errors of the command line as one line: whichever click the installed typer uses (its own
vendored copy in typer >= 0.22, the separate click package before), with no traceback."""

from __future__ import annotations

import importlib


def _classes(name: str) -> tuple[type, ...]:
    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if cls is not None and cls not in found:
            found.append(cls)
    return tuple(found)


CLICK_ERRORS = _classes("ClickException")
ABORT = _classes("Abort")
EXIT = _classes("Exit")


def one_line(exc: BaseException) -> str | None:
    """The one-line message of a command-line usage error, or None when `exc` is not one."""
    if CLICK_ERRORS and isinstance(exc, CLICK_ERRORS):
        message = " ".join(exc.format_message().split())
        ctx = getattr(exc, "ctx", None)
        return f"{message} (`{ctx.command_path} --help`)" if ctx is not None else message
    return None
