"""cyradm's setquota and listquotaroot, and the quota tool's report, as the book shows them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import imapclient

from ..models.quota import percent


@dataclass(frozen=True)
class QuotaLine:
    root: str
    resource: str
    usage: int
    limit: int

    def __str__(self) -> str:
        # cyradm: "user.bob STORAGE 7/15000 (0%)"
        return f"{self.root} {self.resource} {self.usage}/{self.limit} ({percent(self.usage, self.limit)}%)"


def listquotaroot(client: imapclient.IMAPClient, mailbox: str) -> list[QuotaLine]:
    """GETQUOTAROOT for a mailbox, one line per root and resource."""
    _roots, quotas = client.get_quota_root(mailbox)
    return [QuotaLine(q.quota_root, q.resource, q.usage, q.limit) for q in quotas]


def usage_of(client: imapclient.IMAPClient, mailbox: str) -> dict[str, tuple[int, int]]:
    """resource -> (usage, limit) of the (single) quota root governing `mailbox`."""
    return {line.resource: (line.usage, line.limit) for line in listquotaroot(client, mailbox)}


_ROW = re.compile(r"^\s*(?P<limit>\d+)?\s+(?:(?P<pct>\d+)\s+)?(?P<used>\d+)\s+(?P<res>[A-Z][A-Z-]*)\s+(?P<root>\S+)\s*$")


def parse_quota_report(text: str) -> dict[str, dict[str, tuple[int, int | None]]]:
    """The Cyrus `quota` tool's table: root -> resource -> (used, limit or None)."""
    out: dict[str, dict[str, tuple[int, int | None]]] = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            limit = int(m["limit"]) if m["limit"] else None
            out.setdefault(m["root"], {})[m["res"]] = (int(m["used"]), limit)
    return out


_REPAIR = re.compile(r"^(?P<root>\S+): (?P<res>[A-Z][A-Z-]*) usage was (?P<was>\d+), now (?P<now>\d+)")


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
