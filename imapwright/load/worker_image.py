"""The load worker image (docker/loadworker): imapwright from wheels built here (a wheel of this
checkout, or of the installed distribution, and its dependencies), on the Debian base the server
images use."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import distribution
from pathlib import Path
from types import SimpleNamespace

from .. import __version__
from ..errors import UserError
from ..resources import checkout, docker_dir
from ..servers import engine
from ..servers.base_images import ensure_base
from ..servers.images import run_build

TAG = f"imapwright/loadworker:{__version__}"


def build_worker_image(progress=lambda message, *_: None) -> str:
    """Build (again) the worker image; returns its tag."""
    engine.client()  # no docker engine: one line, before anything is built
    base = ensure_base("bookworm", progress)
    with tempfile.TemporaryDirectory() as tmp:
        progress("loadworker: wheels of imapwright and its dependencies")
        root = checkout()
        if root is not None:
            # From a copy: pip builds in the source tree (build/, the egg-info), and an editable
            # install's metadata there then changes under the running checkout.
            source = Path(tmp) / "source"
            shutil.copytree(root, source, ignore=shutil.ignore_patterns(".git", "reports", "build", "*.egg-info",
                                                                       "__pycache__", ".pytest_cache", ".hypothesis"))
        else:
            source = installed_wheel(Path(tmp))
        made = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", str(source), "-w", f"{tmp}/wheels"],
                              capture_output=True, text=True)
        if made.returncode != 0:
            last = (made.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(f"loadworker image: pip wheel failed: {last}")
        shutil.copy(docker_dir() / "loadworker" / "Dockerfile", Path(tmp) / "Dockerfile")
        run_build(SimpleNamespace(name="loadworker"), progress, path=tmp, buildargs={"BASE": base}, tag=TAG,
                   labels={"imapwright.loadworker": __version__})
    return TAG


def installed_wheel(folder: Path) -> Path:
    """The installed distribution packed again as a wheel (no checkout to build one from): the files
    its RECORD lists inside site-packages, byte for byte, with a RECORD of their own hashes."""
    dist = distribution("imapwright")
    base = Path(str(dist.locate_file("")))
    info = next(p for p in (dist.files or []) if p.parts[0].endswith(".dist-info")).parts[0]
    out = folder / f"imapwright-{dist.version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as wheel:
        for entry in dist.files or []:
            name = entry.as_posix()
            if name.startswith("..") or name.endswith(".pyc") or "__pycache__" in entry.parts or \
                    name in (f"{info}/RECORD", f"{info}/INSTALLER", f"{info}/REQUESTED", f"{info}/direct_url.json"):
                continue  # console scripts (pip makes them again), caches, what the installer added
            data = (base / entry).read_bytes()
            wheel.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return out
