"""STARTTLS on the other two protocols the chapter's servers speak: LMTP (RFC 2033 over RFC 3207's
STARTTLS) where mail comes in, and ManageSieve (RFC 5804 section 2.2) where users' filters go in.
Both verify the server's certificate against the run's CA and then do real work over TLS."""

import ssl

import pytest

pytestmark = pytest.mark.requires("tls")


@pytest.mark.requires("lmtp")
def test_lmtp_starttls_delivers_over_tls(server, users, login):
    user = users.create()
    with server.lmtp_client(starttls=True) as client:
        assert "starttls" in client.capabilities  # offered in the LHLO answer before TLS
        assert isinstance(client.socket(), ssl.SSLSocket)
        message = b"From: a@imapwright.test\r\nSubject: over TLS\r\nMessage-ID: <lmtp-tls@imapwright.test>\r\n\r\nbody\r\n"
        [result] = client.deliver(message, [f"{user.name}@imapwright.test"])
        assert result.accepted, result
    session = login(user)
    session.select_folder("INBOX")
    assert session.search(["HEADER", "Message-ID", "<lmtp-tls@imapwright.test>"])


@pytest.mark.requires("sieve")
def test_starttls_is_offered_on_the_sieve_port(server, users):
    user = users.create()
    with server.sieve_client(user.name, user.password) as client:
        assert any(line.upper().startswith(b'"STARTTLS"') for line in client.capabilities)


@pytest.mark.destructive
@pytest.mark.requires("sieve", "restart")
def test_managesieve_starttls_then_authenticates_and_stores_a_script(server, users):
    """Where STARTTLS is off by default (Cyrus >= 3.10) the server's own setting turns it on first."""
    user = users.create()
    settings = server.starttls_settings()
    if settings:
        server.reconfigure(**settings)
    try:
        with server.sieve_client(user.name, user.password, starttls=True) as client:
            assert any(line.upper().startswith(b'"STARTTLS"') for line in client.greeting_capabilities)
            assert isinstance(client.socket(), ssl.SSLSocket)
            assert any(line.upper().startswith(b'"SASL"') for line in client.capabilities)  # listed again after TLS
            client.put_script("overtls", 'require ["fileinto"];\nfileinto "INBOX";\n')
            assert "overtls" in client.list_scripts()
    finally:
        if settings:
            server.reconfigure(**dict.fromkeys(settings))
