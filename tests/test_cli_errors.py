"""Bad input gets one clear line on stderr and a non-zero exit, never a traceback."""

import os
import subprocess

import pytest


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["imapwright", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args,env,message", [
    (["servers", "build", "exim:4"], None, "unknown server 'exim:4'; known servers: cyrus:3.2"),
    (["run", "nosuchsuite"], None, "no suite 'nosuchsuite'; suites: accounts, acl, health"),
    (["run", "--server", "exim:4"], None, "unknown server 'exim:4'"),
    (["servers", "start", "cyrus:3.6", "-o", "allowusermoves"], None, "expected KEY=VALUE"),
    (["servers", "list"], {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, "no docker engine answers"),
    (["run", "health", "--target", "imap://cyrus@127.0.0.1:9"], {"IMAPWRIGHT_TARGET_PASSWORD": "x"},
     "target 127.0.0.1:9 unreachable"),
    (["run", "health", "--target", "imap://cyrus@127.0.0.1:9"], {"IMAPWRIGHT_TARGET_PASSWORD": ""},
     "target 127.0.0.1:9 unreachable"),
    (["run", "health", "--target", "imap://cyrus:pw@127.0.0.1:9"], None, "must not carry a password"),
])
def test_bad_input_is_one_line(args, env, message):
    result = run_cli(*args, env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imapwright: error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_port_in_use_is_one_line():
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("servers", "start", "cyrus:3.6", "--imap-port", str(port))
    assert result.returncode != 0
    assert result.stderr.strip() == f"imapwright: error: port {port} on 127.0.0.1 is in use; " \
                                    "choose another or leave it to imapwright"
