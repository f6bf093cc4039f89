"""Quota accounting (RFC 9208) as a reference model: roots, usage, and when a server refuses.

A mailbox's quota root is its nearest ancestor-or-self that is a root; a root's usage is the sum
over the mailboxes it governs. STORAGE is reported in kilobytes of the stored message sizes,
each server with its own rounding; the refusal rule differs between APPEND and LMTP delivery.
Both are per-server facts, measured and kept in a `QuotaProfile`:
  Cyrus 3.6: usage = floor(bytes / 1024); APPEND refused when usage + message > limit; LMTP
             refused only once usage is over the limit (the delivery that crosses it is
             accepted: 4 x 30 KB into 100 KB -> 117 KB; a 4th message with MESSAGE 3 is
             accepted too), with 452 4.2.2 (temporary).
  Dovecot:   usage = ceil(bytes / 1024); APPEND strict; LMTP takes the last mail that brings an
             account from under its limit to over it when the result stays within the grace
             (2.3 plugin setting quota_grace, default 10% of the limit; 2.4 quota_storage_grace,
             default 10 M), then refuses (quota_full_tempfail: 452, temporary). Messages: strict.
             https://doc.dovecot.org/2.3/settings/plugin/quota-plugin/ (quota_grace)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

STORAGE, MESSAGE = "STORAGE", "MESSAGE"


@dataclass(frozen=True)
class QuotaProfile:
    name: str
    rounding: str  # "floor" or "ceil": bytes -> reported kilobytes
    append_rule: str  # "strict": refuse when usage + size > limit; "lenient": refuse once usage > limit
    delivery_rule: str  # or "grace": strict, except the message crossing the limit within the grace
    separator: str = "."

    def kilobytes(self, total_bytes: int) -> int:
        f = math.floor if self.rounding == "floor" else math.ceil
        return f(total_bytes / 1024)


CYRUS = QuotaProfile("cyrus", rounding="floor", append_rule="strict", delivery_rule="lenient")
DOVECOT = QuotaProfile("dovecot", rounding="ceil", append_rule="strict", delivery_rule="grace")
PROFILES = {p.name: p for p in (CYRUS, DOVECOT)}


@dataclass
class QuotaModel:
    profile: QuotaProfile
    limits: dict[str, dict[str, int]] = field(default_factory=dict)  # root -> resource -> limit (KB / count)
    mailboxes: dict[str, list[int]] = field(default_factory=dict)  # mailbox -> stored message sizes (bytes)
    # The server's configured grace for the "grace" rule: "10%" (of the limit) or a size ("10 M").
    grace: str = "0"

    # -- structure -------------------------------------------------------------------------------
    def root_of(self, mailbox: str) -> str | None:
        parts = mailbox.split(self.profile.separator)
        for n in range(len(parts), 0, -1):
            candidate = self.profile.separator.join(parts[:n])
            if candidate in self.limits:
                return candidate
        return None

    def set_root(self, root: str, **limits: int) -> None:
        """SETQUOTA root (RESOURCE limit ...); no limits removes the root (RFC 9208 section 4.1.3)."""
        if limits:
            self.limits[root] = {k.upper(): v for k, v in limits.items()}
        else:
            self.limits.pop(root, None)

    def create(self, mailbox: str) -> None:
        self.mailboxes.setdefault(mailbox, [])

    def delete(self, mailbox: str) -> None:
        self.mailboxes.pop(mailbox, None)

    def rename(self, old: str, new: str) -> None:
        """A mailbox and everything below it move; usage follows them into their new root."""
        sep = self.profile.separator
        for name in sorted(n for n in self.mailboxes if n == old or n.startswith(old + sep)):
            self.mailboxes[new + name[len(old):]] = self.mailboxes.pop(name)

    # -- usage -----------------------------------------------------------------------------------
    def governed(self, root: str) -> list[str]:
        return [m for m in self.mailboxes if self.root_of(m) == root]

    def usage(self, root: str) -> dict[str, int]:
        sizes = [s for m in self.governed(root) for s in self.mailboxes[m]]
        return {STORAGE: self.profile.kilobytes(sum(sizes)), MESSAGE: len(sizes)}

    def report(self, root: str) -> dict[str, tuple[int, int]]:
        """What GETQUOTA should say: resource -> (usage, limit), for the resources with limits."""
        use = self.usage(root)
        return {res: (use.get(res, 0), lim) for res, lim in self.limits.get(root, {}).items()}

    # -- refusal -----------------------------------------------------------------------------------
    def accepts(self, mailbox: str, size: int, channel: str = "append") -> bool:
        """Whether the server takes a message of `size` bytes into `mailbox` ("append" or "delivery")."""
        root = self.root_of(mailbox)
        if root is None:
            return True
        rule = self.profile.append_rule if channel == "append" else self.profile.delivery_rule
        limits = self.limits[root]
        sizes = [s for m in self.governed(root) for s in self.mailboxes[m]]
        used_bytes, count = sum(sizes), len(sizes)
        if STORAGE in limits:
            cap = limits[STORAGE] * 1024
            if rule == "lenient":
                over = used_bytes > cap
            elif rule == "grace":
                over = used_bytes + size > cap and (used_bytes >= cap
                                                    or used_bytes + size > cap + grace_bytes(self.grace, cap))
            else:
                over = used_bytes + size > cap
            if over:
                return False
        if MESSAGE in limits:
            if count + (0 if rule == "lenient" else 1) > limits[MESSAGE]:
                return False
        return True

    def store(self, mailbox: str, size: int) -> None:
        self.mailboxes.setdefault(mailbox, []).append(size)

    def expunge(self, mailbox: str, index: int) -> None:
        del self.mailboxes[mailbox][index]


def percent(usage: int, limit: int) -> int:
    """The listquotaroot percentage as cyradm prints it (integer, rounded down)."""
    return usage * 100 // limit if limit else 0


_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def grace_bytes(grace: str, limit_bytes: int) -> int:
    """A Dovecot grace setting ("10%", "10 M", "512k", "0") in bytes for a limit of `limit_bytes`."""
    text = grace.strip().upper().replace(" ", "")
    if text.endswith("%"):
        return limit_bytes * int(text[:-1]) // 100
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", text)
    if not match:
        raise ValueError(f"not a quota grace: {grace!r}")
    return int(match[1]) * _UNITS[match[2]]
