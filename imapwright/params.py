"""Checks of command-line values before any work starts: one line naming the option, no traceback."""

from __future__ import annotations

import math
import os
import re
import secrets
import tempfile
from datetime import datetime
from pathlib import Path

from .errors import UserError

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
# Every run is bounded in time: the one place its bounds are (the command line's parsing and a
# load run's own check, for runs made from code, both use them).
DURATION_MIN, DURATION_MAX = 1.0, 24 * 3600.0


def duration(text: str, option: str = "--duration", minimum: float = DURATION_MIN,
             maximum: float = DURATION_MAX) -> float:
    """Seconds from "30", "30s", "5m", "1h30m" (Locust's -t forms) or "2.5"; whole seconds are what
    Locust runs, so anything under `minimum` is refused rather than rounded to no limit."""
    t = text.strip().lower()
    try:
        seconds = float(t)
    except ValueError:
        m = _DURATION.fullmatch(t)
        if not t or not m or not any(m.groups()):
            raise UserError(f"{option} {text!r}: expected seconds or a form like 30s, 5m, 1h30m") from None
        h, mi, s = (int(g or 0) for g in m.groups())
        seconds = h * 3600 + mi * 60 + s
    if not math.isfinite(seconds) or seconds < minimum:
        raise UserError(f"{option} {text!r}: at least {minimum:g} s")
    if seconds > maximum:
        raise UserError(f"{option} {text!r}: at most {maximum / 3600:g} hours")
    return seconds


def positive(value: float, option: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"{option} {value:g}: must be positive")
    return value


def not_negative(value: float, option: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{option} {value:g}: cannot be negative")
    return value


def output_folder(path: Path, option: str) -> Path:
    """A folder results will be written into: refused now if it cannot be one, not after the run."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: exists and is not a folder")
    parent = next((p for p in [path, *path.parents] if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise UserError(f"{option} {path}: cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: {parent} is not writable")
    try:  # access() says yes to root on a read-only file system: try it
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".imapwright-probe-"):
            pass
    except OSError as exc:
        raise UserError(f"{option} {path}: {parent} is not writable ({exc.strerror or exc})") from None
    return path


def output_file(path: Path, option: str) -> Path:
    """Refused now, before anything is started, if `path` cannot become a file."""
    if path.is_dir():
        raise UserError(f"{option} {path}: is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{option} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: folder {parent} is not writable")
    return path


def input_folder(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise UserError(f"{what} {path} is not a directory")
    return path


def key_values(items: list[str], option: str) -> dict[str, str]:
    """KEY=VALUE options (server settings, scenario knobs) as a dict; a malformed one is refused."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def run_id(kind: str = "", when: datetime | None = None) -> str:
    """A run's name: KIND-YYYYmmdd-HHMMSS-xxxx (suite runs have no kind), unique and sortable."""
    stamp = f"{when or datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    return f"{kind}-{stamp}" if kind else stamp
