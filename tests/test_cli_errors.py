"""Bad input gets one clear line on stderr and a non-zero exit, never a traceback."""

import os
import shutil
import subprocess
import sys

import pytest


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["imapwright", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args,env,message", [
    (["servers", "build", "exim:4"], None, "unknown server 'exim:4'; known servers: cyrus:3.2"),
    (["run", "nosuchsuite"], None, "no suite 'nosuchsuite' (neither a path here nor a shipped suite); suites: accounts, acl, cyradm, health"),
    (["run", "--server", "exim:4"], None, "unknown server 'exim:4'"),
    (["servers", "start", "cyrus:3.6", "-o", "allowusermoves"], None, "expected KEY=VALUE"),
    (["servers", "list"], {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, "no docker engine answers"),
    (["run", "health", "--target", "imap://cyrus@127.0.0.1:9"], {"IMAPWRIGHT_TARGET_PASSWORD": "x"},
     "target 127.0.0.1:9 unreachable"),
    (["run", "health", "--target", "imap://cyrus@127.0.0.1:9"], {"IMAPWRIGHT_TARGET_PASSWORD": ""},
     "target 127.0.0.1:9 unreachable"),
    (["run", "health", "--target", "imap://cyrus:pw@127.0.0.1:9"], None, "must not carry a password"),
    (["migrate", "plan", "/nonexistent/source"], None, "source /nonexistent/source is not a directory"),
    (["migrate", "plan", "/tmp", "--variant", "mboxzz"], None, "unknown mbox variant 'mboxzz'"),
    (["migrate", "apply", "/tmp", "--method", "ftp"], None, "unknown method 'ftp'"),
    (["migrate", "apply", "/tmp", "--users", "/nonexistent/users"], None, "cannot read user list"),
    (["load", "storm"], None, "no load scenario 'storm'; scenarios: delivery, mixed"),
    (["load", "delivery", "--users", "0"], None, "--users must be positive"),
    (["load", "mixed", "--mix", "select=x"], None, "mix item 'select=x'"),
    (["load", "large-list", "--mboxlist-db", "berkeley"], None, "--mboxlist-db 'berkeley'"),
    (["load", "delivery", "--target", "imap://cyrus@127.0.0.1:9"], {"IMAPWRIGHT_TARGET_PASSWORD": "x"},
     "say so with --allow-destructive"),
    (["load", "delivery", "--target", "imap://cyrus@127.0.0.1:9", "--allow-destructive"],
     {"IMAPWRIGHT_TARGET_PASSWORD": "x"}, "target 127.0.0.1:9 unreachable"),
    (["compare", "/nonexistent/run"], None, "give a baseline run and at least one candidate run"),
    (["compare", "/nonexistent/a", "/nonexistent/b"], None, "/nonexistent/a: no run there"),
    (["compare", "/tmp", "/tmp", "--fail-on", "p95-10%"], None, "is an improvement; write p95+10%"),
    (["report", "/nonexistent/run"], None, "/nonexistent/run: no run there"),
    (["upgrade", "cyrus:3.10", "cyrus:3.6"], None, "no upgrade steps known for cyrus:3.10 -> cyrus:3.6"),
    (["upgrade", "cyrus:3.6", "cyrus:3.10", "--size", "huge"], None, "--size 'huge': ci or full"),
    (["upgrade", "cyrus:3.6", "cyrus:3.10", "--users", "2"], None, "--users must be at least 3"),
    (["servers", "start", "--password-file", "/nonexistent/dir/pw"], None,
     "--password-file /nonexistent/dir/pw: folder /nonexistent/dir does not exist"),
    (["run", "health", "--reports", "/proc/reports"], None, "--reports /proc/reports: /proc is not writable"),
    (["run", "health", "--deviations", "/nonexistent/devs"], None, "--deviations /nonexistent/devs: no such folder"),
    (["run", "health", "--log-gate", "sometimes"], None, "--log-gate 'sometimes': one of fail, report, off"),
    (["load-worker", "--master", "garbage"], None, "--master 'garbage': expected HOST:PORT"),
    (["run", "health", "--target", "imaps://cyrus@127.0.0.1:9"], {"IMAPWRIGHT_TARGET_PASSWORD": "x"},
     "target 127.0.0.1:9 unreachable: Connection refused"),
    (["run", "production", "--read-only", "--target", "imap://cyrus@127.0.0.1:9", "--server", "cyrus:3.6"],
     {"IMAPWRIGHT_TARGET_PASSWORD": "x"}, "--read-only checks a --target and nothing else; --server cyrus:3.6"),
])
def test_bad_input_is_one_line(args, env, message):
    result = run_cli(*args, env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imapwright: error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("args,message", [
    ([], "Missing command. (`imapwright --help`)"),
    (["nosuch"], "No such command 'nosuch'."),
    (["servers"], "Missing command. (`imapwright servers --help`)"),
    (["run", "--workers", "abc"], "Invalid value for '--workers'"),
    (["run", "--bogus"], "No such option: --bogus"),
    (["servers", "build"], "Missing argument 'names'."),
])
def test_usage_errors_are_one_line_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imapwright: error: ") and message in lines[0], result.stderr


def test_version_prints_one_line():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == "imapwright 0.1.0"


@pytest.mark.parametrize("args,message", [
    (["load", "delivery", "--duration", "0.5"], "--duration '0.5': at least 1 s"),
    (["load", "delivery", "--duration", "nan"], "--duration 'nan': at least 1 s"),
    (["load", "delivery", "--duration", "xx"], "--duration 'xx': expected seconds or a form like 30s, 5m, 1h30m"),
    (["load", "delivery", "--duration", "25h"], "at most 24 hours"),
    (["load", "delivery", "--spawn-rate", "-1"], "--spawn-rate -1: must be positive"),
    (["load", "capacity", "--step-users", "0"], "--step-users 0: must be positive"),
    (["load", "capacity", "--p95-ms", "-1"], "--p95-ms -1: must be positive"),
    (["load", "mixed", "--knob", "thnik=0"], "--knob thnik: no such knob; known: delivery_pause, idle_seconds, imap_pipeline"),
    (["load", "mixed", "--knob", "imap_loop=0"], "--knob imap_loop: no such knob"),
    (["load", "delivery", "--reports", "/etc/hostname"], "--reports /etc/hostname: exists and is not a folder"),
    (["run", "health", "--reports", "/etc/hostname"], "--reports /etc/hostname: exists and is not a folder"),
    (["upgrade", "cyrus:3.6", "cyrus:3.10", "--reports", "/etc/hostname"], "exists and is not a folder"),
    (["admin", "addusers", "/etc/hostname", "--quota", "-5"], "--quota -5: cannot be negative"),
    (["admin", "checkpoint", "/tmp", "--keep", "-3", "--dry-run"], "--keep -3: must be positive"),
    (["compare", "/tmp", "/tmp", "--out", "/etc/hostname"], "--out /etc/hostname: exists and is not a folder"),
    (["migrate", "forwards", "/nonexistent"], "source /nonexistent is not a directory"),
    (["snapshot"], "give --users FILE or --all"),
    (["snapshot", "--all", "-o", "/tmp"], "--output /tmp: is a folder"),
    (["diff", "/nonexistent", "/tmp/x"], "/nonexistent: no such snapshot"),
    (["diff", "/etc/hostname", "/etc/hostname"], "/etc/hostname: not a snapshot"),
])
def test_parameters_are_checked_before_work_starts(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imapwright: error: ") and message in lines[0], result.stderr


def test_durations_in_locust_forms():
    from imapwright.params import duration

    assert [duration(t) for t in ("30", "30s", "5m", "1h30m", "2.5")] == [30, 30, 300, 5400, 2.5]


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


def test_migration_plan_lists_every_problem_and_exits_1(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "INBOX").write_bytes(b"From a Sun Nov 29 07:44:52 2026\nSubject: x\n\ncut")
    (tmp_path / "ann" / "work").write_bytes(b"From a Sun Nov 29 07:44:52 2026\nSubject: z\n\nalso cut")
    (tmp_path / "ann" / "ok").write_bytes(b"From a Sun Nov 29 07:44:52 2026\nSubject: y\n\nfine\n\n")
    result = run_cli("migrate", "plan", str(tmp_path))
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 2 and all("cut short" in p for p in problems) and "/work:" in problems[1]
    assert "ann\tok\t-> ok\t1 messages" in result.stdout
    # with --on-error stop, apply refuses with the first problem, before it needs a server at all
    applied = run_cli("migrate", "apply", str(tmp_path), "--target", "imap://cyrus@127.0.0.1:9", "--on-error",
                      "stop", env={"IMAPWRIGHT_TARGET_PASSWORD": "x"})
    assert applied.returncode == 2
    assert applied.stderr.strip().endswith("(and 1 more; `imapwright migrate plan` lists them)")


class _Responder:
    """A listener on a free loopback port that speaks some other protocol (or IMAP badly)."""

    def __init__(self, banner: bytes, reply: bytes = b"", wait_for_request: bool = False):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.banner, self.reply, self.wait = banner, reply, wait_for_request
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    if self.wait:
                        conn.recv(1024)
                    conn.sendall(self.banner)
                    while self.reply:
                        data = conn.recv(1024)
                        if not data:
                            break
                        for line in data.splitlines():
                            tag = line.split(b" ", 1)[0]
                            conn.sendall(tag + b" " + self.reply + b"\r\n")
                except OSError:
                    pass


@pytest.mark.parametrize("banner,reply,wait,message", [
    (b"220 box ESMTP Postfix (Debian/GNU)\r\n", b"", False, "is not an IMAP server: an SMTP or LMTP server answered"),
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", b"", False, "is not an IMAP server: an SSH server answered"),
    (b"HTTP/1.0 400 Bad Request\r\n\r\n", b"", True, "no greeting within 5 s; an HTTP server answered"),
    (b"* BYE too many connections\r\n", b"", False, "the server refused the connection"),
    (b"* OK [CAPABILITY IMAP4rev1] odd server ready\r\n", b"BAD command unknown", False, "BAD"),
], ids=["smtp", "ssh", "http", "bye", "imap-bad"])
def test_port_that_is_not_imap_is_one_line(banner, reply, wait, message):
    responder = _Responder(banner, reply, wait)
    result = run_cli("run", "health", "--target", f"imap://cyrus@127.0.0.1:{responder.port}",
                     env={"IMAPWRIGHT_TARGET_PASSWORD": "x"})
    responder.sock.close()
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"imapwright: error: target 127.0.0.1:{responder.port}") and message in lines[0]


def test_non_ascii_password_is_one_line():
    responder = _Responder(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    result = run_cli("run", "health", "--target", f"imap://cyrus@127.0.0.1:{responder.port}",
                     env={"IMAPWRIGHT_TARGET_PASSWORD": "pässwort"})
    responder.sock.close()
    assert result.returncode == 2
    assert result.stderr.strip() == ("imapwright: error: IMAPWRIGHT_TARGET_PASSWORD holds non-ASCII characters; "
                                     "IMAP LOGIN cannot carry them")


def test_commands_that_need_docker_say_what_to_install_where_there_is_none(tmp_path):
    """No docker package importable, no engine, no docker tools on PATH (issue 26): one line each,
    naming what to install."""
    hidden = tmp_path / "hide"
    (hidden / "docker").mkdir(parents=True)
    (hidden / "docker" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'docker'\", name='docker')\n")
    without_package = run_cli("servers", "list", env={"PYTHONPATH": str(hidden)})
    assert without_package.returncode == 1 and "Traceback" not in without_package.stderr
    [line] = without_package.stderr.strip().splitlines()
    assert "needs the docker Python package" in line and "pip install docker" in line
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "imapwright").symlink_to(shutil.which("imapwright"))
    python = os.path.realpath(sys.executable)
    without_engine = subprocess.run([python, "-m", "imapwright", "servers", "list"], capture_output=True, text=True,
                                    timeout=60, env={**os.environ, "PATH": str(tools),
                                                                      "DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert without_engine.returncode != 0, without_engine.stderr
    [line] = without_engine.stderr.strip().splitlines()
    assert "needs a docker engine; none answers" in line and "apt-get install docker.io" in line


def test_outputs_land_in_the_current_folder_not_the_install_tree(tmp_path):
    """diff and compare write under ./reports of where they are run (issue 26), or IMAPWRIGHT_REPORTS."""
    import json

    snapshot = {"kind": "snapshot", "server": {"family": "cyrus", "version": "3.6.1"}, "accounts": {}}
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(snapshot))
    done = subprocess.run(["imapwright", "diff", "a.json", "b.json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if k != "IMAPWRIGHT_REPORTS"})
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "reports").glob("diff-*/diff.html")] == ["diff.html"]
    elsewhere = tmp_path / "elsewhere"
    done = subprocess.run(["imapwright", "diff", "a.json", "b.json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "IMAPWRIGHT_REPORTS": str(elsewhere)})
    assert done.returncode == 0, done.stderr
    assert len(list(elsewhere.glob("diff-*/diff.json"))) == 1


def test_an_interrupted_command_says_what_its_own_rerun_does(tmp_path):
    """Ctrl-C (issue 27, item 9): snapshot names its own resume, not a migration's."""
    import signal
    import socket
    import time

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never greets: the command waits
    port = silent.getsockname()[1]
    out = tmp_path / "snap.json"
    # SIGINT as a terminal delivers it: a run started in the background (`nohup ... &`) passes it
    # on ignored, and Python then never raises KeyboardInterrupt (tests/integration/test_interrupt.py).
    proc = subprocess.Popen(["imapwright", "snapshot", "--all", "-o", str(out), "--target", f"imap://cyrus@127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": "x"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        conn, _ = silent.accept()
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        silent.close()
    assert proc.returncode == 130, err
    [line] = err.strip().splitlines()
    assert line == f"imapwright: interrupted; a re-run with -o {out} resumes from snap.json.partial"
    assert "migration" not in err


def test_an_interrupt_after_the_results_are_written_keeps_their_status(capsys):
    """Issue 27, item 13: the exit status agrees with the report the command already wrote."""
    from imapwright.cli import _interrupted
    from imapwright.cli.app import Interrupt

    Interrupt.written(1)
    try:
        with pytest.raises(SystemExit) as ended:
            _interrupted()
    finally:
        Interrupt.final = None
    assert ended.value.code == 1
    assert "interrupted after the results were written; exit status 1" in capsys.readouterr().err


def test_a_plain_url_to_an_imaps_port_says_it_may_be_imaps(tmp_path):
    """Issue 27, item 11: a TLS port waits for the client's hello; say so instead of "no greeting"."""
    import socket
    import ssl
    import threading

    from imapwright.servers.tls import RunCA

    credentials = RunCA().issue("127.0.0.1")
    (tmp_path / "cert.pem").write_text(credentials.cert_pem)
    (tmp_path / "key.pem").write_text(credentials.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held = []

    def handshake(conn):
        conn.settimeout(10)
        try:
            held.append(context.wrap_socket(conn, server_side=True))  # a handshake, then silence
        except OSError:
            conn.close()

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handshake, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        result = run_cli("run", "health", "--target", f"imap://cyrus@127.0.0.1:{port}",
                         env={"IMAPWRIGHT_TARGET_PASSWORD": "x"})
    finally:
        listener.close()
    assert result.returncode != 0 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"answers TLS: an IMAPS port? give it as imaps://127.0.0.1:{port}" in line


def test_a_worker_without_a_master_says_where_it_waits_and_gives_up_or_stops_cleanly():
    """Issue 27, item 2: not silent, bounded, and a SIGTERM is one line, not two tracebacks."""
    import signal
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gave_up = run_cli("load-worker", "--master", f"127.0.0.1:{port}", "--master-wait", "1")
    assert gave_up.returncode != 0 and "Traceback" not in gave_up.stderr
    lines = gave_up.stderr.strip().splitlines()
    assert lines[0] == f"imapwright load-worker: waiting for the master at 127.0.0.1:{port} (up to 1 s, --master-wait)"
    assert lines[1].startswith(f"imapwright: error: no master answered at 127.0.0.1:{port} within 1 s") and len(lines) == 2
    proc = subprocess.Popen(["imapwright", "load-worker", "--master", f"127.0.0.1:{port}"], stderr=subprocess.PIPE,
                            text=True)
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "imapwright: interrupted"


@pytest.mark.parametrize("command", [["run", "health", "--reports", "{r}"], ["load", "delivery", "--reports", "{r}"],
                                     ["upgrade", "cyrus:3.6", "cyrus:3.10", "--reports", "{r}"],
                                     ["migrate", "apply", "/tmp", "--target", "imap://cyrus@127.0.0.1:1",
                                      "--report", "{r}/m.json"]],
                         ids=["run", "load", "upgrade", "migrate-apply"])
def test_a_malformed_log_noise_entry_is_one_line_before_any_test(tmp_path, command):
    """Every command that judges a server's log takes --deviations, checked before it starts anything."""
    (tmp_path / "cyrus.toml").write_text('[[log_noise]]\npattern = "("\nreason = "r"\nreference = "x"\n')
    result = run_cli(*[a.format(r=tmp_path / "r") for a in command], "--deviations", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"imapwright: error: {tmp_path}/cyrus.toml: log_noise #1: missing ), "
                                     "unterminated subpattern at position 0")
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
