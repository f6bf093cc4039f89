"""The load worker image (docker/loadworker): imapwright from wheels built here (pip wheel of this
checkout and its dependencies), on the Debian base the server images use."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from .. import __version__
from ..errors import UserError
from ..servers import engine
from ..servers.base_images import ensure_base
from ..servers.images import run_build

ROOT = Path(__file__).resolve().parents[2]
TAG = f"imapwright/loadworker:{__version__}"


def build_worker_image(progress=lambda message, *_: None) -> str:
    """Build (again) the worker image; returns its tag."""
    engine.client()  # no docker engine: one line, before anything is built
    base = ensure_base("bookworm", progress)
    with tempfile.TemporaryDirectory() as tmp:
        progress("loadworker: wheels of imapwright and its dependencies")
        # From a copy: pip builds in the source tree (build/, the egg-info), and an editable
        # install's metadata there then changes under the running checkout.
        source = Path(tmp) / "source"
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "reports", "build", "*.egg-info",
                                                                   "__pycache__", ".pytest_cache", ".hypothesis"))
        made = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", str(source), "-w", f"{tmp}/wheels"],
                              capture_output=True, text=True)
        if made.returncode != 0:
            last = (made.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(f"loadworker image: pip wheel failed: {last}")
        shutil.copy(ROOT / "docker" / "loadworker" / "Dockerfile", Path(tmp) / "Dockerfile")
        run_build(SimpleNamespace(name="loadworker"), progress, path=tmp, buildargs={"BASE": base}, tag=TAG,
                   labels={"imapwright.loadworker": __version__})
    return TAG
