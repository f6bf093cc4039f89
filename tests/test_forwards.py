"""fwd2alias: .forward files to an aliases file, odd entries reported, never fatal."""

from imapwright.admin.forwards import forwards


def test_forward_files_become_aliases_and_problems_are_reported(tmp_path):
    for user, text in {"alice": "alice@elsewhere.org, \\alice\n", "bob": "# moved\nbob@new.example\n",
                       "carol": '"|/usr/bin/vacation carol"\ncarol@x.org\n/var/tmp/carol.mbox\n',
                       "dave": "not an address at all\n"}.items():
        (tmp_path / user).mkdir()
        (tmp_path / user / ".forward").write_text(text)
    (tmp_path / "erin").mkdir()
    (tmp_path / "frank").mkdir()
    (tmp_path / "frank" / ".forward").symlink_to(tmp_path / "nowhere")
    result = forwards(tmp_path)
    assert result.aliases == ("alice: alice@elsewhere.org, \\alice\nbob: bob@new.example\ncarol: carol@x.org\n")
    problems = "\n".join(result.problems)
    assert "pipe '|/usr/bin/vacation carol' not carried" in problems
    assert "file '/var/tmp/carol.mbox' not carried" in problems
    assert "'not an address at all' is not an address" in problems
    assert "erin: no .forward" in problems
    assert "frank/.forward: unreadable" in problems
