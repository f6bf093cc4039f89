"""The managed-server API later suites stand on: restart, kill, reconfigure, files, logs, exec."""

from datetime import UTC, datetime, timedelta

import imapclient
import pytest

from imapwright.protocol.imap import command
from imapwright.servers.target import target_url


def test_exec_runs_as_server_user(server):
    res = server.exec(["id", "-un"])
    assert res.exit_code == 0
    assert res.stdout.strip() == server.tool_user


def test_exec_reports_failure_status(server):
    assert server.exec(["sh", "-c", "exit 7"]).exit_code == 7


def test_file_write_read_truncate_delete(server):
    path = "/tmp/imapwright-file-test"
    server.write_file(path, b"0123456789")
    assert server.read_file(path) == b"0123456789"
    server.truncate_file(path, 4)
    assert server.read_file(path) == b"0123"
    assert "imapwright-file-test" in server.list_dir("/tmp")
    server.delete_file(path)
    with pytest.raises(FileNotFoundError):
        server.read_file(path)


def test_logs_window_holds_only_lines_since_its_start(server, users, login):
    early = users.create("early")
    login(early)
    assert server.wait_for_log(early.name, since=datetime.now(UTC) - timedelta(seconds=30))
    window = datetime.now(UTC)
    late = users.create("late")
    login(late)
    assert server.wait_for_log(late.name, since=window), "the later login is not in the window"
    lines = server.logs(since=window)
    assert all(line.time >= window for line in lines)
    assert not any(early.name in line.message for line in lines), "a line from before the window"


def test_restart_keeps_data(private_server):
    with private_server.admin_imap() as admin:
        admin.create_folder("keepme")
    private_server.restart()
    with private_server.admin_imap() as admin:
        assert admin.folder_exists("keepme")


def test_kill_then_start_keeps_data(private_server):
    with private_server.admin_imap() as admin:
        admin.create_folder("crashproof")
    private_server.kill()
    with pytest.raises(OSError):
        private_server.imap_client(timeout=2)
    private_server.start()
    with private_server.admin_imap() as admin:
        assert admin.folder_exists("crashproof")


@pytest.mark.requires("cyrus")
def test_reconfigure_switches_allowusermoves(private_server):
    # The environment notes: RENAME of an account is refused unless allowusermoves is on.
    private_server.create_user("bob", "pw-bob-1")
    with private_server.admin_imap() as admin:
        typ, _ = command(admin, "RENAME", '"user.bob"', '"user.robert"')
        assert typ == "NO"
    private_server.reconfigure(allowusermoves=True)
    with private_server.admin_imap() as admin:
        typ, data = command(admin, "RENAME", '"user.bob"', '"user.robert"')
        assert typ == "OK", data
        assert admin.folder_exists("user.robert")


def test_stop_removes_container_and_volume(private_server):
    from imapwright.servers import engine

    name, volume = private_server.container.name, private_server.volume_name
    private_server.stop()
    assert not any(item.name in (name, volume) for item in engine.find([engine.LABEL_MANAGED]))
    with pytest.raises(OSError):
        imapclient.IMAPClient(private_server.imap.host, port=private_server.imap.port, timeout=2)


def test_cli_refuses_wrong_target_password_in_one_line(server):
    import os
    import subprocess

    result = subprocess.run(
        ["imapwright", "run", "health", "--target", target_url(server)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password + "-wrong"})
    assert result.returncode != 0
    assert result.stderr.strip() == (f"imapwright: error: target {server.imap}: login as {server.admin_user} "
                                     "refused (wrong password?)")


@pytest.mark.requires("dovecot")
def test_dovecot_master_login_acts_as_user(server, users):
    user = users.create()
    client = server.login(f"{user.name}*{server.admin_user}", server.admin_password)
    try:
        assert client.folder_exists("INBOX")
        client.select_folder("INBOX")
    finally:
        client.logout()
    # 2.3 logs "Login: user=<NAME>", 2.4 "Logged in: user=<NAME>".
    lines = server.wait_for_log(f"user=<{user.name}>", since=datetime.now(UTC) - timedelta(seconds=10))
    assert any("Login: " in line.message or "Logged in: " in line.message for line in lines), lines


def test_a_setting_replaces_the_images_own_line():
    """-o defaultpartition=second: the image's imapd.conf already sets the key; Cyrus refuses a key
    given twice, so the start-time setting must replace it (new accounts land on 'second')."""
    from imapwright.catalogue import lookup
    from imapwright.servers.managed import start_server

    server = start_server(lookup("cyrus:3.6"), {"defaultpartition": "second"})
    try:
        conf = server.exec(["grep", "-c", "^defaultpartition:", "/etc/imapd.conf"]).stdout.strip()
        assert conf == "1"
        with server.admin_imap() as admin:
            admin.create_folder("user.partcheck")
        assert server.mailbox_path("user.partcheck").startswith(server.partitions()["second"])
    finally:
        server.stop()


def test_a_setting_that_breaks_start_up_names_the_servers_last_words():
    from imapwright.catalogue import lookup
    from imapwright.errors import ServerError
    from imapwright.servers.managed import start_server

    with pytest.raises(ServerError) as failed:
        start_server(lookup("cyrus:3.6"), {"configdirectory": "/nonexistent"})
    message = str(failed.value)
    assert "server cannot start" in message and "Fatal error: can't open global annotations database" in message
