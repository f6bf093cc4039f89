"""The book's transcripts (johndoe shares a folder with annsmith, the helpdesk queue, the announce
account) run twice on one server: typed into cyradm, and through the harness's own IMAP calls with
the model's rights words. Both must end in the same state (mailboxes, ACLs, quota roots): what an
admin following the book gets is what the suites check."""

import pytest

from imapwright.admin.cyradm import run_cyradm
from imapwright.models.acl import PROFILES
from imapwright.protocol.imap import command, list_names, quote

pytestmark = [pytest.mark.requires("cyrus", "exec"), pytest.mark.destructive]


def _cast(users, side: str) -> dict[str, str]:
    names = {role: users.create(f"{side}{role}").name for role in ("john", "ann", "boss", "desk", "ann2", "news")}
    names["group"] = f"{users.prefix}{side}help"
    names["queue"] = f"{users.prefix}{side}helpdesk"
    return names


def _transcript(c: dict[str, str]) -> list[tuple[str, ...]]:
    """(verb, mailbox, args...) in the book's order; cyradm's words for rights."""
    return [
        ("cm", f"user.{c['john']}.grant-proposal"),
        ("sam", f"user.{c['john']}.grant-proposal", c["ann"], "read"),
        ("cm", c["queue"]),
        ("sam", c["queue"], f"group:{c['group']}", "write"),
        ("sam", c["queue"], c["boss"], "all"),
        ("cm", f"user.{c['news']}.events"),
        ("sam", f"user.{c['news']}.events", "anyone", "read"),
        ("sam", f"user.{c['news']}.events", c["john"], "post"),
        ("sam", f"user.{c['news']}.events", c["ann2"], "post"),
        ("sq", f"user.{c['news']}", "15360"),
    ]


def _through_imap(server, steps) -> None:
    profile = PROFILES[server.family_name]
    with server.admin_imap() as admin:
        for verb, mailbox, *args in steps:
            if verb == "cm":
                typ, data = command(admin, "CREATE", quote(mailbox))
            elif verb == "sam":
                rights = profile.render(profile.expand_abbreviation(args[1]))
                typ, data = command(admin, "SETACL", quote(mailbox), quote(args[0]), quote(rights))
            else:
                typ, data = command(admin, "SETQUOTA", quote(mailbox), f"(STORAGE {args[0]})")
            assert typ == "OK", (verb, mailbox, args, data)


def _state(server, cast: dict[str, str]) -> dict:
    """Mailboxes, ACLs and quota roots of the cast's names, with the cast's names made generic."""
    generic = sorted(cast.items(), key=lambda kv: -len(kv[1]))

    def g(text: str) -> str:
        for role, name in generic:
            text = text.replace(name, f"<{role}>")
        return text

    state = {}
    with server.admin_imap() as admin:
        boxes = [b for pattern in (f"user.{cast['john']}*", f"user.{cast['news']}*", f"{cast['queue']}*")
                 for b in list_names(admin, pattern)]
        for box in boxes:
            acl = {g(i.decode()): r.decode() for i, r in admin.getacl(box)}
            roots = command(admin, "GETQUOTAROOT", quote(box))[1]
            state[g(box)] = (acl, sorted(g(r.decode() if isinstance(r, bytes) else str(r)) for r in roots))
    return state


def test_the_books_transcripts_end_alike_through_cyradm_and_imap(server, users):
    by_cyradm, by_imap = _cast(users, "c"), _cast(users, "i")
    for name in (by_cyradm["group"], by_imap["group"]):
        server.create_group(name)
    steps = _transcript(by_cyradm)
    run = run_cyradm(server, [" ".join(step) for step in steps])
    assert not [o for o in run.outputs if o and not o.startswith("quota:")], run.outputs
    _through_imap(server, _transcript(by_imap))
    typed, called = _state(server, by_cyradm), _state(server, by_imap)
    assert typed and typed == called
