"""Reference model of a user's folder tree under CREATE and RENAME (RFC 9051 6.3.4, 6.3.6).

Folders are relative names with "." between levels ("" is INBOX). Each holds its messages as
body digest -> flags, the fingerprint the suites compare with what the server returns. RENAME
moves the folder and every folder below it; it is refused onto an existing name or into itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

SEP = "."
Messages = dict[str, frozenset[str]]  # sha256 of the message as fetched -> its flags


def digest(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


def parent_of(folder: str) -> str:
    return folder.rpartition(SEP)[0]


def depth(folder: str) -> int:
    return 0 if folder == "" else folder.count(SEP) + 1


def is_within(folder: str, top: str) -> bool:
    """`folder` is `top` or below it."""
    return folder == top or folder.startswith(top + SEP)


@dataclass
class HierarchyModel:
    folders: dict[str, Messages] = field(default_factory=lambda: {"": {}})

    # -- predictions and effects -------------------------------------------------------------------
    def can_create(self, folder: str) -> bool:
        return folder != "" and folder not in self.folders and parent_of(folder) in self.folders

    def create(self, folder: str) -> None:
        if not self.can_create(folder):
            raise ValueError(f"cannot create {folder!r}")
        self.folders[folder] = {}

    def subtree(self, top: str) -> list[str]:
        return sorted(f for f in self.folders if is_within(f, top))

    def can_rename(self, old: str, new: str) -> bool:
        return (old != "" and old in self.folders and new != "" and new not in self.folders
                and parent_of(new) in self.folders and not is_within(new, old))

    def rename(self, old: str, new: str) -> None:
        """Move `old` and everything below it to `new`; the messages go with their folders."""
        if not self.can_rename(old, new):
            raise ValueError(f"cannot rename {old!r} to {new!r}")
        for folder in self.subtree(old):
            self.folders[new + folder[len(old):]] = self.folders.pop(folder)

    def height_below(self, top: str) -> int:
        """How many levels the subtree at `top` spans below it (0 for a leaf)."""
        return max(depth(f) for f in self.subtree(top)) - depth(top)

    def store(self, folder: str, message: bytes, flags: frozenset[str] = frozenset()) -> str:
        key = digest(message)
        if key in self.folders[folder]:
            raise ValueError("the model tells messages apart by content: make each one unique")
        self.folders[folder][key] = frozenset(flags)
        return key

    def set_flags(self, folder: str, key: str, flags: frozenset[str]) -> None:
        self.folders[folder][key] = frozenset(flags)

    # -- comparison --------------------------------------------------------------------------------
    def differences(self, observed: dict[str, Messages]) -> list[str]:
        """What the server's tree (same shape as `folders`) does not share with the model."""
        out = []
        for folder in sorted(set(self.folders) | set(observed)):
            name = folder or "INBOX"
            if folder not in observed:
                out.append(f"{name}: missing on the server")
                continue
            if folder not in self.folders:
                out.append(f"{name}: on the server, not in the model")
                continue
            want, got = self.folders[folder], observed[folder]
            for key in sorted(set(want) | set(got)):
                if key not in got:
                    out.append(f"{name}: message {key[:12]} lost")
                elif key not in want:
                    out.append(f"{name}: message {key[:12]} unexpected")
                elif want[key] != got[key]:
                    out.append(f"{name}: message {key[:12]} flags {sorted(got[key])}, expected {sorted(want[key])}")
        return out
