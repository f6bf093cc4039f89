"""A server of the user's own given over TLS: `--target imaps://...` and `imap://...?starttls=1`.
The harness's own server stands in for it: its certificate comes from the run's CA, which the
system does not trust, exactly like a staging server with a private CA. Without trust the run
stops in one line; with the CA given (SSL_CERT_FILE) or --insecure, every session is TLS."""

import os
import ssl
import subprocess

import pytest

from imapwright.errors import ServerError, UserError
from imapwright.servers.target import PASSWORD_ENV, connect_target, target_url
from imapwright.servers.tls import run_ca

pytestmark = pytest.mark.requires("tls")


@pytest.fixture
def trusted(monkeypatch):
    """The machine trusts the run's CA, as an admin would add a private CA (OpenSSL's SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(run_ca().ca_file))


@pytest.fixture
def password(server, monkeypatch):
    if not server.owned:
        pytest.skip("needs a server imapwright starts (it stands in for the user's own)")
    monkeypatch.setenv(PASSWORD_ENV, server.admin_password)


def _imaps_url(server, extra: str = "") -> str:
    return f"imaps://{server.admin_user}@{server.imaps}?exec=docker:{server.container.name}{extra}"


def test_an_imaps_target_whose_certificate_does_not_verify_is_one_line(server, password, tmp_path):
    run = subprocess.run(["imapwright", "run", "health", "--target", _imaps_url(server), "--reports", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "SSL_CERT_FILE": "/dev/null"})
    assert run.returncode == 2, run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"imapwright: error: target {server.imaps}: its TLS certificate does not verify ("), line
    assert "--insecure" in line and not list(tmp_path.iterdir())  # nothing written


def test_an_imaps_target_with_its_ca_trusted_runs_every_session_over_tls(server, password, trusted, users):
    handle = connect_target(_imaps_url(server))
    assert (handle.session_tls, handle.version, handle.family_name) == ("imaps", server.version, server.family_name)
    user = users.create()
    client = handle.login(user.name, user.password)
    try:
        assert isinstance(client.socket(), ssl.SSLSocket)
        assert client.socket().getpeername()[1] == server.imaps.port
    finally:
        client.logout()


def test_insecure_accepts_an_unverified_certificate_and_still_speaks_tls(server, password, monkeypatch, users):
    monkeypatch.setenv("SSL_CERT_FILE", "/dev/null")
    with pytest.raises(UserError, match="does not verify"):
        connect_target(_imaps_url(server))
    for handle in (connect_target(_imaps_url(server), insecure=True), connect_target(_imaps_url(server, "&insecure=1"))):
        with handle.admin_imap() as client:
            assert isinstance(client.socket(), ssl.SSLSocket)


def test_the_pipelined_clients_go_over_the_targets_tls(server, password, trusted, users):
    """addusers and the mailbox seeding write raw IMAP through the handle's dialer; against an
    IMAPS-only address it must handshake first, or every command is lost on a TLS port."""
    from imapwright.protocol.imap import pipeline, quote

    handle = connect_target(_imaps_url(server))
    user = users.create()
    folders = [server.mailbox_name(user.name, f"piped{i}", user.name) for i in range(3)]
    answers = pipeline(handle.dialer(), user.name, user.password, [f"CREATE {quote(f)}" for f in folders])
    assert [status for status, _text in answers] == ["OK"] * 3, answers
    listed = {name for _flags, _sep, name in users.login(user).list_folders()}
    assert set(folders) <= listed


def test_imaps_to_a_plain_port_names_the_mismatch(server, password, trusted):
    url = f"imaps://{server.admin_user}@{server.imap}"
    with pytest.raises(ServerError, match=r"the TLS handshake failed .*is this an IMAPS port"):
        connect_target(url)


def test_starttls_target_upgrades_before_login_or_says_it_cannot(server, password, trusted, users):
    """Where the server offers STARTTLS the target's sessions are upgraded before LOGIN; where it does
    not (Cyrus >= 3.10 by default), the run stops in one line instead of sending the password in clear."""
    plain = server.imap_client(tls="")
    try:
        offered = b"STARTTLS" in plain.capabilities()
    finally:
        plain.logout()
    url = target_url(server, tls="starttls")
    if not offered:
        with pytest.raises(UserError, match="no STARTTLS offered"):
            connect_target(url)
    else:
        handle = connect_target(url)
        user = users.create()
        client = handle.login(user.name, user.password)
        try:
            assert isinstance(client.socket(), ssl.SSLSocket)
            assert client.socket().getpeername()[1] == server.imap.port
        finally:
            client.logout()
