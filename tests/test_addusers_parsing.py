import pytest

from imapwright.admin.addusers import commands_for, read_user_list
from imapwright.errors import UserError


def test_user_list_skips_blank_comments_duplicates_and_invalid(tmp_path):
    f = tmp_path / "users.txt"
    f.write_text("# staff\nabt0003\n\nabt0008\nabt0003\nBad Name\nx.y\n  abt0010  \n")
    listed = read_user_list(f)
    assert listed.users == ["abt0003", "abt0008", "abt0010"]
    assert listed.skipped == ["line 5: duplicate 'abt0003'", "line 6: invalid user name 'Bad Name'",
                              "line 7: invalid user name 'x.y'"]


def test_unreadable_list_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot read user list"):
        read_user_list(tmp_path / "missing.txt")


def test_commands_follow_example_9_1():
    assert commands_for("user.bob", 15360, ("drafts", "sent-mail")) == [
        'CREATE "user.bob"', 'CREATE "user.bob.drafts"', 'CREATE "user.bob.sent-mail"',
        'SETQUOTA "user.bob" (STORAGE 15360)']


def test_reserved_names_are_skipped_with_the_reason(tmp_path):
    f = tmp_path / "users.txt"
    f.write_text("anyone\nann\ncyrus\nadmin\nanonymous\n")
    listed = read_user_list(f)
    assert listed.users == ["ann"]
    assert listed.skipped[0] == "line 1: 'anyone' is reserved (RFC 4314's identifier for every user)"
    assert len(listed.skipped) == 4
