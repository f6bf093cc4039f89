"""Server images built from docker/<family>/ on a Debian base, labelled with the server's own version."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator

from pathlib import Path

import docker.errors

from ..catalogue import ServerSpec
from ..errors import ServerError, UserError
from . import engine
from .base_images import ensure_base

# progress(message, step, total): step/total are known while docker runs the Dockerfile steps.
Progress = Callable[[str, int | None, int | None], None]


def _quiet(_msg: str, _step: int | None = None, _total: int | None = None) -> None:
    pass


def context_hash(spec: ServerSpec, base_id: str) -> str:
    h = hashlib.sha256(base_id.encode())
    for path in sorted(spec.context_dir.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(spec.context_dir)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def find_image(spec: ServerSpec):
    try:
        return engine.client().images.get(spec.image_tag)
    except docker.errors.ImageNotFound:
        return None


@contextlib.contextmanager
def _build_lock(spec: ServerSpec) -> Iterator[None]:
    # Several pytest-xdist workers may ask for the same image at once: one builds, the others wait.
    path = f"/tmp/imapwright-build-{spec.family}-{spec.version}.lock"
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def is_current(spec: ServerSpec) -> bool:
    """The image exists and was built from today's docker/<family>/ files on its base image."""
    if spec.image:
        return True  # a user's own image: used as it is, never built here
    image = find_image(spec)
    if image is None:
        return False
    base_ref = image.labels.get("imapwright.base", "")
    try:
        base_id = engine.client().images.get(base_ref).id if base_ref else ""
    except docker.errors.ImageNotFound:
        return False
    return bool(base_id) and image.labels.get(engine.LABEL_CONTEXT) == context_hash(spec, base_id)


def ensure_image(spec: ServerSpec, progress: Progress = _quiet, force: bool = False):
    """Return the server image, building it when missing, outdated (context changed) or forced."""
    if spec.image:
        from .contract import find_own_image
        return find_own_image(spec)
    with _build_lock(spec):
        if not force and is_current(spec):
            return find_image(spec)
        return build(spec, progress)


def build(spec: ServerSpec, progress: Progress = _quiet, no_cache: bool = False):
    api = engine.client().api
    progress(f"{spec.name}: base image for Debian {spec.release}", None, None)
    base = ensure_base(spec.release, lambda m: progress(m, None, None))
    base_id = engine.client().images.get(base).id
    labels = {
        engine.LABEL_SERVER: spec.name,
        engine.LABEL_CONTEXT: context_hash(spec, base_id),
        "imapwright.base": base,
    }
    image_id = run_build(
        spec, progress,
        path=str(spec.context_dir), buildargs={"BASE": base}, labels=labels, tag=spec.image_tag + "-unlabelled",
        nocache=no_cache,
    )
    version = _read_version(image_id).strip()
    if not version:
        raise ServerError(f"{spec.name}: the built image does not report a server version")
    # Second, instant build: the version as the server itself reports it becomes a label.
    dockerfile = io.BytesIO(f"FROM {image_id}\n".encode())
    run_build(spec, progress, fileobj=dockerfile, labels={**labels, engine.LABEL_VERSION: version},
               tag=spec.image_tag)
    with contextlib.suppress(docker.errors.APIError):
        api.remove_image(spec.image_tag + "-unlabelled", noprune=True)
    progress(f"{spec.name}: built, server version {version}", None, None)
    return engine.client().images.get(spec.image_tag)


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_build(spec: ServerSpec, progress: Progress, **kwargs) -> str:
    api = engine.client().api
    tail: list[str] = []
    step_text = ""
    image_id = None
    try:
        stream = api.build(rm=True, forcerm=True, decode=True, network_mode="host", **kwargs)
        for chunk in stream:
            if "stream" in chunk:
                for line in _ANSI.sub("", chunk["stream"]).splitlines():
                    if not line.strip():
                        continue
                    m = _STEP.match(line)
                    if m:
                        step_text = f"step {m.group(1)}/{m.group(2)} ({_clip(m.group(3), 50)})"
                        progress(f"{spec.name}: {step_text[:70]}", int(m.group(1)), int(m.group(2)))
                    tail = (tail + [line.rstrip()])[-12:]
                    found = re.match(r"Successfully built ([0-9a-f]+)", line)
                    if found:
                        image_id = found.group(1)
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if "error" in chunk or "errorDetail" in chunk:
                err = chunk.get("error") or chunk["errorDetail"].get("message", "")
                code = re.search(r"returned a non-zero code: \d+", err)
                output = [t for t in tail if not t.startswith((" ---> ", "Removing intermediate", "Step "))]
                raise ServerError(f"{spec.name}: image build failed at {step_text}: "
                                  f"{code.group(0) if code else _clip(err.strip(), 200)}; last output: "
                                  + " | ".join(_clip(t.strip(), 160) for t in output[-3:]))
    except docker.errors.APIError as exc:
        raise ServerError(f"{spec.name}: image build failed: {exc.explanation or exc}") from None
    if not image_id:
        raise ServerError(f"{spec.name}: image build finished without an image id: {' | '.join(tail[-3:])}")
    return image_id


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _read_version(image_id: str, path: str = "/etc/imapwright/server-version") -> str:
    out = engine.client().containers.run(image_id, entrypoint=["cat", path], remove=True, network_mode="host")
    return out.decode(errors="replace")


# A packager's build folder holds every binary package of the source (debug symbols, -dev, other
# protocols' servers); the candidate replaces what the image runs, so only packages the image
# already has are installed, each one over Debian's, and the others are named as left out.
_INSTALL_DEBS = r"""set -e
cd /tmp/imapwright-debs
: > install.list; : > skipped.list
for f in *.deb; do
  p=$(dpkg-deb -f "$f" Package)
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    echo "$f" >> install.list
  else
    echo "$f" >> skipped.list
  fi
done
if [ ! -s install.list ]; then
  echo "none of these packages is installed in the image: $(tr '\n' ' ' < skipped.list)" >&2
  exit 1
fi
# --force-confold: an admin's configuration (here the image's) is kept, as on upgrade.
if ! dpkg -i --force-confold $(cat install.list); then
  # New dependencies (a sanitized build needs libasan and libubsan): from the archive, as apt does.
  apt-get -qq -o Acquire::Check-Valid-Until=false update
  apt-get -y -qq -f install --no-install-recommends -o Dpkg::Options::=--force-confold
fi
for f in $(cat install.list); do  # apt -f may resolve by removing: each package must be there, as given
  p=$(dpkg-deb -f "$f" Package); v=$(dpkg-deb -f "$f" Version)
  [ "$(dpkg-query -W -f='${Status} ${Version}' "$p")" = "install ok installed $v" ] || {
    echo "$f: not installed ($p $v): $(dpkg-query -W -f='${Status} ${Version}' "$p" 2>&1)" >&2; exit 1; }
done
cp install.list /etc/imapwright/debs-installed
cp skipped.list /etc/imapwright/debs-left-out
cd / && rm -rf /tmp/imapwright-debs
/usr/local/bin/server-version.sh > /etc/imapwright/server-version
"""


def build_with_debs(spec: ServerSpec, debs: Path, progress: Progress = _quiet):
    """A packager's candidate: the catalogue image with the user's .deb files installed over the
    Debian ones (dpkg -i of the packages the image has), tagged by their content, labelled with
    what went in, what was left out and the version the server then reports."""
    files = _deb_files(debs)
    base = ensure_image(spec, progress)
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    tag = f"{spec.image_tag}-debs-{digest.hexdigest()[:12]}"
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            shutil.copy(f, Path(tmp) / f.name)
        (Path(tmp) / "install-debs.sh").write_text(_INSTALL_DEBS)
        (Path(tmp) / "Dockerfile").write_text(
            f"FROM {base.id}\n"
            "COPY *.deb install-debs.sh /tmp/imapwright-debs/\n"
            "RUN sh /tmp/imapwright-debs/install-debs.sh\n")
        labels = {engine.LABEL_SERVER: spec.name, "imapwright.variant-of": spec.name}
        image_id = run_build(spec, progress, path=tmp, labels=labels, tag=tag + "-unlabelled")
    version = _read_version(image_id).strip()
    if not version:
        raise ServerError(f"{spec.name} with {debs}: the built image does not report a server version")
    installed = _read_version(image_id, "/etc/imapwright/debs-installed").split()
    left_out = _read_version(image_id, "/etc/imapwright/debs-left-out").split()
    labels |= {"imapwright.debs": ", ".join(installed), "imapwright.debs-left-out": ", ".join(left_out)}
    run_build(spec, progress, fileobj=io.BytesIO(f"FROM {image_id}\n".encode()),
               labels={**labels, engine.LABEL_VERSION: version}, tag=tag)
    with contextlib.suppress(docker.errors.APIError):
        engine.client().api.remove_image(tag + "-unlabelled", noprune=True)
    return engine.client().images.get(tag)


def _deb_files(debs: Path) -> list[Path]:
    if not debs.is_dir():
        raise UserError(f"--debs {debs}: not a folder")
    files = sorted(debs.glob("*.deb"))
    if not files:
        raise UserError(f"--debs {debs}: no .deb files in it")
    for f in files:
        with f.open("rb") as fh:
            head = fh.read(21)
        if head != b"!<arch>\ndebian-binary":  # an ar archive whose first member is debian-binary
            raise UserError(f"--debs: {f.name} is not a Debian package")
    return files
