"""The reconstruct outcome checks notice a repair that silently drops or alters a message.

An inner pytest run (a subprocess: the plugin wraps every Cyrus fault's repair) makes the "repair"
also delete one untouched message's file, or change one untouched message's bytes, behind the
server's back; the outcome test has to fail for each, naming what happened.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "reconstruct" / "test_outcomes.py"

BAD_REPAIR_PLUGIN = '''
import dataclasses
import os

from imapwright.servers.faults import spool


def wrap(repair):
    def bad_repair(server, victim):
        result = repair(server, victim)
        path = spool._message_file(server, victim, victim.uids[3])
        if os.environ["IW_BAD_REPAIR"] == "drop":
            server.delete_file(path)
            server.tool("reconstruct", victim.mailbox).check()
        else:
            server.write_file(path, server.read_file(path).replace(b"body of", b"BODY OF"))
        return result
    return bad_repair


spool.CYRUS_FAULTS[:] = [dataclasses.replace(f, repair=wrap(f.repair)) for f in spool.CYRUS_FAULTS]
'''


@pytest.mark.parametrize("mode,says", [("drop", "messages lost: UIDs [4]; of these, with other content under the same UID: []"),
                                       ("alter", "messages lost: UIDs [4]; of these, with other content under the same UID: [4]")])
def test_a_repair_that_loses_or_alters_mail_turns_the_outcome_test_red(pytester, monkeypatch, mode, says):
    pytester.makepyfile(bad_repair=BAD_REPAIR_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{pytester.path}")
    monkeypatch.setenv("IW_BAD_REPAIR", mode)
    result = pytester.runpytest_subprocess(
        str(SUITE), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "bad_repair",
        "--server", "cyrus:3.6", "--no-consistency-check", "-k", "cache-deleted or stray-message")
    failed = sorted(line.split("[")[1].split("]")[0] for line in result.outlines if line.startswith("FAILED "))
    assert failed == ["cyrus:3.6-cyrus-cache-deleted", "cyrus:3.6-cyrus-stray-message"], result.stdout.str()[-2000:]
    assert f"AssertionError: {says}" in result.stdout.str()
