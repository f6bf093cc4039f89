"""The book's Example 9-8 (fwd2alias): users' .forward files become one aliases file, since
mail for a Cyrus account never passes through the user's home directory again.

Addresses and `\\user` (keep a local copy) carry over; pipes, file names and :include: do not
(they ran as the user, an alias would run them as the MTA) and are reported with the file and line.
A missing or unreadable .forward is reported and the run goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_ADDRESS = re.compile(r"^\\?[A-Za-z0-9._%+=-]+(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?$")


@dataclass
class Forwards:
    entries: dict[str, list[str]] = field(default_factory=dict)  # user -> targets
    problems: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def aliases(self) -> str:
        return "".join(f"{user}: {', '.join(targets)}\n" for user, targets in sorted(self.entries.items()))


def _split(text: str) -> list[tuple[int, str]]:
    """(line number, entry) for each comma- or line-separated entry; quoted entries kept whole."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for entry in re.findall(r'"[^"]*"|[^,]+', line):
            if entry.strip():
                out.append((number, entry.strip()))
    return out


def forwards(source: Path) -> Forwards:
    """Read SOURCE/USER/.forward for every user directory under `source`."""
    result = Forwards()
    for home in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
        user, path = home.name, home / ".forward"
        if not path.exists() and not path.is_symlink():
            result.problems.append(f"{user}: no .forward")
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            result.problems.append(f"{path}: unreadable ({exc.strerror or exc}); no alias for {user}")
            continue
        targets = []
        for number, entry in _split(text):
            bare = entry.strip('"')
            if bare.startswith("|") or bare.startswith("/") or bare.startswith(":include:"):
                kind = "pipe" if bare.startswith("|") else "include" if bare.startswith(":") else "file"
                result.problems.append(f"{path}:{number}: {kind} {bare!r} not carried into an alias")
            elif _ADDRESS.match(bare):
                targets.append(bare)
            else:
                result.problems.append(f"{path}:{number}: {bare!r} is not an address; left out")
        if targets:
            result.entries[user] = targets
        elif not any(p.startswith(f"{path}:") for p in result.problems):
            result.problems.append(f"{path}: no addresses")
    return result
