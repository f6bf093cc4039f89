"""A server given as --target is judged exactly as the same catalogue server given as --server:
same family and version (so the same deviations and requirements apply), same verdict test for
test, except tests that need a private server of their own (skipped on a target, with the reason)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imapwright.servers.target import format_target

ROOT_DIR = Path(__file__).resolve().parents[2]

SUITES = ["suites/health", "suites/acl", "suites/quota", "suites/partitions"]
PRIVATE = "needs a server imapwright starts"


def _run(tmp_path, name: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, dict]:
    out = tmp_path / name
    cmd = [sys.executable, "-m", "pytest", *SUITES, "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT_DIR),
           f"--imapwright-report={out}", *args]
    subprocess.run(cmd, cwd=ROOT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    summary = json.loads((out / "summary.json").read_text())
    return summary, {c["test"]: c for c in summary["checks"]}


@pytest.mark.requires("exec")
def test_target_gets_the_verdicts_of_the_same_catalogue_server(server, tmp_path):
    if not server.owned:
        pytest.skip("gives a server imapwright started as a --target; this run's server is a target already")
    url = format_target(server.admin_user, server.imap, lmtp=server.lmtp, sieve=server.sieve,
                        exec_=f"docker:{server.container.name}")
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    target_summary, as_target = _run(tmp_path, "target", ["--target", url, "--allow-destructive"], env)
    _, as_server = _run(tmp_path, "server", ["--server", server.name])
    # The target says who it is: the version the image reports, from the server itself.
    assert target_summary["servers"]["target"].startswith(f"{server.family_name} {server.version} (version from ")
    assert set(as_target) == set(as_server)
    differ = []
    for test, mine in as_server.items():
        theirs = as_target[test]
        if theirs["outcome"] == "skipped" and PRIVATE in theirs["message"]:
            continue
        if theirs["outcome"] != mine["outcome"]:
            differ.append(f"{test}: {mine['outcome']} as --server, {theirs['outcome']} as --target "
                          f"({theirs['message'][:200]})")
    assert not differ, "\n".join(differ)
    assert sum(c["outcome"] == "passed" for c in as_target.values()) > 50


@pytest.mark.requires("dovecot")
def test_a_target_that_does_not_say_its_version_is_refused_until_stated(server, tmp_path):
    """Dovecot names no version over IMAP: without an exec channel the run cannot tell which
    version-scoped deviations apply, and says so; --target-version settles it."""
    if not server.owned:
        pytest.skip("gives a server imapwright started as a --target; this run's server is a target already")
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    url = format_target(server.admin_user, server.imap, lmtp=server.lmtp)
    cmd = ["imapwright", "run", "health", "--target", url, "--allow-destructive", "--reports", str(tmp_path)]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("imapwright: error: the server's version is unknown and "
                                             "fixtures/deviations/dovecot.toml scopes")
    stated = subprocess.run(cmd + ["--target-version", server.version, "--pytest-arg=-k", "--pytest-arg=noop"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert stated.returncode == 0, stated.stdout[-2000:]
    assert f"target: dovecot {server.version} (version from stated)" in stated.stderr + stated.stdout
