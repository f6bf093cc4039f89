"""One real operation per RFC 4314 right (section 4, "Required rights"), done as the grantee.

Each returns True when the server let the grantee do it, as seen afterwards from an independent
admin session where the effect is persistent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imapwright.protocol.imap import command, list_names, quote

from .scene import Scene, message, ok


def lookup(scene: Scene) -> bool:
    """l: the mailbox shows in LIST."""
    client = scene.login()
    parent = scene.mailbox.rsplit(".", 1)[0]
    return scene.mailbox in list_names(client, parent + ".*")


def read(scene: Scene) -> bool:
    """r: EXAMINE, FETCH, SEARCH and STATUS all work."""
    client = scene.login()
    if not ok(client, "EXAMINE", quote(scene.mailbox)):
        return False
    fetched = ok(client, "UID FETCH", "1", "(BODY.PEEK[HEADER])")
    searched = ok(client, "UID SEARCH", "ALL")
    command(client, "CLOSE")
    status = ok(client, "STATUS", quote(scene.mailbox), "(MESSAGES)")
    return fetched and searched and status


def keep_seen(scene: Scene) -> bool:
    """s: \\Seen set by the grantee is still there in the grantee's next session."""
    client = scene.login()
    assert ok(client, "SELECT", quote(scene.mailbox))
    command(client, "UID STORE", "1", "+FLAGS", "(\\Seen)")
    client.logout()
    again = scene.login()
    again.select_folder(scene.mailbox, readonly=True)
    return b"\\Seen" in again.fetch([1], ["FLAGS"])[1][b"FLAGS"]


def _stored(scene: Scene, flag: str) -> bool:
    """The grantee sets `flag` on message 1; does the admin see it afterwards?"""
    client = scene.login()
    assert ok(client, "SELECT", quote(scene.mailbox))
    command(client, "UID STORE", "1", "+FLAGS", f"({flag})")
    return flag.encode() in scene.flags(1)


def write_flags(scene: Scene) -> bool:
    """w: a flag other than \\Seen and \\Deleted is stored."""
    return _stored(scene, "\\Flagged")


def insert(scene: Scene) -> bool:
    """i: APPEND into the mailbox, and COPY into it from the grantee's INBOX."""
    before = scene.count()
    client = scene.login()
    try:
        client.append(scene.mailbox, message("appended by grantee"))
        appended = True
    except Exception:
        appended = False
    client.append("INBOX", message("to copy"))
    client.select_folder("INBOX")
    copied = ok(client, "UID COPY", "1:*", quote(scene.mailbox))
    return appended and copied and scene.count() == before + 2


def post(scene: Scene) -> bool:
    """p: LMTP delivery to owner+folder lands in the folder (otherwise it goes to the INBOX)."""
    before = scene.count()
    folder = scene.mailbox.rsplit(".", 1)[1]
    with scene.server.lmtp_client() as lmtp:
        [result] = lmtp.deliver(message("posted"), [f"{scene.owner.name}+{folder}@imapwright.test"])
    assert result.accepted, result
    return scene.count() == before + 1


def create_below(scene: Scene) -> bool:
    """k: CREATE a child mailbox."""
    client = scene.login()
    ok(client, "CREATE", quote(scene.mailbox + ".child"))
    return scene.exists(scene.mailbox + ".child")


def delete_mailbox(scene: Scene) -> bool:
    """x: DELETE the mailbox itself."""
    client = scene.login()
    ok(client, "DELETE", quote(scene.mailbox))
    return not scene.exists(scene.mailbox)


def delete_flag(scene: Scene) -> bool:
    """t: STORE \\Deleted."""
    return _stored(scene, "\\Deleted")


def expunge(scene: Scene) -> bool:
    """e: EXPUNGE removes a message the owner marked \\Deleted."""
    with scene.server.admin_imap() as admin:
        admin.select_folder(scene.mailbox)
        admin.add_flags([1], [b"\\Deleted"])
    before = scene.count()
    client = scene.login()
    assert ok(client, "SELECT", quote(scene.mailbox))
    command(client, "EXPUNGE")
    return scene.count() == before - 1


def administer(scene: Scene) -> bool:
    """a: GETACL, LISTRIGHTS and SETACL."""
    client = scene.login()
    got = ok(client, "GETACL", quote(scene.mailbox))
    listed = ok(client, "LISTRIGHTS", quote(scene.mailbox), "anyone")
    set_ = ok(client, "SETACL", quote(scene.mailbox), "anyone", "l")
    return got and listed and set_


def annotate(scene: Scene) -> bool:
    """n (Cyrus): store a shared message annotation (ANNOTATE-EXPERIMENT-1, value.shared).

    Measured on Cyrus 3.6: n governs shared *message* annotations; the mailbox's own
    /shared/comment (METADATA) needs w instead.
    """
    client = scene.login()
    assert ok(client, "SELECT", quote(scene.mailbox))
    command(client, "UID STORE", "1", "ANNOTATION", '(/comment (value.shared "from grantee"))')
    with scene.server.admin_imap() as admin:
        admin.select_folder(scene.mailbox, readonly=True)
        typ, data = command(admin, "UID FETCH", "1", "(ANNOTATION (/comment value.shared))")
    return typ == "OK" and b"from grantee" in b"".join(
        d if isinstance(d, bytes) else b"".join(x for x in d if isinstance(x, bytes)) for d in data)


def delete_messages(scene: Scene) -> bool:
    """d (obsolete, = t and e): STORE \\Deleted and EXPUNGE."""
    before = scene.count()
    client = scene.login()
    assert ok(client, "SELECT", quote(scene.mailbox))
    command(client, "UID STORE", "1", "+FLAGS", "(\\Deleted)")
    command(client, "EXPUNGE")
    return scene.count() == before - 1


@dataclass(frozen=True)
class RightCheck:
    right: str
    operation: Callable[[Scene], bool]
    prerequisites: str = ""  # rights the RFC requires for the operation to be reachable at all
    identifier: str | None = None  # whom to grant (None: the grantee)
    requires: tuple[str, ...] = ()  # pytest requirement specs


CHECKS = [
    RightCheck("l", lookup),
    RightCheck("r", read),
    RightCheck("s", keep_seen, "r"),
    RightCheck("w", write_flags, "r"),
    RightCheck("i", insert),
    # LMTP deliveries carry no authenticated identity: posting rights are anyone's (Cyrus).
    RightCheck("p", post, identifier="anyone", requires=("lmtp",)),
    RightCheck("k", create_below),
    RightCheck("x", delete_mailbox),
    RightCheck("t", delete_flag, "r"),
    RightCheck("e", expunge, "r"),
    RightCheck("a", administer),
    RightCheck("n", annotate, "lr", requires=("cyrus",)),
    RightCheck("c", create_below),
    RightCheck("d", delete_messages, "r"),
]
