"""The log gate of whole runs (#28 item 2): a crash or database error in the server's log during
a load run, a migration or an upgrade fails that run's verdict, with the lines in its report,
while the run's own checks pass; the same runs without it stay green."""

import json
import os
import threading
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from imapwright.admin import migrate as migrate_mod
from imapwright.admin.upgrade import Step, find_pair, run_upgrade
from imapwright.catalogue import lookup
from imapwright.cli.app import app
from imapwright.load.runner import LoadParams, run_load
from imapwright.servers.target import PASSWORD_ENV, format_target
from imapwright.stores.store import StoreSize

# What each family writes for a database error, marked as the harness's own.
DATABASE_ERROR = {
    "cyrus": ("cyrus/imap", "DBERROR: opening /var/lib/cyrus/mailboxes.db: cyrusdb error (imapwright self-test)"),
    "dovecot": ("dovecot", "imap(selftest)<1><selftest>: Error: Corrupted index file (imapwright self-test)"),
}


def log_database_error(server) -> None:
    tag, text = DATABASE_ERROR[server.family_name]
    assert server.exec(["logger", "-t", tag, text], user="root").exit_code == 0


@pytest.mark.requires("lmtp", "exec", "logs")
@pytest.mark.destructive
@pytest.mark.provokes("crash", reason="kills an IMAP session process during the load run: what it checks")
def test_a_session_killed_during_a_load_run_fails_the_run_whose_deliveries_all_arrived(server, tmp_path):
    if not server.owned:
        pytest.skip("kills a process of the server: only on a server imapwright started")
    with server.admin_imap() as client:  # an IMAP session process to kill (delivery uses LMTP only)
        client.noop()
        killer = threading.Timer(2.0, lambda: server.exec(["pkill", "-SEGV", "-n", "-x", "imapd|imap"], user="root"))
        killer.start()
        try:
            params = LoadParams("delivery", users=2, spawn_rate=10, duration=5, population=2, stop_timeout=10,
                                prefix="crashed")
            out, summary = run_load(server, params, tmp_path, {"name": server.name, "family": server.family_name,
                                                                "version": server.version})
        finally:
            killer.join()
    assert summary["checks"]["passed"], summary["checks"]  # every delivery is where it should be
    health = summary["server_log"]["health"]
    assert health["checked"] and not health["clean"] and health["counts"].get("crash"), health
    assert not summary["passed"]
    page = (out / "index.html").read_text()
    assert "Server health" in page and ("signal 11" in page or "signaled to death" in page)


@pytest.mark.requires("exec", "logs")
@pytest.mark.destructive
@pytest.mark.provokes("error", reason="logs a database error during the migration: what it checks")
def test_a_database_error_during_a_migration_fails_it_though_every_message_arrived(server, users, tmp_path,
                                                                                   monkeypatch):
    if not server.owned:
        pytest.skip("writes into the server's log: only on a server imapwright started")
    user = users.create("mig")
    source = tmp_path / "src"
    (source / user.name).mkdir(parents=True)
    (source / user.name / "INBOX").write_bytes(b"From a Mon Dec  2 15:26:33 2002\nSubject: x\n\nbody\n\n")
    monkeypatch.setenv(PASSWORD_ENV, server.admin_password)
    url = format_target(server.admin_user, server.imap, exec_=f"docker:{server.container.name}")
    argv = ["migrate", "apply", str(source), "--target", url, "--report", str(tmp_path / "clean.json")]
    clean = CliRunner().invoke(app, argv)
    assert clean.exit_code == 0, clean.output
    assert "server log\tclean" in clean.output
    real = migrate_mod.apply_all

    def apply_while_the_server_logs_an_error(srv, *args, **kwargs):
        log_database_error(srv)
        return real(srv, *args, **kwargs)

    monkeypatch.setattr(migrate_mod, "apply_all", apply_while_the_server_logs_an_error)
    argv[-1] = str(tmp_path / "bad.json")
    bad = CliRunner().invoke(app, argv)
    assert bad.exit_code == 1, bad.output
    assert "not migrated" not in bad.output  # the mail is fine: the server's log is not
    assert "server log\t1 error: " in bad.output and "imapwright self-test" in bad.output
    report = json.loads((tmp_path / "bad.json").read_text())
    assert report["server_health"]["counts"] == {"error": 1}


LOG_AN_ERROR = Step("a database error logged", "(the harness's own self-test)", user="root",
                    run=("logger", "-t", DATABASE_ERROR["cyrus"][0], DATABASE_ERROR["cyrus"][1]))


def test_a_database_error_logged_while_the_new_version_runs_fails_the_upgrade(starts_servers):
    pair = find_pair("cyrus:3.6", "cyrus:3.10")
    result = run_upgrade(lookup("cyrus:3.6"), lookup("cyrus:3.10"), StoreSize(6, 2),
                         pair=replace(pair, steps=pair.steps + (LOG_AN_ERROR,)))
    assert result.failed == "" and result.findings == [] and result.problems == []
    assert all(step.ok for step in result.steps)
    assert result.server_health["cyrus:3.6"]["clean"], result.server_health
    assert result.server_health["cyrus:3.10"]["counts"] == {"error": 1}, result.server_health
    assert not result.passed
