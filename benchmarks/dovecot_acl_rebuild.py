"""The measurement behind the Dovecot 2.3 -> 2.4 upgrade step "ACL lists and the shared-mailbox
dictionary rebuilt before users log in" (fixtures/upgrade/pairs.toml), its variants side by side
in one run on one store.

One CI-size store is made on dovecot:2.3 and snapshotted. Then, in turns, its volume is copied and
dovecot:2.4 started on the copy with the pair's steps:

  pairs.toml     as the file has them (dovecot-acl-list files removed, then doveadm acl recalc)
  recalc only    the step's `doveadm acl recalc` without removing the lists
  no ACL step    the guide's steps alone

During the next snapshot (--connections at once, as many users logging in together after the
upgrade) a watcher in the container counts rewrites of the shared-mailbox dictionary (new inodes,
polled every 5 ms), and the comparison with the 2.3 snapshot counts sharers who did not see a
folder shared with them. --burn N runs N busy loops beside it: CI's load, which makes the race
show. Measured 2026-11-29 (2 cores, --burn 3): see benchmarks/README.md.

    python3 benchmarks/dovecot_acl_rebuild.py [--rounds 4] [--burn 3] [--connections 16]

Writes results.json under reports/benchmarks/dovecot-acl-rebuild-<time>/.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from imapwright.stores.snapshot import store_snapshot
from imapwright.stores.store import StoreSize, populate_store
from imapwright.admin.upgrade import Pair, Step, classify, find_pair, run_step
from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.servers import engine
from imapwright.servers.managed import start_server

console = Console(width=120)
ROOT = Path(__file__).resolve().parent.parent
DICT = "/srv/imapwright/shared/shared-mailboxes.db"
# Inode changes of the dictionary file (each commit renames a new file over it), every 5 ms.
WATCH = (f'last=; while :; do i=$(stat -c %i {DICT} 2>/dev/null); '
         f'[ "$i" != "$last" ] && echo "$i" >> /run/dict-rewrites && last=$i; sleep 0.005; done')


def variants(pair: Pair) -> dict[str, tuple[Step, ...]]:
    ours = [s for s in pair.steps if s.why]
    if len(ours) != 1:
        raise UserError("expected exactly one dovecot:2.3 -> dovecot:2.4 step with a `why` in pairs.toml")
    guide = tuple(s for s in pair.steps if not s.why)
    recalc_only = replace(ours[0], name="doveadm acl recalc only", run=(
        "sh", "-c", "ls /srv/imapwright/users > /run/imapwright-users && doveadm acl recalc -F /run/imapwright-users"))
    return {"pairs.toml": pair.steps, "recalc only": guide + (recalc_only,), "no ACL step": guide}


def copy_volume(source: str, image: str) -> str:
    """A copy of the 2.3 store's volume, labelled like the harness's own (prune finds a leftover)."""
    name = f"imapwright-dovecot-acl-bench-{secrets.token_hex(4)}"
    engine.client().volumes.create(name, labels={engine.LABEL_MANAGED: "1", engine.LABEL_OWNER_PID: str(os.getpid())})
    engine.client().containers.run(image, ["cp", "-a", "/a/.", "/b/"], entrypoint=[], network_mode="none", remove=True,
                                   volumes={source: {"bind": "/a", "mode": "ro"}, name: {"bind": "/b", "mode": "rw"}})
    return name


def one_upgrade(volume: str, steps: tuple[Step, ...], before: dict, accounts: dict, expected, connections: int) -> dict:
    new = start_server(lookup("dovecot:2.4"), volume=volume)
    try:
        since = datetime.now(UTC)
        results = [run_step(new, step, since) for step in steps]
        failed = [r.name for r in results if not r.ok]
        new.container.exec_run(["sh", "-c", WATCH], detach=True)
        after = store_snapshot(new, accounts, connections=connections)
        rewrites = new.exec(["sh", "-c", "sort -u /run/dict-rewrites | wc -l"], user="root").stdout.strip()
        findings = classify(before, after, expected).findings
        return {"failed_steps": failed, "findings": findings, "dict_rewrites": max(0, int(rewrites or 1) - 1),
                "not_seen": sum("no longer visible" in f for f in findings)}
    finally:
        new.stop()
        engine.client().volumes.get(volume).remove(force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="upgrades per variant (taken in turns)")
    parser.add_argument("--burn", type=int, default=3, help="busy loops beside the run (CI's load)")
    parser.add_argument("--connections", type=int, default=16, help="snapshot connections after the upgrade")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    try:
        if args.rounds < 1 or args.burn < 0 or args.connections < 1:
            raise UserError("--rounds and --connections must be at least 1, --burn at least 0")
        pair = find_pair("dovecot:2.3", "dovecot:2.4")
        kinds = variants(pair)
    except UserError as exc:
        print(f"dovecot_acl_rebuild: error: {exc}", file=sys.stderr)
        return 2
    rows: dict[str, list[dict]] = {k: [] for k in kinds}
    old = start_server(lookup("dovecot:2.3"))
    burners: list[subprocess.Popen] = []
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("2.3 store", total=None)
            store = populate_store(old, StoreSize.named("ci"))
            old.restart()  # its snapshot shows what 2.3 keeps on disk
            before = store_snapshot(old, store.accounts)
            old.stop(keep_data=True)
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burn)]
            progress.update(task, description="upgrades", total=args.rounds * len(kinds), completed=0)
            for _ in range(args.rounds):
                for kind, steps in kinds.items():  # in turns, so drift in the machine's load hits all alike
                    volume = copy_volume(old.volume_name, lookup("dovecot:2.4").image_tag)
                    rows[kind].append(one_upgrade(volume, steps, before, store.accounts, pair.expected,
                                                  args.connections))
                    progress.advance(task)
    finally:
        for b in burners:
            b.kill()
        old.stop()

    table = Table(title=f"dovecot 2.3 -> 2.4, {args.rounds} upgrades each, {args.burn} busy loops, "
                        f"{args.connections} connections")
    for col in ("steps", "upgrades with a finding", "sharers not seeing a shared folder", "dictionary rewrites (median)"):
        table.add_column(col, justify="right")
    for kind, runs in rows.items():
        table.add_row(kind, f"{sum(bool(r['findings']) for r in runs)} of {len(runs)}",
                      str(sum(r["not_seen"] for r in runs)), f"{statistics.median(r['dict_rewrites'] for r in runs):g}")
    console.print(table)
    out = args.out / f"dovecot-acl-rebuild-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"rounds": args.rounds, "burn": args.burn,
                                                  "connections": args.connections, "runs": rows}, indent=2))
    console.print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
