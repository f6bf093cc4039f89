"""The exec channel an admin's staging VM offers: ssh with a key. An sshd (Debian's openssh-server)
runs inside the Cyrus container the harness started, on a loopback port, and the server is given
as a target whose tools and logs are reached only through it: the consistency check sees real
damage, the reconstruct suite and `admin checkpoint` work exactly as through docker:, and a bad
key, an unknown host key and a missing tool are each refused in one line."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from imapwright.errors import UserError
from imapwright.servers import ports
from imapwright.servers.target import connect_target, target_url

pytestmark = pytest.mark.requires("cyrus", "exec")
ROOT_DIR = Path(__file__).resolve().parents[2]
HOST_KEY = "/run/iw-sshd/host_ed25519"


def _keypair(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "imapwright-test", "-f", str(path)],
                   check=True)
    return path


@pytest.fixture
def sshd(server, tmp_path):
    """(ssh URL part, environment): an sshd beside the server, its host key known, a key authorised."""
    if not server.owned:
        pytest.skip("starts an sshd inside a server the harness started")
    key = _keypair(tmp_path / "id_ed25519")
    port = ports.free_port()
    setup = f"""
set -e
mkdir -p /run/sshd /run/iw-sshd /root/.ssh && chmod 700 /root/.ssh
[ -e {HOST_KEY} ] || ssh-keygen -q -t ed25519 -N '' -f {HOST_KEY}
printf '%s\\n' "$1" > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys
/usr/sbin/sshd -p {port} -o ListenAddress=127.0.0.1 -h {HOST_KEY} -o PidFile=/run/iw-sshd/pid \
    -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no
"""
    server.exec(["sh", "-c", setup, "sh", (tmp_path / "id_ed25519.pub").read_text().strip()], user="root").check("sshd")
    host_key = server.read_file(HOST_KEY + ".pub").decode().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    env = {"IMAPWRIGHT_SSH_KEY": str(key), "IMAPWRIGHT_SSH_KNOWN_HOSTS": str(known),
           "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    try:
        yield f"ssh:root@127.0.0.1:{port}", env
    finally:
        server.exec(["sh", "-c", "kill $(cat /run/iw-sshd/pid) 2>/dev/null; rm -f /run/iw-sshd/pid"], user="root")
        ports.release(port)


def _url(server, channel):
    return target_url(server, lmtp=True, exec_=channel)


def _connect(server, sshd, monkeypatch, **env):
    channel, base = sshd
    for k, v in {**base, **env}.items():
        monkeypatch.setenv(k, v)
    return connect_target(_url(server, channel))


def test_tools_files_and_logs_through_ssh(server, users, sshd, monkeypatch):
    target = _connect(server, sshd, monkeypatch)
    try:
        assert target.channel.name.startswith("ssh:root@127.0.0.1:")
        assert target.container is None  # nothing here may reach the server through docker
        assert target.version == server.version
        user = users.create()
        with target.admin_imap() as admin:
            admin.setacl(user.mailbox, target.admin_user, "lrswipkxtecda")
            admin.create_folder(f"{user.mailbox}.sub")
            # With a Date: header: Cyrus 3.2 reports Date-less messages to reconstruct (listed check noise).
            admin.append(f"{user.mailbox}.sub", b"Date: Thu, 03 Dec 2026 01:00:00 +0000\r\nSubject: one\r\n\r\n" + b"x" * 3000)
        assert target.consistency_problems([user.name]) == []
        # Real damage written through the channel (tar over ssh), seen by the check through it.
        path = target.mailbox_path(f"{user.mailbox}.sub")
        target.write_file(path + "/2.", target.read_file(path + "/1."))
        assert any("uid 2 found" in p for p in target.consistency_problems([user.name]))
        target.tool("reconstruct", "-r", user.mailbox).check()
        assert target.consistency_problems([user.name]) == []
        # The password a tool is given travels in the script on stdin, not on any command line.
        target.set_password(user.name, "n3w-secret-pw")
        target.login(user.name, "n3w-secret-pw").logout()
        lines = target.logs()  # the server's syslog, read through ssh
        assert any(f"login: localhost [127.0.0.1] {user.name} plaintext" in line.message for line in lines)
        assert not [line for line in lines if "n3w-secret-pw" in line.message]
    finally:
        target.close_shells()


def _suite(server, channel, env, out: Path) -> dict[str, str]:
    run = subprocess.run([sys.executable, "-m", "pytest", "suites/reconstruct", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(ROOT_DIR), "--target", _url(server, channel), "--allow-destructive",
                          f"--imapwright-report={out}"], cwd=ROOT_DIR, env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:]
    return {c["test"]: c["outcome"] for c in json.loads((out / "summary.json").read_text())["checks"]}


@pytest.mark.provokes("error", reason="runs the reconstruct suite, which damages mailbox files on this server")
def test_reconstruct_suite_and_checkpoint_pass_through_ssh(server, sshd, tmp_path):
    channel, env = sshd
    env = {**os.environ, **env}
    since = datetime.now(timezone.utc)
    through_ssh = _suite(server, channel, env, tmp_path / "ssh")
    # sshd logs each login: the suite's commands went through it, not through docker.
    assert server.wait_for_log("Accepted publickey for root", since=since)
    through_docker = _suite(server, f"docker:{server.container.name}", env, tmp_path / "docker")
    assert through_ssh == through_docker
    assert sum(o == "passed" for o in through_ssh.values()) >= 5, through_ssh
    check = subprocess.run(["imapwright", "admin", "checkpoint", str(tmp_path / "cp"), "--target", _url(server, channel)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert (tmp_path / "cp" / "mailboxes.0.gz").stat().st_size > 0


def test_a_key_the_server_refuses_is_one_line(server, sshd, monkeypatch, tmp_path):
    other = _keypair(tmp_path / "other")
    with pytest.raises(UserError, match=r"^exec channel ssh:root@127\.0\.0\.1:\d+: key refused \(Permission denied\)"):
        _connect(server, sshd, monkeypatch, IMAPWRIGHT_SSH_KEY=str(other))


def test_an_unknown_host_key_is_one_line(server, sshd, monkeypatch, tmp_path):
    (tmp_path / "empty_known_hosts").write_text("")
    with pytest.raises(UserError, match=r"host key unknown or changed"):
        _connect(server, sshd, monkeypatch, IMAPWRIGHT_SSH_KNOWN_HOSTS=str(tmp_path / "empty_known_hosts"))


def test_a_missing_key_file_is_one_line(server, sshd, monkeypatch, tmp_path):
    with pytest.raises(UserError, match=r"IMAPWRIGHT_SSH_KEY=.*: no such file"):
        _connect(server, sshd, monkeypatch, IMAPWRIGHT_SSH_KEY=str(tmp_path / "nope"))


def test_a_tool_missing_on_the_far_side_is_one_line(server, sshd, monkeypatch):
    tool = next(t for t in server.required_tools if t.endswith("/ctl_mboxlist"))
    server.exec(["mv", tool, tool + ".away"], user="root").check()
    try:
        with pytest.raises(UserError, match=r"^exec channel ssh:\S+: missing on the far side: .*/ctl_mboxlist$"):
            _connect(server, sshd, monkeypatch)
    finally:
        server.exec(["mv", tool + ".away", tool], user="root").check()


def test_the_command_line_says_it_in_one_line(server, sshd, tmp_path):
    channel, env = sshd
    env = {**os.environ, **env, "IMAPWRIGHT_SSH_KNOWN_HOSTS": str(tmp_path / "none")}
    run = subprocess.run(["imapwright", "admin", "checkpoint", str(tmp_path / "cp"), "--target", _url(server, channel)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("imapwright: error: exec channel ssh:"), run.stderr
    assert not (tmp_path / "cp").exists()


def test_a_command_over_ssh_leaves_no_ssh_master_and_no_control_folder(server, sshd, tmp_path):
    """Issue 27, item 10: the ControlMaster and its folder end with the command."""
    channel, env = sshd
    import tempfile

    private_tmp = Path(tempfile.mkdtemp(prefix="iwt", dir="/tmp"))  # short: the socket's path must fit
    run = subprocess.run(["imapwright", "admin", "checkpoint", str(tmp_path / "cp"), "--target", _url(server, channel)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, **env, "TMPDIR": str(private_tmp)})
    assert run.returncode == 0, run.stderr
    assert not list(private_tmp.glob("iw-ssh-*"))
    masters = subprocess.run(["pgrep", "-f", f"ControlPath={private_tmp}"], capture_output=True, text=True)
    assert masters.stdout.strip() == "", f"ssh masters still running: {masters.stdout}"
    private_tmp.rmdir()


def test_a_temp_directory_too_long_for_a_socket_path_still_works(server, sshd, tmp_path):
    """Under a long TMPDIR (pytest's own folders are such) the control socket goes to /tmp."""
    channel, env = sshd
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    run = subprocess.run(["imapwright", "admin", "checkpoint", str(tmp_path / "cp"), "--target", _url(server, channel)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, **env, "TMPDIR": str(deep)})
    assert run.returncode == 0, run.stderr


@pytest.mark.requires("lmtp", "mailbox-list")
def test_large_list_load_runs_its_reconstructs_through_ssh(server, sshd, monkeypatch, tmp_path):
    """The Locust processes of `load large-list` reach the server's tools through the target's own
    channel (#30: they used docker whatever the target said, so an ssh target could not run it)."""
    from imapwright.load.runner import LoadParams, run_load

    target = _connect(server, sshd, monkeypatch)
    try:
        since = datetime.now(timezone.utc)
        params = LoadParams("large-list", users=3, spawn_rate=10, duration=8, population=3, stop_timeout=10,
                            mailboxes=100, prefix="sshll")
        _out, summary = run_load(target, params, tmp_path, {"name": "target", "family": target.family_name,
                                                            "version": target.version})
    finally:
        target.close_shells()
    rows = {f"{r['type']} {r['name']}": r for r in summary["stats"]["requests"]}
    for name in ("ADMIN reconstruct one user", "ADMIN reconstruct full list"):
        assert rows.get(name, {}).get("requests", 0) > 0 and rows[name]["failures"] == 0, (name, sorted(rows))
    assert summary["passed"], summary["checks"]
    # The Locust process's own ssh login (the harness's reuses its master connection from before).
    assert server.wait_for_log("Accepted publickey for root", since=since)
    assert summary["parameters"]["options"].get("reconstruct_user")  # the family's command was given
