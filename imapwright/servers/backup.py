"""An admin's backup of a server's data, as the upgrade rehearsal loads it: a folder or a tar
archive (any compression tarfile reads) whose paths are the server's own, relative to its root
(etc/imapd.conf, var/lib/cyrus/..., as the README's tar command makes them). Only ever read.

Two passes, each a stream (a store of millions of messages is never listed in memory): `scan`
finds the server's configuration file, the folders present and the first bytes of the files the
family asks for (the store's format versions); `write_tar` writes the members a plan maps into
the volume's layout as one tar stream. Which folders map where is the family's knowledge
(`Family.backup_plan`)."""

from __future__ import annotations

import contextlib
import io
import lzma
import os
import zlib
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import UserError

HEAD_BYTES = 16


@dataclass
class Scan:
    """What one pass over a backup found."""
    configs: dict[str, bytes]  # relative path -> content, for the file names asked for
    dirs: set[str]  # every folder holding something (relative, no leading or trailing slash)
    heads: list[tuple[str, bytes]]  # (relative path, first HEAD_BYTES) of the files asked for
    files: int = 0
    bytes: int = 0


@dataclass
class LoadPlan:
    """How a backup becomes a volume the image starts on: folder prefixes mapped to volume paths
    (longest first), members left out (runtime state), the settings the server starts with, and
    what the report says about each setting and the store's version."""
    mapping: list[tuple[str, str]]  # (backup folder, path under the volume's root)
    skip: tuple[str, ...] = ()  # backup folders whose contents are not copied (sockets, locks)
    settings: dict[str, str] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)  # {"setting", "given", "used", "why"}
    store: dict = field(default_factory=dict)  # the format versions found, and who writes them
    notes: list[str] = field(default_factory=list)
    generated: dict[str, bytes] = field(default_factory=dict)  # volume path -> content made from the backup
    after_load: str = ""  # a shell command run on the filled volume (ownership), in FROM's image
    after_start: str = ""  # a shell command run beside FROM once it serves the copy (caches rebuilt)

    def target(self, name: str) -> str | None:
        for prefix, dest in self.mapping:
            if name == prefix or name.startswith(prefix + "/"):
                return dest + name[len(prefix):]
        return None

    def skipped(self, name: str) -> bool:
        return any(name.startswith(p + "/") for p in self.skip)


def relative(name: str) -> str:
    """A member's path relative to the server's root: tar's "./var/..." and "/var/..." alike."""
    parts = [p for p in PurePosixPath(name).parts if p not in ("/", ".")]
    if ".." in parts:
        raise UserError(f"backup member {name!r} climbs out of the backup ('..'): not a backup of a server")
    return "/".join(parts)


class BackupArchive:
    def __init__(self, path: Path):
        self.path = path
        if not path.exists():
            raise UserError(f"--data {path}: no such file or folder")
        if path.is_dir():
            self.kind = "folder"
        elif path.is_file() and _is_tar(path):
            self.kind = "tar"
        else:
            raise UserError(f"--data {path}: neither a folder nor a tar archive (a backup is either; see the README's "
                            "'Rehearse an upgrade on your own data')")

    # -- reading ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Around every pass: an archive cut short or damaged is one line, wherever the pass was
        reading (a member's header or its content)."""
        try:
            yield
        except BrokenPipeError:  # writing into the volume stopped: the engine's error is the news
            raise
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
            if self.kind != "tar":
                raise
            raise UserError(f"--data {self.path}: the archive cannot be read to its end ({exc})") from None

    def _members(self) -> Iterator[tuple[str, tarfile.TarInfo, Callable[[], BinaryIO | None]]]:
        """(relative name, TarInfo, opener) of every member, in the archive's (or a walk's) order."""
        if self.kind == "tar":
            with tarfile.open(self.path, "r|*") as tar:
                for info in tar:
                    yield relative(info.name), info, (lambda t=tar, i=info: t.extractfile(i))
            return
        root = self.path
        for folder, dirs, names in os.walk(root, onerror=_walk_error):
            dirs.sort()
            for name in sorted(dirs) + sorted(names):
                full = Path(folder, name)
                rel = full.relative_to(root).as_posix()
                try:
                    info = _tarinfo(full, rel)
                except OSError as exc:
                    raise UserError(f"--data {root}: {rel} cannot be read ({exc.strerror})") from None
                yield rel, info, (lambda p=full: p.open("rb"))

    def read(self, name: str, limit: int = 1 << 24) -> bytes | None:
        """One member's content (None if the backup has no such file)."""
        with self._reading():
            for member, info, open_ in self._members():
                if member == name and info.isfile():
                    with open_() as f:
                        return f.read(limit)
        return None

    def scan(self, config_names: tuple[str, ...], head_names: tuple[str, ...],
             config_prefixes: tuple[str, ...] = ()) -> Scan:
        """`config_names`: files (by name or relative path) read whole; `config_prefixes`: every
        file under these folders read whole too (a configuration tree with its includes)."""
        found = Scan({}, set(), [])
        with self._reading():
            self._scan_into(found, config_names, head_names, config_prefixes)
        # A folder holding something implies its parents (a tar need not list them).
        for d in list(found.dirs):
            while "/" in d:
                d = d.rpartition("/")[0]
                found.dirs.add(d)
        return found

    def _scan_into(self, found: Scan, config_names, head_names, config_prefixes) -> None:
        for name, info, open_ in self._members():
            parent = name.rpartition("/")[0]
            if info.isdir():
                found.dirs.add(name)
            elif parent:
                found.dirs.add(parent)
            if not info.isfile():
                continue
            found.files += 1
            found.bytes += info.size
            base = name.rpartition("/")[2]
            if base in config_names or name in config_names or (
                    info.size <= 1 << 20 and any(name.startswith(p + "/") for p in config_prefixes)):
                with open_() as f:
                    found.configs[name] = f.read(1 << 20)
            elif base in head_names:
                with open_() as f:
                    found.heads.append((name, f.read(HEAD_BYTES)))

    def write_tar(self, plan: LoadPlan, out: BinaryIO, progress: Callable[[int], None] = lambda _n: None) -> int:
        """The mapped members as one tar stream (paths relative to the volume's root); returns how
        many files were written."""
        count = 0
        with self._reading(), tarfile.open(fileobj=out, mode="w|") as tar:
            for path, content in plan.generated.items():
                made = tarfile.TarInfo(path)
                made.size, made.mode, made.mtime = len(content), 0o640, int(time.time())
                tar.addfile(made, io.BytesIO(content))
            for name, info, open_ in self._members():
                dest = plan.target(name)
                if dest is None or plan.skipped(name) or not (info.isfile() or info.isdir() or info.issym()):
                    continue
                copy = tarfile.TarInfo(dest)
                copy.type, copy.mode, copy.mtime, copy.size = info.type, info.mode, info.mtime, info.size
                copy.linkname = info.linkname
                if info.isfile():
                    with open_() as f:
                        tar.addfile(copy, f)
                    count += 1
                    progress(info.size)
                else:
                    tar.addfile(copy)
        return count


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _tarinfo(full: Path, rel: str) -> tarfile.TarInfo:
    st = full.lstat()
    info = tarfile.TarInfo(rel)
    info.mode, info.mtime = st.st_mode & 0o7777, int(st.st_mtime)
    if full.is_symlink():
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
    elif full.is_dir():
        info.type = tarfile.DIRTYPE
    elif full.is_file():
        info.type, info.size = tarfile.REGTYPE, st.st_size
    else:
        info.type = tarfile.FIFOTYPE  # sockets, fifos: runtime state, never copied
    return info


def _walk_error(exc: OSError) -> None:
    raise UserError(f"--data: {exc.filename} cannot be read ({exc.strerror})")
