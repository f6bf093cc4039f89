"""Renaming an account: the server's own RENAME of user.OLD (Cyrus needs allowusermoves), or the
book's workaround (Example 9-2): create the new hierarchy, move every message, delete the old
account, reconstruct, set the quota again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import imapclient

from ..protocol.imap import command, list_names, quota_root, quote, status_text
from ..servers.handle import ServerHandle
from ..stores.tree import iter_messages

ALL_RIGHTS = "lrswipkxtea"


class RenameError(RuntimeError):
    pass


def _hierarchy(server: ServerHandle, admin: imapclient.IMAPClient, account: str) -> list[str]:
    """The account's mail folders (server-internal mailboxes such as Cyrus's #sieve left out)."""
    return sorted(n for n in list_names(admin, account) + list_names(admin, account + ".*")
                  if not server.is_internal_mailbox(n))


def _copy_sieve_scripts(server: ServerHandle, old: str, new: str) -> list[str]:
    """Every Sieve script of `old` put for `new`, the active one activated; returns their names."""
    with server.admin_sieve(old) as source:
        scripts = source.list_scripts()
        texts = {name: source.get_script(name) for name in scripts}
    if scripts:
        with server.admin_sieve(new) as target:
            for name, text in texts.items():
                target.put_script(name, text)
            for name, active in scripts.items():
                if active:
                    target.set_active(name)
    return sorted(scripts)


def native(server: ServerHandle, old: str, new: str) -> None:
    """RENAME user.OLD user.NEW as the admin."""
    src, dst = server.user_mailbox(old), server.user_mailbox(new)
    with server.admin_imap() as admin:
        typ, data = command(admin, "RENAME", quote(src), quote(dst))
    if typ != "OK":
        raise RenameError(f"RENAME {src} {dst}: {typ} {status_text(data)}")


def workaround(server: ServerHandle, old: str, new: str,
               say: Callable[[str], None] = lambda _m: None) -> None:
    """Example 9-2, step by step over IMAP and the server's tools (plus the user's Sieve scripts,
    copied over ManageSieve, which the book's version leaves behind)."""
    src, dst = server.user_mailbox(old), server.user_mailbox(new)
    with server.admin_imap() as admin:
        boxes = _hierarchy(server, admin, src)
        if not boxes:
            raise RenameError(f"no account {src}")
        _, quotas = quota_root(admin, src)
        limits = {q.resource: q.limit for q in quotas if q.quota_root == src}
        for box in boxes:  # the admin needs rights to read, copy out and delete
            admin.setacl(box, server.admin_user, ALL_RIGHTS)
        for box in boxes:
            target = dst + box[len(src):]
            say(f"create {target}")
            typ, data = command(admin, "CREATE", quote(target))
            if typ != "OK" and "exists" not in status_text(data).lower():
                raise RenameError(f"CREATE {target}: {status_text(data)}")
            admin.setacl(target, server.admin_user, ALL_RIGHTS)
            for ident, rights in admin.getacl(box):
                ident = ident.decode()
                if ident != server.admin_user:
                    admin.setacl(target, new if ident == old else ident, rights.decode())
        for box in boxes:
            target = dst + box[len(src):]
            admin.select_folder(box)
            uids = admin.search()
            if uids:
                say(f"move {len(uids)} messages {box} -> {target}")
                admin.move(uids, target)
            admin.unselect_folder()
        if "sieve" in server.features:  # the book's workaround loses them; carry them across
            names = _copy_sieve_scripts(server, old, new)
            say(f"sieve scripts copied: {', '.join(names) or 'none'}")
        say(f"delete {src}")
        typ, data = command(admin, "DELETE", quote(src))
        if typ != "OK":
            raise RenameError(f"DELETE {src}: {status_text(data)}")
        for box in boxes:  # the admin's working rights go again
            command(admin, "DELETEACL", quote(dst + box[len(src):]), server.admin_user)
    say(f"repair {dst}")
    server.repair_tree(dst)
    if limits:
        say(f"quota {dst} {limits}")
        server.set_quota(dst, limits.get("STORAGE"), limits.get("MESSAGE"))


def snapshot(server: ServerHandle, account: str) -> dict[str, list[tuple[str, tuple[str, ...], str]]]:
    """Folder (relative to the account) -> sorted (body sha256, flags, internal date) of each message.

    Read as the admin, who is given (and then loses) read rights; \\\\Seen and \\\\Recent are left
    out: the admin's seen state is its own.
    """
    out: dict[str, list[tuple[str, tuple[str, ...], str]]] = {}
    with server.admin_imap() as admin:
        for box in _hierarchy(server, admin, account):
            admin.setacl(box, server.admin_user, "lr")
            out[box[len(account):]] = sorted(
                (hashlib.sha256(m.content).hexdigest(), tuple(sorted(m.flags - {"\\Seen"})), m.date.isoformat())
                for m in iter_messages(admin, box))
            command(admin, "DELETEACL", quote(box), server.admin_user)
    return out
