"""Known, legitimate differences of a server from what a test expects: data, not `if`s in tests.

One TOML file per server family, `fixtures/deviations/<family>.toml`:

    [[deviation]]
    test = "suites/health/test_partitions.py::test_create_on_named_partition"
    versions = ">=2.3"          # optional: only these versions of the family
    reason = "Dovecot has no Cyrus-style partitions"
    reference = "https://doc.dovecot.org/..."

A listed test that fails is reported as an expected deviation; one that passes fails as
"fixed, still listed" so the list stays true.

The same files list `[[check_noise]]`: lines of the after-test consistency check that a server
version prints although nothing is wrong (pattern, versions, reason, reference, and `test`, the
deviation-listed test that shows the behaviour, so the noise entry cannot outlive it).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import version_in
from ..errors import UserError
from ..resources import fixture


@dataclass(frozen=True)
class Deviation:
    family: str
    test: str
    reason: str
    reference: str
    versions: str = ""

    def applies(self, test: str, family: str, version: tuple[int, ...]) -> bool:
        return test == self.test and _version_matches(self.family, self.versions, family, version)

    def describe(self) -> str:
        return f"{self.reason} [{self.reference}]"


@dataclass(frozen=True)
class CheckNoise:
    family: str
    pattern: str
    test: str
    reason: str
    reference: str
    versions: str = ""

    def hides(self, problem: str, family: str, version: tuple[int, ...]) -> bool:
        return _version_matches(self.family, self.versions, family, version) and re.search(self.pattern, problem) is not None


def _version_matches(entry_family: str, versions: str, family: str, version: tuple[int, ...]) -> bool:
    return family == entry_family and version_in(versions, version)


class DeviationError(ValueError):
    pass


def _entries(path: Path, data: dict, table: str, required: set[str]) -> list[dict]:
    entries = data.get(table, [])
    for i, entry in enumerate(entries):
        missing = required - entry.keys()
        if missing:
            raise DeviationError(f"{path}: {table} #{i + 1} lacks {', '.join(sorted(missing))}")
    return entries


def load_all(directory: Path | None = None) -> tuple[list[Deviation], list[CheckNoise]]:
    deviations: list[Deviation] = []
    noise: list[CheckNoise] = []
    directory = directory or fixture("deviations")
    if not directory.is_dir():
        raise DeviationError(f"--deviations {directory}: no such folder")
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise DeviationError(f"{path}: {exc}") from None
        for e in _entries(path, data, "deviation", {"test", "reason", "reference"}):
            deviations.append(Deviation(path.stem, e["test"], e["reason"], e["reference"], e.get("versions", "")))
        for e in _entries(path, data, "check_noise", {"pattern", "test", "reason", "reference"}):
            try:
                re.compile(e["pattern"])
            except re.error as exc:
                raise DeviationError(f"{path}: check_noise pattern {e['pattern']!r}: {exc}") from None
            noise.append(CheckNoise(path.stem, e["pattern"], e["test"], e["reason"], e["reference"],
                                    e.get("versions", "")))
    for n in noise:
        if not any(d.family == n.family and d.test == n.test for d in deviations):
            raise DeviationError(f"{n.family}.toml: check_noise {n.pattern!r} names test {n.test!r}, "
                                 "which is not listed as a deviation")
    return deviations, noise


def load(directory: Path | None = None) -> list[Deviation]:
    return load_all(directory)[0]


def find(deviations: list[Deviation], test: str, family: str, version: tuple[int, ...]) -> Deviation | None:
    return next((d for d in deviations if d.applies(test, family, version)), None)


def refuse_unknown_version(handle, deviations: list[Deviation], noise: list[CheckNoise]) -> None:
    """A server whose version nobody knows cannot be held to entries that hold for some versions
    only: a run must not guess whether they apply (UserError naming one)."""
    if handle.version_known:
        return
    family = handle.family_name
    scoped = [e for e in [*deviations, *noise] if e.family == family and e.versions]
    if scoped:
        raise UserError(f"the server's version is unknown and fixtures/deviations/{family}.toml scopes "
                        f"{len(scoped)} entries by version (e.g. {scoped[0].test} {scoped[0].versions}); "
                        "state it with --target-version")
