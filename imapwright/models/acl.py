"""RFC 4314 access control: rights strings, ACLs with negative entries, effective rights.

Servers differ in which letters they accept and how they map the obsolete RFC 2086 rights
(c, d); a `RightsProfile` holds those facts per server family, observed on the real servers:
  Cyrus 3.x and Dovecot 2.3/2.4 both expand c to kx and d to te on SETACL, and report c in
  GETACL/MYRIGHTS whenever k or x is present, d whenever t or e is present (RFC 4314 2.1.1).
"""

from __future__ import annotations

import re

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# RFC 4314 section 2.1, in the RFC's order.
STANDARD = "lrswipkxtea"
LEGACY = "cd"


class BadRights(ValueError):
    """A rights string with letters the server does not know (RFC 4314: the server answers BAD)."""


@dataclass(frozen=True)
class RightsProfile:
    name: str
    letters: str  # every letter the server accepts, in the order it prints them
    legacy: Mapping[str, str]  # obsolete letter -> the rights it stands for
    group_prefix: str  # how an ACL names a group: "group:" (Cyrus), "$" (Dovecot)
    # What an account owner holds by default on a new account (its ACL entry for the owner).
    owner_default: str
    # Rights an owner / an administrator holds whatever the ACL says.
    implicit_owner: str = ""
    implicit_admin: str = ""
    # SETACL with an empty rights string: does the entry disappear (Cyrus) or stay empty (Dovecot)?
    empty_entry_kept: bool = False
    # ACL of a new top-level mailbox that is not an account (None: it copies its creator's rights).
    default_acl: Mapping[str, str] | None = None
    abbreviations: Mapping[str, str] = field(default_factory=dict)
    # Site-defined rights the server also accepts and offers in LISTRIGHTS (Cyrus: 0-9).
    site_rights: str = ""
    # How entries matching one user combine (RFC 4314 section 2 leaves it to the server):
    #   "union"       every matching entry adds its rights (Cyrus, RFC 2086's model)
    #   "precedence"  the most specific matching class wins: user, then groups, then anyone
    #                 (Dovecot: "ACLs are processed in the precedence given ... you can still
    #                 remove [a group's access] from specific users inside the group")
    combine: str = "union"
    # Rights of which MYRIGHTS needs one before it answers; RFC 4314 section 4: l r i k x a.
    # Dovecot answers for any right but p (measured; a deviation listed in fixtures/deviations).
    myrights_needs_any: str = "lrikxa"

    # -- parsing -------------------------------------------------------------------------------
    def parse(self, text: str) -> frozenset[str]:
        """Rights named by a SETACL rights string (no +/- prefix), obsolete letters expanded."""
        unknown = sorted(set(text) - set(self.letters) - set(self.site_rights))
        if unknown:
            raise BadRights(f"{self.name} does not know the right(s) {''.join(unknown)!r}")
        rights = set(text) - set(self.legacy)
        for letter, meaning in self.legacy.items():
            if letter in text:
                rights |= set(meaning)
        return frozenset(rights)

    def parse_reported(self, text: str) -> frozenset[str]:
        """Rights in a GETACL/MYRIGHTS/LISTRIGHTS answer: obsolete letters there only echo the
        new ones (c for k or x, d for t or e), so they carry no rights of their own."""
        return self.parse("".join(ch for ch in text.strip('"') if ch not in self.legacy))

    def render(self, rights: Iterable[str]) -> str:
        """Rights as the server reports them: its letter order, obsolete letters added back."""
        present = set(rights)
        for letter, meaning in self.legacy.items():
            if present & set(meaning):
                present.add(letter)
        return "".join(ch for ch in self.letters + self.site_rights if ch in present)

    def all_rights(self) -> frozenset[str]:
        return self.parse(self.letters)

    def expand_abbreviation(self, word: str) -> frozenset[str]:
        """cyradm's names for rights sets (Table 9-3): none, read, post, append, write, all."""
        if word not in self.abbreviations:
            return self.parse(word)
        return self.all_rights() if self.abbreviations[word] == "*" else self.parse(self.abbreviations[word])

    def group(self, name: str) -> str:
        return f"{self.group_prefix}{name}"


# cyradm's rights words as today's cyradm sets them (measured on Cyrus 3.2-3.12,
# fixtures/cyradm/abbreviations.toml): the book's Table 9-3 with c and d split per RFC 4314; n
# (annotations) is in neither write nor all.
CYRADM = {"none": "", "read": "lrs", "post": "lrsp", "append": "lrsip", "write": "lrswipkxtecd",
          "all": "lrswipkxtecda"}

CYRUS = RightsProfile(
    name="cyrus", letters="lrswipkxtecdan", site_rights="0123456789", legacy={"c": "kx", "d": "te"}, group_prefix="group:",
    owner_default="lrswipkxtean",
    # imapd.conf defaults: implicit_owner_rights: lkxan; admins hold l and a everywhere.
    implicit_owner="lkxan", implicit_admin="la", empty_entry_kept=False,
    default_acl={"anyone": "lrs"},  # imapd.conf defaultacl
    abbreviations=CYRADM,
)

DOVECOT = RightsProfile(
    name="dovecot", letters="lrswipkxtecda", legacy={"c": "kx", "d": "te"}, group_prefix="$",
    owner_default="lrswipkxtea", implicit_owner="", implicit_admin="", empty_entry_kept=True,
    default_acl=None,
    abbreviations=CYRADM,
    combine="precedence", myrights_needs_any="lrswikxtea",
)

PROFILES = {p.name: p for p in (CYRUS, DOVECOT)}


class ACL:
    """An access control list: identifier -> rights; "-identifier" entries are negative rights."""

    def __init__(self, profile: RightsProfile, entries: Mapping[str, Iterable[str]] | None = None):
        self.profile = profile
        self.entries: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in (entries or {}).items()}

    @classmethod
    def parse_entries(cls, profile: RightsProfile, pairs: Iterable[tuple[str, str]]) -> ACL:
        """From GETACL's (identifier, rights) pairs."""
        return cls(profile, {ident: profile.parse_reported(rights) for ident, rights in pairs})

    def copy(self) -> ACL:
        return ACL(self.profile, self.entries)

    def setacl(self, identifier: str, rights: str) -> None:
        """SETACL: "+r" adds, "-r" removes, anything else replaces (RFC 4314 section 3.1)."""
        mod, letters = (rights[0], rights[1:]) if rights[:1] in ("+", "-") else ("", rights)
        given = self.profile.parse(letters)
        current = self.entries.get(identifier, frozenset())
        new = current | given if mod == "+" else current - given if mod == "-" else given
        if new or self.profile.empty_entry_kept and (mod == "" or identifier in self.entries):
            self.entries[identifier] = new
        else:
            self.entries.pop(identifier, None)

    def deleteacl(self, identifier: str) -> None:
        self.entries.pop(identifier, None)

    def rendered(self) -> dict[str, str]:
        """What GETACL should show: identifier -> rights string in the server's spelling."""
        return {ident: self.profile.render(r) for ident, r in self.entries.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ACL) and self.entries == other.entries

    def __repr__(self) -> str:
        return f"ACL({self.rendered()})"


def effective_rights(acl: ACL, user: str, groups: Iterable[str] = (), *, anonymous: bool = False,
                     owner: bool = False, admin: bool = False) -> frozenset[str]:
    """Rights of `user` (member of `groups`) on a mailbox with this ACL (RFC 4314 section 2).

    The union of the entries for the user, `anyone`, `anonymous` (for an anonymous session) and
    each group; minus the union of the negative entries for the same identifiers; plus the
    rights the server grants implicitly to owners and administrators.
    """
    profile = acl.profile
    group_ids = {profile.group(g) for g in groups}
    classes = [{user}, group_ids, {"anonymous"} if anonymous else set(), {"anyone"}]  # most specific first
    identifiers = set().union(*classes)

    def rights_of(ids: set[str]) -> frozenset[str]:
        return frozenset().union(*(acl.entries.get(i, frozenset()) for i in ids))

    if profile.combine == "precedence":
        matching = next((ids for ids in classes if any(i in acl.entries for i in ids)), set())
        granted = rights_of(matching)
    else:
        granted = rights_of(identifiers)
    denied = frozenset().union(*(acl.entries.get(f"-{i}", frozenset()) for i in identifiers))
    rights = granted - denied
    if owner:
        rights |= profile.parse(profile.implicit_owner)
    if admin:
        rights |= profile.parse(profile.implicit_admin)
    return frozenset(rights)


# RFC 4314 section 4: MYRIGHTS needs any one of these; without them the server refuses it (and so
# does not reveal that the mailbox exists).
MYRIGHTS_NEEDS_ANY = "lrikxa"


def myrights_answered(rights: frozenset[str], profile: RightsProfile | None = None) -> bool:
    """Whether a user holding `rights` is told its rights (MYRIGHTS answers OK): by RFC 4314, or
    as the server's profile records it does."""
    return bool(rights & set(profile.myrights_needs_any if profile else MYRIGHTS_NEEDS_ANY))


def listrights(profile: RightsProfile, *, owner: bool) -> tuple[frozenset[str], frozenset[str]]:
    """LISTRIGHTS (RFC 4314 section 3.4): rights always granted to the identifier, and the rights
    that may be granted. Only an owner has rights it cannot lose: the implicit owner rights."""
    required = profile.parse(profile.implicit_owner) if owner else frozenset()
    return required, (profile.all_rights() | set(profile.site_rights)) - required


def parse_listrights(profile: RightsProfile, text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The required and optional rights of a '* LISTRIGHTS mailbox identifier req opt...' line.
    The mailbox and identifier may be quoted strings with spaces (a real server's folder names)."""
    words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', text)
    required, optional = words[2].strip('"'), words[3:]
    return profile.parse_reported(required), frozenset().union(*(profile.parse_reported(w) for w in optional))


def new_account_acl(profile: RightsProfile, user: str) -> ACL:
    """The ACL of a freshly created account: its owner holds the server's default owner rights."""
    return ACL(profile, {user: profile.parse(profile.owner_default)})


def new_child_acl(parent: ACL) -> ACL:
    """A new mailbox inherits its nearest existing parent's ACL at creation time (a copy)."""
    return parent.copy()


def new_toplevel_acl(profile: RightsProfile) -> ACL | None:
    """A top-level non-account mailbox gets the server's default ACL (None: not modelled)."""
    if profile.default_acl is None:
        return None
    return ACL(profile, {i: profile.parse(r) for i, r in profile.default_acl.items()})


def rights_difference(expected: frozenset[str], actual: frozenset[str] | None, profile: RightsProfile) -> str:
    """'' when equal, else which rights the server lacks and which it has beyond the model."""
    if actual is None:
        return f"server refused to tell (model: {profile.render(expected) or 'none'})"
    parts = []
    if expected - actual:
        parts.append(f"server lacks {profile.render(expected - actual)!r}")
    if actual - expected:
        parts.append(f"server has extra {profile.render(actual - expected)!r}")
    return "; ".join(parts)


def acl_difference(expected: ACL, actual: ACL) -> str:
    """'' when equal, else per identifier what differs, naming the rights."""
    out = []
    for ident in sorted(set(expected.entries) | set(actual.entries)):
        if ident not in actual.entries:
            out.append(f"{ident}: entry missing on the server (model: {expected.profile.render(expected.entries[ident])!r})")
        elif ident not in expected.entries:
            out.append(f"{ident}: unexpected entry {actual.profile.render(actual.entries[ident])!r}")
        elif (d := rights_difference(expected.entries[ident], actual.entries[ident], expected.profile)):
            out.append(f"{ident}: {d}")
    return "; ".join(out)
