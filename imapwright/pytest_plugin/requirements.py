"""`@pytest.mark.requires(...)`: what a test needs of a server, checked before it runs.

Each argument is either a family with an optional version bound ("cyrus", "cyrus>=3.6",
"dovecot<2.4") or a feature name the server handle offers ("exec", "lmtp", "partitions", ...).
A test runs when every argument holds; a family bound for another family fails the test's
requirement (the test is about that family).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..catalogue import version_meets, version_tuple
from ..servers.families import FAMILIES as SERVER_FAMILIES

_SPEC = re.compile(r"^\s*([a-z][a-z0-9_-]*)\s*(?:(>=|<=|==|!=|>|<)\s*([0-9][0-9.]*))?\s*$")
FAMILIES = tuple(SERVER_FAMILIES)  # the families the harness knows (servers/families.py)


@dataclass(frozen=True)
class Requirement:
    name: str
    op: str | None = None
    version: tuple[int, ...] = ()

    def unmet(self, family: str, version: tuple[int, ...], features: frozenset[str]) -> str | None:
        """Why the server does not meet this requirement, or None if it does."""
        if self.name in FAMILIES:
            if family != self.name:
                return f"needs {self}"
            if self.op and not version:
                return f"needs {self}, server version unknown (state it with --target-version)"
            if self.op and not version_meets(version, self.op, self.version):
                return f"needs {self}, server is {'.'.join(map(str, version))}"
            return None
        return None if self.name in features else f"needs server feature '{self.name}'"

    def __str__(self) -> str:
        return self.name + (f"{self.op}{'.'.join(map(str, self.version))}" if self.op else "")


def parse(text: str) -> Requirement:
    m = _SPEC.match(text)
    if not m:
        raise ValueError(f"bad requirement {text!r}: expected e.g. 'cyrus>=3.6' or 'partitions'")
    name, op, ver = m.groups()
    if op and name not in FAMILIES:
        raise ValueError(f"bad requirement {text!r}: version bounds apply to {', '.join(FAMILIES)}")
    return Requirement(name, op, version_tuple(ver) if ver else ())
