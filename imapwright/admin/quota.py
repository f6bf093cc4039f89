"""cyradm's setquota and listquotaroot as the book shows them (the `quota` tool's own report is
read in servers/cyrus_tools.py)."""

from __future__ import annotations

from dataclasses import dataclass

import imapclient

from ..models.quota import percent
from ..protocol.imap import quota_root


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
    _roots, quotas = quota_root(client, mailbox)
    return [QuotaLine(q.quota_root, q.resource, q.usage, q.limit) for q in quotas]


def usage_of(client: imapclient.IMAPClient, mailbox: str) -> dict[str, tuple[int, int]]:
    """resource -> (usage, limit) of the (single) quota root governing `mailbox`."""
    return {line.resource: (line.usage, line.limit) for line in listquotaroot(client, mailbox)}
