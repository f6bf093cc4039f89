"""Subscriptions (RFC 9051 6.3.7-6.3.9; RFC 3501 6.3.6-6.3.9; RFC 5258 LIST-EXTENDED): SUBSCRIBE,
UNSUBSCRIBE, LSUB and LIST (SUBSCRIBED) agree, a subscription outlives its mailbox (a server "MUST
NOT unilaterally remove an existing mailbox name from the subscription list"), and subscriptions
survive a restart. Passing tests of their own on every server: the rename-with-subscription test
is an expected failure on Cyrus and would otherwise hide a server that answers OK and changes
nothing (issue 32)."""

import re

import pytest
from imapclient import imap_utf7

from imapwright.protocol.imap import command, quote

_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"[^"]*"|NIL) (?P<name>.+)$')


@pytest.fixture
def subscriber(users, login, server):
    user = users.create("subs")
    client = login(user)

    def name(folder):
        return server.mailbox_name(user.name, folder, user.name)
    return user, client, name


def lsub(client) -> set[str]:
    return {n for _f, _s, n in client.list_sub_folders()}


def list_subscribed(client) -> dict[str, set[str]]:
    """LIST (SUBSCRIBED) "" "*" (RFC 5258): name -> its flags (\\Subscribed, \\NonExistent...)."""
    typ, data = command(client, "LIST", "(SUBSCRIBED)", '""', '"*"')
    assert typ == "OK", data
    out = {}
    for line in data:
        raw = line if isinstance(line, bytes) else b"".join(x for x in line if isinstance(x, bytes))
        m = _LIST_LINE.match(raw)
        assert m, raw
        name = m["name"].strip().strip(b'"').decode()
        out[imap_utf7.decode(name.encode())] = {f.lower() for f in m["flags"].decode().split()}
    return out


def test_subscribe_is_listed_by_lsub(subscriber):
    _user, client, name = subscriber
    client.create_folder(name("news"))
    before = lsub(client)
    assert name("news") not in before
    client.subscribe_folder(name("news"))
    assert lsub(client) == before | {name("news")}


def test_unsubscribe_removes_it_from_lsub(subscriber):
    _user, client, name = subscriber
    for folder in ("keep", "drop"):
        client.create_folder(name(folder))
        client.subscribe_folder(name(folder))
    client.unsubscribe_folder(name("drop"))
    listed = lsub(client)
    assert name("keep") in listed and name("drop") not in listed


def test_list_subscribed_agrees_with_lsub(subscriber, server):
    _user, client, name = subscriber
    if not client.has_capability("LIST-EXTENDED"):
        pytest.skip(f"{server.name} does not offer LIST-EXTENDED (RFC 5258)")
    for folder in ("a", "b", "b.c"):
        client.create_folder(name(folder))
    client.subscribe_folder(name("a"))
    client.subscribe_folder(name("b.c"))
    listed = list_subscribed(client)
    assert {n for n, flags in listed.items() if "\\subscribed" in flags} == lsub(client)
    assert {name("a"), name("b.c")} <= set(listed) and name("b") not in listed


def test_a_subscription_outlives_its_deleted_mailbox(subscriber):
    # RFC 9051 6.3.9 / RFC 3501 6.3.6: the server MUST NOT remove a name from the subscription list
    # because the mailbox is gone; a client's UNSUBSCRIBE does that.
    _user, client, name = subscriber
    client.create_folder(name("gone"))
    client.subscribe_folder(name("gone"))
    client.delete_folder(name("gone"))
    assert name("gone") in lsub(client)
    client.unsubscribe_folder(name("gone"))
    assert name("gone") not in lsub(client)


def test_subscribing_to_a_name_that_does_not_exist_is_kept_or_refused_cleanly(subscriber):
    # RFC 9051 6.3.7: a server MAY refuse to subscribe to a name that does not exist; when it
    # accepts, LSUB lists the name (and a later CREATE finds it subscribed).
    _user, client, name = subscriber
    typ, data = command(client, "SUBSCRIBE", quote(name("later")))
    assert typ in ("OK", "NO"), data
    assert (name("later") in lsub(client)) == (typ == "OK")


@pytest.mark.requires("restart")
@pytest.mark.destructive
def test_subscriptions_survive_a_restart(users, login, server):
    user = users.create("subsrestart")
    client = login(user)
    names = [server.mailbox_name(user.name, f, user.name) for f in ("one", "two.three")]
    for n in names:
        client.create_folder(n)
        client.subscribe_folder(n)
    before = lsub(client)
    server.restart()
    again = login(user)
    assert lsub(again) == before and set(names) <= before
