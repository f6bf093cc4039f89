"""Without rights, another user learns nothing about a private mailbox: not by LIST, SELECT,
STATUS, APPEND or EXAMINE, and not by comparing the answers for "missing" and "forbidden"."""

from imapwright.protocol.imap import command, list_names, quote

from .scene import Scene, message


def _attempts(client, mailbox):
    """Each operation's (status, text without the server's timing suffix)."""
    out = {}
    for name, args in (("SELECT", ()), ("EXAMINE", ()), ("STATUS", ("(MESSAGES)",)), ("MYRIGHTS", ()),
                       ("GETACL", ()), ("DELETE", ()), ("SUBSCRIBE", ())):
        typ, data = command(client, name, quote(mailbox), *args)
        text = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
        out[name] = (typ, text.split(" (0.")[0].replace(mailbox, "<mailbox>"))
    try:
        client.append(mailbox, message("intruder"))
        out["APPEND"] = ("OK", "")
    except Exception as exc:
        out["APPEND"] = ("NO", str(exc).split(" (0.")[0].replace(mailbox, "<mailbox>").split(": ", 1)[-1])
    return out


def test_private_mailbox_is_invisible_to_others(server, users, login):
    scene = Scene.build(server, users)
    intruder = login(scene.grantee)  # the grantee holds no entry at all
    assert scene.mailbox not in list_names(intruder, "*")
    results = _attempts(intruder, scene.mailbox)
    assert {k: typ for k, (typ, _) in results.items() if typ == "OK" and k != "SUBSCRIBE"} == {}
    assert scene.count() == 2


def test_forbidden_and_missing_mailboxes_answer_alike(server, users, login):
    scene = Scene.build(server, users)
    intruder = login(scene.grantee)
    forbidden = _attempts(intruder, scene.mailbox)
    missing = _attempts(intruder, scene.mailbox + "x")
    differing = {k: (forbidden[k], missing[k]) for k in forbidden if forbidden[k] != missing[k]}
    assert differing == {}, "answers reveal that the mailbox exists"
