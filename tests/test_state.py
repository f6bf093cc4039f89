"""The user's state directory and secrets written there (issue 26): private modes, written whole."""

import os
import stat

import pytest

from imapwright.errors import UserError
from imapwright.params import output_file
from imapwright.state import state_dir, write_secret


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_state_directory_is_private_and_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = state_dir("servers", "x")
    assert folder == tmp_path / "state" / "imapwright" / "servers" / "x"
    assert _mode(tmp_path / "state" / "imapwright") == 0o700 and _mode(folder) == 0o700


def test_a_secret_over_a_readable_file_ends_private(tmp_path):
    path = tmp_path / "pw"
    path.write_text("old\n")
    os.chmod(path, 0o644)
    write_secret(path, "new\n")
    assert path.read_text() == "new\n" and _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["pw"]  # no temporary file left beside it


@pytest.mark.parametrize("where,reason", [("missing/pw", "does not exist"), ("", "is a folder")])
def test_a_password_file_that_cannot_be_written_is_refused_first(tmp_path, where, reason):
    with pytest.raises(UserError, match=reason):
        output_file(tmp_path / where, "--password-file")
