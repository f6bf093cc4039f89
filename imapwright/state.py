"""The user's own directories for what must land neither in the current directory nor in the install
tree: the state directory (detached servers' admin passwords and the CA their certificates come
from; $XDG_STATE_HOME/imapwright, default ~/.local/state/imapwright; folders 0700, files 0600) and
the cache (compiled files of the shipped suites)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .errors import UserError

ENV = "XDG_STATE_HOME"


def state_home() -> Path:
    """Where the state directory is (not made)."""
    return Path(os.environ.get(ENV) or Path.home() / ".local" / "state") / "imapwright"


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/imapwright (default ~/.cache/imapwright), not made: what can be thrown away."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imapwright"


def keep_bytecode_out_of_the_install() -> None:
    """Suites and load scenarios run from an installed package would get their compiled files
    (pytest's rewritten asserts, Locust's imports) written beside them, into the install tree;
    they go to the cache instead, for this process and every one it starts."""
    from .resources import checkout

    if checkout() is None and not os.environ.get("PYTHONPYCACHEPREFIX"):
        prefix = str(cache_dir() / "pycache")
        os.environ["PYTHONPYCACHEPREFIX"] = prefix
        sys.pycache_prefix = prefix


def state_dir(*parts: str) -> Path:
    """The folder (made 0700 where missing, kept so where it is ours), or one below it."""
    base = state_home()
    path = base.joinpath(*parts)
    try:
        for folder in (base, path):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise UserError(f"state directory {path}: {exc.strerror or exc} (set {ENV} to a folder you can write)") \
            from None
    return path


def write_secret(path: Path, text: str) -> Path:
    """Written whole (a temporary file renamed over it) with mode 0600, also where a file with
    looser permissions was before."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
