"""TLS (RFC 8314 implicit TLS, RFC 9051 STARTTLS) and the book's warning about plaintext passwords.
Servers the harness starts carry a certificate from the run's own CA (servers/tls.py): clients
verify it, and a client that trusts another CA refuses the server. With plaintext logins refused
by configuration, LOGIN in clear gets the server's refusal (and its log line) and the same LOGIN under TLS
succeeds."""

import ssl
from datetime import UTC, datetime

import imapclient
import pytest

from imapwright.protocol.imap import peer_certificate
from imapwright.servers.tls import RunCA

pytestmark = pytest.mark.requires("tls")


def test_imaps_login_verifies_the_servers_certificate(server, users):
    user = users.create()
    client = server.login(user.name, user.password, tls="imaps")
    try:
        cert = peer_certificate(client)
        assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    finally:
        client.logout()


def test_starttls_is_offered_on_the_imap_port(server):
    plain = server.imap_client()
    try:
        assert b"STARTTLS" in plain.capabilities()
    finally:
        plain.logout()


@pytest.mark.destructive
@pytest.mark.requires("restart")
def test_starttls_upgrades_the_imap_port_where_allowed(server, users):
    user = users.create()
    settings = server.starttls_settings()
    if settings:
        server.reconfigure(**settings)
    try:
        client = server.login(user.name, user.password, tls="starttls")
        try:
            assert b"STARTTLS" not in client.capabilities()  # RFC 9051 6.2.1: not offered again
            assert client.noop()
        finally:
            client.logout()
    finally:
        if settings:
            server.reconfigure(**dict.fromkeys(settings))


def test_a_client_trusting_another_ca_refuses_the_server(server):
    stranger = RunCA("another CA").client_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(server.imaps.host, port=server.imaps.port, ssl=True, ssl_context=stranger, timeout=10)


@pytest.mark.destructive
@pytest.mark.requires("restart")
def test_plaintext_refused_in_clear_and_accepted_under_tls(server, users):
    user = users.create()
    server.reconfigure(**server.plaintext_settings(allowed=False))
    try:
        since = datetime.now(UTC)
        plain = server.imap_client()
        try:
            assert b"LOGINDISABLED" in plain.capabilities()  # RFC 9051 7.2.2: says so up front
            with pytest.raises(imapclient.exceptions.IMAPClientError) as refused:
                plain.login(user.name, user.password)
        finally:
            plain.shutdown()
        assert str(refused.value)
        client = server.login(user.name, user.password, tls="imaps")  # under TLS: accepted
        client.logout()
        assert server.wait_for_log(user.name, since=since), "the logins left no log line"
    finally:
        server.reconfigure(**server.plaintext_settings(allowed=True))
