"""cyradm's createmailbox and deletemailbox, as the book describes them."""

from __future__ import annotations

import imapclient

from ..protocol.imap import command, list_names, quote, status_text


class AdminError(RuntimeError):
    pass


def create_mailbox(client: imapclient.IMAPClient, name: str, partition: str | None = None) -> None:
    """`createmailbox NAME [PARTITION]` (Cyrus takes the partition as CREATE's second argument)."""
    args = [quote(name)] + ([partition] if partition else [])
    typ, data = command(client, "CREATE", *args)
    if typ != "OK":
        raise AdminError(f"CREATE {name}{' ' + partition if partition else ''}: {typ} {status_text(data)}")


def delete_mailbox(client: imapclient.IMAPClient, admin_user: str, name: str, separator: str = ".") -> list[str]:
    """`deletemailbox NAME`: the mailbox and everything below it.

    Administrators lack the delete right by default (the book, and still Cyrus 3.x), so the admin
    first grants itself x on each mailbox; children go first because servers refuse to delete a
    mailbox that has inferiors ([HASCHILDREN]). Returns the mailboxes deleted.
    """
    below = list_names(client, name + separator + "*")
    doomed = sorted(below, key=lambda n: n.count(separator), reverse=True) + [name]
    deleted = []
    for mailbox in doomed:
        if mailbox != name and not list_names(client, mailbox):
            continue  # already gone with its account
        client.setacl(mailbox, admin_user, "lrswipkxtecda")
        typ, data = command(client, "DELETE", quote(mailbox))
        if typ != "OK":
            raise AdminError(f"DELETE {mailbox}: {typ} {status_text(data)}")
        deleted.append(mailbox)
    return deleted
