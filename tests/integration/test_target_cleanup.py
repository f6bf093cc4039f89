"""On a server imapwright did not start, destructive suites leave nothing of theirs behind."""

import json

import pytest

from imapwright.protocol.imap import list_names
from imapwright.servers.target import format_target

INNER = '''
import json, pathlib
def test_makes_users(users, admin_imap):
    made = [users.create("a"), users.create("b")]
    for u in made:
        admin_imap.create_folder(u.mailbox + ".drafts")
    pathlib.Path({out!r}).write_text(json.dumps([u.name for u in made]))
'''


@pytest.mark.requires("exec")
def test_target_run_removes_its_users(pytester, server, monkeypatch, tmp_path):
    if not server.owned:
        pytest.skip("gives a server imapwright started as a --target; this run's server is a target already")
    out = tmp_path / "made.json"
    pytester.makepyfile(test_inner=INNER.format(out=str(out)))
    monkeypatch.setenv("IMAPWRIGHT_TARGET_PASSWORD", server.admin_password)
    url = format_target(server.admin_user, server.imap, exec_=f"docker:{server.container.name}")
    result = pytester.runpytest("-p", "no:benchmark", "--rootdir", str(pytester.path), "--target", url,
                                "--allow-destructive", "-W", "error::UserWarning")
    result.assert_outcomes(passed=1)
    made = json.loads(out.read_text())
    assert len(made) == 2
    # Files first: on Dovecot 2.4 the admin's LIST of user.NAME* makes the (empty) home again.
    for name in made:
        assert server.exec(["sh", "-c", f"ls -d /srv/imapwright/users/{name} /srv/imapwright/home/{name} 2>/dev/null"],
                           user="root").stdout == ""
    with server.admin_imap() as admin:
        for name in made:
            assert list_names(admin, f"{server.user_mailbox(name)}*") == []
