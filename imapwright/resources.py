"""Where the files a run needs besides the Python package are: suites, load scenarios, fixtures
(deviations, migration methods, upgrade pairs, ...) and the docker build contexts.

Two layouts, one answer. An installed wheel or sdist carries them inside the package as
`imapwright/_shipped/<name>/` (setup.py maps the repository's top-level folders there); a checkout
(editable install, or the source tree on sys.path) has them beside the package. This is the only
module that knows either layout: everything else asks it."""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

from .errors import UserError

SHIPPED = ("suites", "loadtests", "fixtures", "docker")
_PACKAGE = Path(str(files("imapwright")))


@functools.cache
def shipped_root() -> Path:
    """The folder holding suites/, loadtests/, fixtures/ and docker/: also the pytest rootdir of
    shipped suites, so their node ids ("suites/acl/test_x.py::...") are the same in both layouts."""
    for root in (_PACKAGE / "_shipped", _PACKAGE.parent):
        if all((root / name).is_dir() for name in SHIPPED):
            return root
    raise UserError(f"this imapwright installation at {_PACKAGE} lacks its suites, fixtures and docker "
                    "contexts (an incomplete build?): reinstall it from a wheel or sdist")


def suites_dir() -> Path:
    return shipped_root() / "suites"


def loadtests_dir() -> Path:
    return shipped_root() / "loadtests"


def fixtures_dir() -> Path:
    return shipped_root() / "fixtures"


def fixture(*parts: str) -> Path:
    """A shipped fixture file, e.g. fixture("upgrade", "pairs.toml")."""
    return fixtures_dir().joinpath(*parts)


def docker_dir() -> Path:
    return shipped_root() / "docker"


def checkout() -> Path | None:
    """The source checkout this package runs from (it has pyproject.toml beside the package), or
    None for an installed wheel."""
    root = _PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and shipped_root() == root else None
