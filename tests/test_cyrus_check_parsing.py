from imapwright.servers.cyrus_tools import check_problems as cyrus_check_problems

# Output recorded from cyrus:3.6: a clean account, then one with a corrupted quota and a stray file.
CLEAN = """\
   Quota   % Used     Used             Resource Root
    1000        0        7              STORAGE user.bob
                         2              MESSAGE user.bob
                         0 X-ANNOTATION-STORAGE user.bob
                         2        X-NUM-FOLDERS user.bob
@@reconstruct
user.bob
user.bob.sub
"""
BROKEN = """\
   Quota   % Used     Used             Resource Root
user.bob: STORAGE usage was 80310, now 8031
    1000        0        7              STORAGE user.bob
@@reconstruct
user.bob
user.bob.sub uid 1 guid mismatch
user.bob.sub uid 2 found - adding
user.bob.sub
"""

MAILBOXES = {"user.bob", "user.bob.sub", "user.bob.with space"}


def test_clean_output_has_no_problems():
    assert cyrus_check_problems(CLEAN, MAILBOXES) == []


def test_repairs_are_problems():
    assert cyrus_check_problems(BROKEN, MAILBOXES) == [
        "quota -f: user.bob: STORAGE usage was 80310, now 8031",
        "reconstruct: user.bob.sub uid 1 guid mismatch",
        "reconstruct: user.bob.sub uid 2 found - adding",
    ]


def test_other_users_mailboxes_are_problems():
    assert cyrus_check_problems("@@reconstruct\nuser.mallory\n", MAILBOXES) == ["reconstruct: user.mallory"]


def test_mailbox_names_with_spaces_are_walks_not_repairs():
    assert cyrus_check_problems("@@reconstruct\nuser.bob.with space\n", MAILBOXES) == []


def test_mailbox_names_with_trailing_spaces_are_names_not_problems():
    from imapwright.servers.cyrus_tools import check_problems as cyrus_check_problems
    output = "@@reconstruct\nuser.bob\nuser.bob.b \nuser.bob.b .x\n"
    assert cyrus_check_problems(output, {"user.bob", "user.bob.b ", "user.bob.b .x"}) == []
    assert cyrus_check_problems(output, {"user.bob", "user.bob.b .x"}) == ["reconstruct: user.bob.b "]
