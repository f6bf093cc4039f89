"""The book's "Testing the Server": a session answers, refuses bad passwords, and ends cleanly."""

import imapclient
import pytest

from imapwright.protocol.imap import command


def test_noop_answers_ok(admin_imap):
    typ, _ = command(admin_imap, "NOOP")
    assert typ == "OK"


def test_capability_is_recorded(admin_imap, record_property):
    caps = sorted(c.decode() for c in admin_imap.capabilities())
    record_property("capabilities", " ".join(caps))
    assert {"IMAP4REV1", "IMAP4REV2"} & set(caps), caps


def test_bad_password_is_refused_and_logged(server, users, test_started):
    user = users.create("badpw")
    wrong = user.password + "-wrong"
    client = server.imap_client()
    with pytest.raises(imapclient.exceptions.LoginError):
        client.login(user.name, wrong)
    client.shutdown()
    refused = server.wait_for_log(user.name, server.bad_login_marker, since=test_started)
    assert refused, f"no '{server.bad_login_marker}' line for {user.name} in the server log"
    lines = server.logs(since=test_started)
    assert not any(wrong in line.raw or user.password in line.raw for line in lines), "password in server log"


def test_good_password_logs_in(users, login):
    user = users.create()
    client = login(user)
    assert command(client, "NOOP")[0] == "OK"


def test_logout_is_clean(server, users):
    user = users.create()
    client = server.login(user.name, user.password)
    bye = client.logout()
    assert bye  # imapclient raises unless the tagged LOGOUT answer is OK
    with pytest.raises((OSError, imapclient.exceptions.IMAPClientAbortError, AttributeError)):
        client.noop()
