"""An admin's upgrade, done with the commands an admin has: the upgrade store on cyrus:3.6 is
snapshotted as an external target, the server is upgraded in place to cyrus:3.10 (the harness's
documented steps), snapshotted again after one flag was changed by hand, and `imapwright diff
--expect` reports exactly that flag (and nothing the upgrade did)."""

import json
import os
import subprocess

from imapwright.admin.upgrade import run_upgrade
from imapwright.catalogue import lookup
from imapwright.stores.store import StoreSize
from imapwright.servers.target import target_url


def test_snapshot_diff_across_an_in_place_upgrade(tmp_path, starts_servers):
    taken = {}

    def observe(stage, server, store):
        users = tmp_path / "users.txt"
        users.write_text("\n".join(sorted(store.accounts)) + "\n")
        if stage == "after":  # the hand-made change an admin's diff must show
            first = sorted(store.accounts)[0]
            with server.user_session(first) as own:
                own.select_folder("INBOX")
                own.add_flags(own.search()[:1], [b"$ByHand"])
        env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
        url = target_url(server, exec_=True)
        run = subprocess.run(["imapwright", "snapshot", "--target", url, "--users", str(users), "-o",
                              str(tmp_path / f"{stage}.json")], capture_output=True, text=True, env=env, timeout=600)
        taken[stage] = run

    result = run_upgrade(lookup("cyrus:3.6"), lookup("cyrus:3.10"), StoreSize.named("ci"), observe=observe)
    assert all(run.returncode == 0 for run in taken.values()), {k: v.stderr for k, v in taken.items()}
    assert json.loads((tmp_path / "before.json").read_text())["server"]["version"].startswith("3.6")
    assert json.loads((tmp_path / "after.json").read_text())["server"]["version"].startswith("3.10")
    diff = subprocess.run(["imapwright", "diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"),
                           "--expect", "cyrus:3.6->cyrus:3.10", "--out", str(tmp_path / "diff")],
                          capture_output=True, text=True, timeout=120)
    found = [line for line in diff.stdout.splitlines() if line.startswith("difference: ")]
    assert diff.returncode == 1 and found and all("$ByHand" in line for line in found), diff.stdout
    # The harness's own comparison saw the same change, and nothing else.
    assert result.findings and all("$ByHand" in f for f in result.findings), result.findings
