"""The quota accounting tests notice corrupted usage on their own (not only the repair test).

An inner pytest run (a subprocess: the fault patches the suite's helper) damages the usage Cyrus
stores after every successful APPEND, with the after-test consistency check switched off.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "quota" / "test_accounting.py"

CORRUPTING_PLUGIN = '''
from imapwright.servers.faults import quota as faults
from suites.quota import account

_append = account.QuotaAccount.append


def append_then_corrupt(self, size, folder=""):
    ok = _append(self, size, folder)
    if ok:
        faults.set_stored_storage(self.server, self.model.root_of(self.key(folder)), 7_777_777)
    return ok


account.QuotaAccount.append = append_then_corrupt
'''


def test_corrupted_usage_turns_the_accounting_tests_red(pytester, monkeypatch):
    pytester.makepyfile(corrupt_usage=CORRUPTING_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{pytester.path}")
    result = pytester.runpytest_subprocess(
        str(SUITE), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "corrupt_usage",
        "--server", "cyrus:3.6", "--no-consistency-check", "-k", "append or expunge or deleting or copy")
    failed = {line.split("::")[1].split("[")[0] for line in result.outlines if line.startswith("FAILED ")}
    assert failed == {"test_usage_after_append", "test_usage_after_copy_and_move", "test_usage_after_expunge",
                      "test_usage_after_deleting_a_folder"}, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines(["*STORAGE*7595*"])  # 7_777_777 bytes as Cyrus reports kilobytes
