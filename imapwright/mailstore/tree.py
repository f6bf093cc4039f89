"""A user's mail folders on disk and the mailbox names they map to (the book's bsd2cyrus rules).

A user's source directory holds mbox files, Maildir and MH folders and single-message files, in
subdirectories for hierarchy (`work/2026` -> mailbox `work.2026`); a file named INBOX, a Maildir or
MH folder at the top, or an MH folder named inbox there, is the inbox; NAME.mbox beside a directory
NAME holds NAME's own messages; a single-message file (NAME or NAME.eml, starting with header
fields) is a folder NAME of one message. Skipped, with the reason: hidden files, empty files,
compressed files, binary files, files that are neither mbox nor a message, and special files. A
plain directory is never a mailbox itself; its folders are.

Names: characters a mailbox name may not hold (Cyrus's policy: not in GOODCHARS, and the "."
separator) become "_" plus their octal code, `s!me` -> `s_041me`; "_" itself only when three
octal digits follow it, so the mapping reverses. Non-ASCII stays (modified UTF-7 on the wire).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from .maildir import PARTS, is_maildir
from .mh import REMOVED_MH, SEQUENCES, is_message_entry, is_mh, looks_like_message

# Cyrus mboxname.c GOODCHARS, less "." (our hierarchy separator); non-ASCII passes through.
GOOD = set(" #$'+,-0123456789:=@ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz~&")
COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"PK\x03\x04": "zip",
              b"\x28\xb5\x2f\xfd": "zstd", b"\x1f\x9d": "compress"}
INBOX_NAMES = ("INBOX", "inbox", "mbox")
HOME_MAILDIR = "Maildir"  # a user directory holding ~/Maildir: that is the account's Maildir


@dataclass(frozen=True)
class Folder:
    path: Path
    components: tuple[str, ...]  # encoded mailbox path under the account; () is INBOX
    kind: str  # "mbox" | "maildir" | "mh" | "message" (a single-message file)

    @property
    def name(self) -> str:
        return ".".join(self.components) or "INBOX"


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def encode_component(name: str) -> str:
    out = []
    for i, char in enumerate(name):
        octal_follows = char == "_" and re.match(r"[0-7]{3}", name[i + 1:i + 4])
        if (char in GOOD or ord(char) > 127) and not octal_follows:
            out.append(char)
        else:
            out.append(f"_{ord(char):03o}")
    return "".join(out)


def decode_component(name: str) -> str:
    return re.sub(r"_([0-7]{3})", lambda m: chr(int(m[1], 8)), name)


MESSAGE_SUFFIXES = (".eml", ".msg")


def _file_kind(path: Path) -> tuple[str | None, str | None]:
    """("mbox" or "message", None) for a file of mail, else (None, the reason to skip it)."""
    reason = _why_not_mbox(path)
    if reason is None:
        return "mbox", None
    if reason.startswith("not an mbox"):
        try:
            with path.open("rb") as handle:
                if looks_like_message(handle.read(8192)):
                    return "message", None
        except OSError:
            pass
        reason = "not an mbox (first line is not a From_ line), nor one message (no header fields)"
    return None, reason


def _why_not_mbox(path: Path) -> str | None:
    """None for a file that looks like an mbox, else the reason to skip it."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size == 0:
            return "empty"
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            return f"compressed ({kind})"
    if not head.startswith(b"From "):
        # A NUL byte says binary only of a file that is not an mbox anyway: inside an mbox it is one
        # message's problem, for the server to accept or refuse, not a reason to skip the file.
        return "binary" if b"\0" in head else "not an mbox (first line is not a From_ line)"
    return None


def scan_user(root: Path) -> tuple[list[Folder], list[Skipped]]:
    """The folders of one user's source directory, sorted by name, and what was skipped.

    Maildirs nest two ways: Maildir++ (".work.2026" beside cur/new/tmp of the account's Maildir)
    and the "fs" layout of mbsync and Dovecot (work/{cur,new,tmp} and work/projects/{cur,new,tmp}):
    a Maildir's subdirectories other than cur, new and tmp are searched for folders too."""
    folders: list[Folder] = []
    skipped: list[Skipped] = []

    def walk(directory: Path, prefix: tuple[str, ...], in_maildir: bool, in_mh: bool = False) -> None:
        try:
            with os.scandir(directory) as listing:
                # Names, not Paths, and the MH folder's own messages and sequences left out here,
                # from the listing's file types: a Path each, sorted, and a stat each made the
                # scan of an MH folder of a million messages most of its plan's time and memory.
                names = sorted(e.name for e in listing if not (in_mh and (e.name == SEQUENCES or is_message_entry(e))))
        except OSError as exc:
            skipped.append(Skipped(directory, f"unreadable: {exc.strerror or exc}"))
            return
        for path in (directory / name for name in names):
            if in_maildir and path.name in PARTS:
                continue
            if in_mh and REMOVED_MH.fullmatch(path.name):
                skipped.append(Skipped(path, "a removed message (MH keeps what rmm and refile took away as "
                                             "\",NUMBER\")"))
                continue
            if path.name.startswith("."):
                if in_maildir and not prefix and is_maildir(path):
                    # Maildir++: ".work.2026" is work/2026; its dots are separators, not characters.
                    parts = tuple(encode_component(part) for part in path.name[1:].split("."))
                    folders.append(Folder(path, parts, "maildir"))
                    walk(path, parts, True)
                else:
                    skipped.append(Skipped(path, "hidden"))
            elif is_maildir(path) and not prefix and not in_maildir and path.name == HOME_MAILDIR:
                # A home directory's ~/Maildir (Dovecot's maildir:~/Maildir, Courier, qmail) is the
                # account's Maildir: INBOX, its ".work" folders Maildir++ (was: a folder "Maildir"
                # and every sub-folder skipped as hidden, found migrating copied home directories).
                folders.append(Folder(path, (), "maildir"))
                walk(path, (), True)
            elif is_maildir(path):
                name = prefix + (encode_component(path.name),)
                folders.append(Folder(path, name, "maildir"))
                walk(path, name, True)
            elif is_mh(path):
                # nmh keeps the inbox as the folder "inbox"; sub-folders are sub-directories.
                name = () if not prefix and path.name in INBOX_NAMES else prefix + (encode_component(path.name),)
                folders.append(Folder(path, name, "mh"))
                walk(path, name, False, True)
            elif path.is_dir() and not path.is_symlink():
                walk(path, prefix + (encode_component(path.name),), False)
            elif (kind := _file_kind(path))[0] is None:
                skipped.append(Skipped(path, kind[1] + (" (beside a Maildir's cur/new/tmp)" if in_maildir else "")))
            elif kind[0] == "message":
                stem = path.name[:-4] if path.name.lower().endswith(MESSAGE_SUFFIXES) else path.name
                name = () if not prefix and stem in INBOX_NAMES else prefix + (encode_component(stem),)
                folders.append(Folder(path, name, "message"))
            elif not prefix and path.name in INBOX_NAMES:
                folders.append(Folder(path, (), "mbox"))
            else:
                # NAME.mbox beside a directory NAME holds NAME's own messages (migrate.revert
                # writes it so: one name cannot be a file and a directory at once).
                name = path.name[:-5] if path.name.endswith(".mbox") and (directory / path.name[:-5]).is_dir() \
                    else path.name
                folders.append(Folder(path, prefix + (encode_component(name),), "mbox"))

    if is_maildir(root):
        folders.append(Folder(root, (), "maildir"))
    elif is_mh(root):
        folders.append(Folder(root, (), "mh"))
    walk(root, (), is_maildir(root), is_mh(root))
    return sorted(folders, key=lambda f: f.components), skipped
