"""What Cyrus's own tools print, read back: the `quota` report and its `-f` repairs, the arguments
`quota` takes, and the after-test check's output (quota dry run, then reconstruct dry run).
The Cyrus family runs the tools (families.py); suites and workflows read their output here."""

from __future__ import annotations

import re

# One row of `quota`'s table: "  100000   0   8   STORAGE user.bob" (limit, percent, used) or
# "   6   MESSAGE user.bob" (used only); a usage gone negative shows as such.
_ROW = re.compile(r"^\s*(?P<limit>-?\d+)?\s+(?:(?P<pct>-?\d+)\s+)?(?P<used>-?\d+)\s+(?P<res>[A-Z][A-Z-]*)\s+"
                  r"(?P<root>\S+)\s*$")
_REPAIR = re.compile(r"^(?P<root>\S+): (?P<res>[A-Z][A-Z-]*) usage was (?P<was>\d+), now (?P<now>\d+)")


def parse_quota_report(text: str) -> dict[str, dict[str, tuple[int, int | None]]]:
    """The Cyrus `quota` tool's table: root -> resource -> (used, limit or None)."""
    out: dict[str, dict[str, tuple[int, int | None]]] = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            limit = int(m["limit"]) if m["limit"] else None
            out.setdefault(m["root"], {})[m["res"]] = (int(m["used"]), limit)
    return out


def parse_repairs(text: str) -> list[tuple[str, str, int, int]]:
    """`quota -f` lines "ROOT: RESOURCE usage was X, now Y" as (root, resource, X, Y)."""
    return [(m["root"], m["res"], int(m["was"]), int(m["now"])) for line in text.splitlines()
            if (m := _REPAIR.match(line.strip()))]


def quota_tool_arguments(roots: list[str]) -> list[str]:
    """Roots as arguments for Cyrus's `quota` tool, which takes each as a prefix (user.bob also
    names user.bobby's root): a root two arguments name is counted twice (false "usage was 1, now
    2" and "removed" lines; on Cyrus 3.2, where `quota -f` has no dry run, the second pass removed
    the root). So only the names that no other given name is a prefix of: sorted, the names a
    prefix covers come right after it."""
    kept: list[str] = []
    for root in sorted(set(roots)):
        if not kept or not root.startswith(kept[-1]):
            kept.append(root)
    return kept


def check_problems(output: str, mailboxes: set[str]) -> list[str]:
    """Problems in the output of `quota -n -f ...; echo @@reconstruct; reconstruct -n -r -G ...`.

    quota prints a header and one row per root and resource; a repair it would make is any other
    line ("user.bob: STORAGE usage was 80310, now 8031"). reconstruct -n names each mailbox it
    walks; any other line is something it would fix.
    """
    quota_out, _, recon_out = output.partition("@@reconstruct\n")
    problems = [f"quota -f: {line}" for line in quota_out.splitlines()
                if line.strip() and line.split()[:1] != ["Quota"] and not _ROW.match(line)]
    problems += [f"reconstruct: {line}" for line in recon_out.splitlines()
                 if line.strip() and line not in mailboxes and line.strip() not in mailboxes]  # "a " is a name
    return problems
