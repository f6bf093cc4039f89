"""Known, legitimate differences of a server from what a test expects: data, not `if`s in tests.

One TOML file per server family, `fixtures/deviations/<family>.toml`:

    [[deviation]]
    test = "suites/health/test_partitions.py::test_create_on_named_partition"
    versions = ">=2.3"          # optional: only these versions of the family
    reason = "Dovecot has no Cyrus-style partitions"
    reference = "https://doc.dovecot.org/..."

A listed test that fails is reported as an expected deviation; one that passes fails as
"fixed, still listed" so the list stays true.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .requirements import parse as parse_requirement

DEVIATIONS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "deviations"


@dataclass(frozen=True)
class Deviation:
    family: str
    test: str
    reason: str
    reference: str
    versions: str = ""

    def applies(self, test: str, family: str, version: tuple[int, ...]) -> bool:
        if family != self.family or test != self.test:
            return False
        if not self.versions:
            return True
        return all(
            parse_requirement(f"{family}{bound.strip()}").unmet(family, version, frozenset()) is None
            for bound in self.versions.split(",")
        )

    def describe(self) -> str:
        return f"{self.reason} [{self.reference}]"


class DeviationError(ValueError):
    pass


def load(directory: Path = DEVIATIONS_DIR) -> list[Deviation]:
    found: list[Deviation] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise DeviationError(f"{path}: {exc}") from None
        for i, entry in enumerate(data.get("deviation", [])):
            missing = {"test", "reason", "reference"} - entry.keys()
            if missing:
                raise DeviationError(f"{path}: deviation #{i + 1} lacks {', '.join(sorted(missing))}")
            found.append(Deviation(path.stem, entry["test"], entry["reason"], entry["reference"],
                                   entry.get("versions", "")))
    return found


def find(deviations: list[Deviation], test: str, family: str, version: tuple[int, ...]) -> Deviation | None:
    return next((d for d in deviations if d.applies(test, family, version)), None)
