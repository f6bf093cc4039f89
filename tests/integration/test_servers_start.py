"""`servers start` as a user meets it (issue 26): nothing lands in the current folder; the password
and the CA live in the state directory, private; what it prints is enough to reach every endpoint,
IMAPS verified with the CA it names; `servers stop` removes that state again."""

import imaplib
import os
import re
import socket
import ssl
import stat
import subprocess

import pytest

from imapwright.servers.target import parse_target

pytestmark = pytest.mark.requires("cyrus>=3.6", "cyrus<3.10")  # one server is enough: the command is the point


def _start(tmp_path):
    """`servers start cyrus:3.6` from an empty folder with its own state directory: (work folder,
    state folder, environment, what it printed, container name)."""
    work, state = tmp_path / "work", tmp_path / "state"
    work.mkdir()
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    started = subprocess.run(["imapwright", "servers", "start", "cyrus:3.6"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    return work, state, env, started, re.search(r"container=(\S+)", started.stdout)[1]


def test_a_started_server_is_reachable_from_what_start_printed(tmp_path, server):
    work, state, env, started, container = _start(tmp_path)
    try:
        assert list(work.iterdir()) == []
        folder = state / "imapwright" / "servers" / container
        secret, ca = folder / "admin-password", folder / "ca.pem"
        assert f"password in {secret} (mode 600)" in started.stdout
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(state / "imapwright").st_mode) == 0o700
        password = secret.read_text().strip()
        assert password not in started.stdout + started.stderr
        url = parse_target(re.search(r"target: --target '([^']+)'", started.stdout)[1])
        assert url.lmtp and url.sieve and url.exec and url.exec.container == container
        tls_url = parse_target(re.search(r"target over TLS: --target '([^']+)'", started.stdout)[1])
        assert tls_url.tls == "imaps" and f"SSL_CERT_FILE={ca}" in started.stdout
        # The CA it names verifies the certificate: a verified IMAPS login, no --insecure.
        with imaplib.IMAP4_SSL(tls_url.imap.host, tls_url.imap.port,
                               ssl_context=ssl.create_default_context(cafile=str(ca))) as imaps:
            assert imaps.login(url.admin, password)[0] == "OK"
        with imaplib.IMAP4(url.imap.host, url.imap.port) as plain:
            assert plain.login(url.admin, password)[0] == "OK"
        # ManageSieve answers there (RFC 5804: the greeting lists capabilities, SIEVE among them).
        with socket.create_connection((url.sieve.host, url.sieve.port), timeout=10) as sieve:
            greeting = sieve.makefile("rb").readline()
        assert greeting.startswith((b'"IMPLEMENTATION"', b'"SIEVE"', b'"SASL"', b'"STARTTLS"')), greeting
    finally:
        stopped = subprocess.run(["imapwright", "servers", "stop", container], env=env, capture_output=True,
                                 text=True, timeout=300)
    assert stopped.returncode == 0, stopped.stderr
    assert not (state / "imapwright" / "servers" / container).exists()


def test_destructive_suites_run_on_a_started_server_without_the_flag_but_not_on_others(tmp_path, server):
    # The harness started it (`servers start`): its suites may create and delete there. The same
    # server named without its container (no way to tell who started it) still needs the flag.
    work, state, env, started, container = _start(tmp_path)
    try:
        url = re.search(r"target: --target '([^']+)'", started.stdout)[1]
        password = (state / "imapwright" / "servers" / container / "admin-password").read_text().strip()
        run_env = {**env, "IMAPWRIGHT_TARGET_PASSWORD": password}
        run = subprocess.run(["imapwright", "run", "subscriptions", "--target", url, "--reports", str(tmp_path / "r")],
                             cwd=work, env=run_env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0 and "--allow-destructive" not in run.stdout + run.stderr, \
            (run.stdout + run.stderr)[-2000:]
        bare = url.split("?")[0] + "?" + "&".join(p for p in url.split("?")[1].split("&") if not p.startswith("exec="))
        refused = subprocess.run(["imapwright", "run", "subscriptions", "--target", bare, "--reports",
                                  str(tmp_path / "r2")], cwd=work, env=run_env, capture_output=True, text=True,
                                 timeout=600)
        assert refused.returncode != 0 and "--allow-destructive" in refused.stdout + refused.stderr
    finally:
        subprocess.run(["imapwright", "servers", "stop", container], env=env, capture_output=True, timeout=300)
