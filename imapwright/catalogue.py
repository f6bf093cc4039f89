"""The servers imapwright knows how to build: catalogue name -> family, version, Debian release."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

DOCKER_DIR = Path(__file__).resolve().parent.parent / "docker"


@dataclass(frozen=True)
class ServerSpec:
    name: str  # catalogue name, e.g. "cyrus:3.6"
    family: str  # "cyrus" or "dovecot"
    version: str  # major.minor the release ships
    release: str  # Debian release the packages come from
    context: Path | None = None  # build folder; default docker/<family>/

    @property
    def image_tag(self) -> str:
        return f"imapwright/{self.family}:{self.version}"

    @property
    def context_dir(self) -> Path:
        return self.context or DOCKER_DIR / self.family

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


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


def lookup(name: str) -> ServerSpec:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UserError(f"unknown server {name!r}; known servers: {', '.join(CATALOGUE)}") from None
