"""The servers imapwright knows how to build: catalogue name -> family, version, Debian release."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

@dataclass(frozen=True)
class ServerSpec:
    name: str  # catalogue name, e.g. "cyrus:3.6"
    family: str  # "cyrus" or "dovecot"
    version: str  # major.minor the release ships
    release: str  # Debian release the packages come from
    context: Path | None = None  # build folder; default docker/<family>/
    # A user's own image (`--image`, a user catalogue's `image =`): used as it is, never built
    # here; it follows the contract of docker/README.md, checked at start (servers/contract.py).
    image: str | None = None

    @property
    def image_tag(self) -> str:
        if self.image:
            return self.image
        if self.name not in CATALOGUE:  # a user's build context: a tag of its own
            return "imapwright/user-" + re.sub(r"[^a-z0-9_.-]+", "-", self.name.lower())
        return f"imapwright/{self.family}:{self.version}"

    @property
    def is_own(self) -> bool:
        """The user's server (own image or build context), not one of the catalogue's."""
        return self.name not in CATALOGUE

    @property
    def context_dir(self) -> Path:
        from .resources import docker_dir

        return self.context or docker_dir() / self.family

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


_BOUND = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([0-9][0-9.]*)\s*$")
_COMPARE = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
            "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def version_bound(text: str) -> tuple[str, tuple[int, ...]]:
    """">=3.6" -> (">=", (3, 6)); ValueError when it is not a bound."""
    m = _BOUND.match(text)
    if not m:
        raise ValueError(f"bad version bound {text!r}: expected e.g. '>=3.6' or '<2.4'")
    return m.group(1), version_tuple(m.group(2))


def version_meets(version: tuple[int, ...], op: str, bound: tuple[int, ...]) -> bool:
    """Compared on as many parts as the bound names: 3.6.1 == 3.6, and 3.6.1 < 3.10."""
    return _COMPARE[op](version[: len(bound)], bound)


def version_in(bounds: str, version: tuple[int, ...]) -> bool:
    """Whether `version` meets every bound of "">=3.6,<3.12"" (an empty text: any version)."""
    return all(version_meets(version, *version_bound(b)) for b in bounds.split(",") if b.strip())


CATALOGUE: dict[str, ServerSpec] = {
    s.name: s
    for s in (
        ServerSpec("cyrus:3.2", "cyrus", "3.2", "bullseye"),
        ServerSpec("cyrus:3.6", "cyrus", "3.6", "bookworm"),
        ServerSpec("cyrus:3.10", "cyrus", "3.10", "trixie"),
        ServerSpec("cyrus:3.12", "cyrus", "3.12", "forky"),
        ServerSpec("dovecot:2.3", "dovecot", "2.3", "bookworm"),
        ServerSpec("dovecot:2.4", "dovecot", "2.4", "trixie"),
    )
}

DEFAULT_SERVER = "cyrus:3.6"
FAMILY_NAMES = ("cyrus", "dovecot")

# The user's servers of this process: FAMILY:custom from --image, entries of a --catalogue file.
_USER: dict[str, ServerSpec] = {}


def register(spec: ServerSpec) -> ServerSpec:
    if spec.name in CATALOGUE:
        raise UserError(f"{spec.name}: a catalogue server; name your own server differently")
    _USER[spec.name] = spec
    return spec


def lookup(name: str) -> ServerSpec:
    try:
        return CATALOGUE.get(name) or _USER[name]
    except KeyError:
        family = name.partition(":")[0]
        if name.endswith(":custom") and family in FAMILY_NAMES:
            raise UserError(f"{name}: give the image with --image IMAGE (or a --catalogue file)") from None
        raise UserError(f"unknown server {name!r}; known servers: {', '.join([*CATALOGUE, *_USER])}") from None


def read_user_catalogue(path: Path) -> list[ServerSpec]:
    """A user's TOML catalogue: one table per server,

        [servers."cyrus:candidate"]
        family = "cyrus"
        image = "registry.example/cyrus:3.12-rc1"   # or: context = "docker/cyrus", release = "trixie"
        version = "3.12"                            # optional for an image: else what it reports
    """
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"catalogue {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"catalogue {path}: not TOML ({exc})") from None
    servers = data.get("servers")
    if not isinstance(servers, dict) or not servers:
        raise UserError(f"catalogue {path}: no [servers.\"NAME\"] tables")
    specs = []
    for name, entry in servers.items():
        where = f"catalogue {path}: {name}"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: expected a table")
        unknown = set(entry) - {"family", "image", "context", "release", "version"}
        if unknown:
            raise UserError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        family = entry.get("family")
        if family not in FAMILY_NAMES:
            raise UserError(f"{where}: family must be one of {', '.join(FAMILY_NAMES)}")
        if ("image" in entry) == ("context" in entry):
            raise UserError(f"{where}: give image or context (a build folder), one of them")
        if "context" in entry:
            context = (path.parent / entry["context"]).resolve()
            if not (context / "Dockerfile").is_file():
                raise UserError(f"{where}: no Dockerfile in {context}")
            if "release" not in entry or "version" not in entry:
                raise UserError(f"{where}: a build context needs release (Debian) and version")
            specs.append(ServerSpec(name, family, str(entry["version"]), str(entry["release"]), context=context))
        else:
            specs.append(ServerSpec(name, family, str(entry.get("version", "")), "", image=str(entry["image"])))
    return specs
