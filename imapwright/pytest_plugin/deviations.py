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
deviation-listed test that shows the behaviour, so the noise entry cannot outlive it), and
`[[log_noise]]` (servers/log_gate.py). `read` is the one reader of all three: a key or table it does
not know is refused, so a typo cannot silently widen an entry.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import version_bound, version_in
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


class DeviationError(UserError):
    pass


@dataclass(frozen=True)
class Lists:
    """Every table of a deviations folder, read and checked once."""
    deviations: list[Deviation]
    check_noise: list[CheckNoise]
    log_noise: list  # servers/log_gate.LogNoise


# table -> (required keys, optional keys); a key outside both is a typo that would otherwise widen
# the entry (a misspelt `versions` makes it hold for every version).
TABLES = {
    "deviation": ({"test", "reason", "reference"}, {"versions"}),
    "check_noise": ({"pattern", "test", "reason", "reference"}, {"versions"}),
    "log_noise": ({"pattern", "reason", "reference"}, {"versions", "tests", "runs", "kinds", "sometimes"}),
}


def _entries(path: Path, data: dict, table: str) -> list[tuple[str, dict]]:
    """The table's entries, each with where it is (for messages), checked for what every table shares."""
    required, optional = TABLES[table]
    out = []
    for i, entry in enumerate(data.get(table, [])):
        where = f"{path}: {table} #{i + 1}"
        missing = required - entry.keys()
        if missing:
            raise DeviationError(f"{where} lacks {', '.join(sorted(missing))}")
        unknown = entry.keys() - required - optional
        if unknown:
            raise DeviationError(f"{where}: unknown key {', '.join(sorted(unknown))} (known: "
                                 f"{', '.join(sorted(required | optional))})")
        try:
            if "pattern" in entry:
                re.compile(entry["pattern"])
            for bound in str(entry.get("versions", "")).split(","):
                if bound.strip():
                    version_bound(bound)
        except (re.error, ValueError) as exc:
            raise DeviationError(f"{where}: {exc}") from None
        out.append((where, entry))
    return out


def read(directory: Path | None = None) -> Lists:
    """A deviations folder (default: the shipped one): every <family>.toml's tables, checked; a
    malformed one is a DeviationError (one line for the user) before any test runs."""
    from ..servers.log_gate import noise_entry  # the log gate owns what a log_noise entry means

    directory = directory or fixture("deviations")
    if not directory.is_dir():
        raise DeviationError(f"--deviations {directory}: no such folder")
    lists = Lists([], [], [])
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise DeviationError(f"{path}: {exc}") from None
        unknown = data.keys() - TABLES.keys()
        if unknown:
            raise DeviationError(f"{path}: unknown table {', '.join(sorted(unknown))} (known: "
                                 f"{', '.join(TABLES)})")
        for _where, e in _entries(path, data, "deviation"):
            lists.deviations.append(Deviation(path.stem, e["test"], e["reason"], e["reference"],
                                              e.get("versions", "")))
        for _where, e in _entries(path, data, "check_noise"):
            lists.check_noise.append(CheckNoise(path.stem, e["pattern"], e["test"], e["reason"], e["reference"],
                                                e.get("versions", "")))
        for where, e in _entries(path, data, "log_noise"):
            lists.log_noise.append(noise_entry(path.stem, where, e))
    for n in lists.check_noise:
        if not any(d.family == n.family and d.test == n.test for d in lists.deviations):
            raise DeviationError(f"{n.family}.toml: check_noise {n.pattern!r} names test {n.test!r}, "
                                 "which is not listed as a deviation")
    return lists


def load_all(directory: Path | None = None) -> tuple[list[Deviation], list[CheckNoise]]:
    lists = read(directory)
    return lists.deviations, lists.check_noise


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
