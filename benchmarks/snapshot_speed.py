"""Snapshot speed: `imapwright snapshot --target URL --all` (an admin's server, read as the admin
acting for each user, resumable) against the upgrade suite's own store snapshot (each user's own
login, the passwords known), on the same populated store, side by side in alternating rounds.
Target (issue 18): the command within 1.5x of the suite's snapshot.

    python3 benchmarks/snapshot_speed.py [--server cyrus:3.6] [--size full] [--rounds 3]

The last line prints the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.servers.managed import start_server
from imapwright.stores.snapshot import store_snapshot
from imapwright.stores.store import StoreSize, populate_store
from imapwright.servers.target import target_url

console = Console(width=120)
TARGET = 1.5


def _command(server, output: Path) -> float:
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    url = target_url(server, exec_=True)
    began = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "imapwright", "snapshot", "--target", url, "--all", "-o", str(output)],
                         capture_output=True, text=True, env=env)
    spent = time.perf_counter() - began
    if run.returncode:
        raise SystemExit(f"snapshot_speed: error: imapwright snapshot exited {run.returncode}: "
                         f"{(run.stderr or run.stdout).strip().splitlines()[-1:]}")
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="cyrus:3.6")
    parser.add_argument("--size", default="full", choices=("ci", "full"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        spec = lookup(args.server)
    except UserError as exc:
        print(f"snapshot_speed: error: {exc}", file=sys.stderr)
        return 2
    size = StoreSize.named(args.size)
    server = start_server(spec)
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"populate {size.users} accounts", total=size.users)
            store = populate_store(server, size, progress=lambda n: bar.advance(task, n))
        times: dict[str, list[float]] = {"suite": [], "command": []}
        messages = 0
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                order = ("suite", "command") if r % 2 == 0 else ("command", "suite")
                for kind in order:
                    if kind == "suite":
                        began = time.perf_counter()
                        taken = store_snapshot(server, store.accounts)
                        times["suite"].append(time.perf_counter() - began)
                    else:
                        output = Path(tmp) / f"round{r}.json"
                        times["command"].append(_command(server, output))
                        taken = json.loads(output.read_text())["accounts"]
                    messages = sum(len(f["messages"]) for a in taken.values() for f in a["folders"].values())
                console.print(f"round {r + 1}: suite {times['suite'][-1]:.1f} s, command {times['command'][-1]:.1f} s")
    finally:
        server.stop()
    suite, command = (statistics.median(times[k]) for k in ("suite", "command"))
    ratio = command / suite
    console.print(f"{args.server}, {size.users} accounts, {messages} messages, median of {args.rounds}: "
                  f"suite snapshot {suite:.1f} s, imapwright snapshot {command:.1f} s")
    print(f"ratio command/suite {ratio:.2f} (target <= {TARGET}): {'met' if ratio <= TARGET else 'NOT met'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
