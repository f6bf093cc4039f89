"""The ACL suite goes red when a server's owner or default rights differ, naming the right.

Cyrus is started with changed `defaultacl` and `implicit_owner_rights`; the suite's own tests
run against it (an inner pytest run) and must fail where those settings matter, and only there.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "acl" / "test_inheritance.py"


def test_changed_default_and_owner_rights_turn_the_acl_tests_red(pytester):
    result = pytester.runpytest(
        str(SUITE), "--rootdir", str(ROOT), "-p", "no:benchmark", "-p", "no:cacheprovider",
        "--server", "cyrus:3.6", "--server-option", "defaultacl=anyone lr",
        "--server-option", "implicit_owner_rights=lkxa", "-rf")
    failed = {line.split("::")[1].split("[")[0] for line in result.outlines if line.startswith("FAILED ")}
    assert failed == {"test_toplevel_mailbox_gets_the_default_acl",
                      "test_owner_keeps_implicit_rights_after_its_entry_is_deleted"}, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*anyone: server lacks 's'*"])
    result.stdout.fnmatch_lines(["*GETACL owner entry: server lacks 'n'*"])


def test_default_settings_keep_them_green(pytester):
    result = pytester.runpytest(str(SUITE), "--rootdir", str(ROOT), "-p", "no:benchmark", "-p", "no:cacheprovider",
                                "--server", "cyrus:3.6")
    result.assert_outcomes(passed=7)
