"""Reconstruct time of one mailbox against the size of the mailbox list (Cyrus issue #3762), side by
side with a full scan of the same list, in one run on one server.

The list grows in steps (a baseline holding only the target account, then each --sizes entry);
at each step, inside the container (no exec overhead in the figures), the median of --repeat runs:

  reconstruct        `reconstruct user.target`: one mailbox, ten messages
  reconstruct -rf    `reconstruct -r -f user.target`: what #3762 timed
  list dump          `ctl_mboxlist -d`: reference, one pass over the whole list

#3762 (i7-8700, NVMe, Cyrus 3.0-3.4, twoskip) measured reconstruct -rf of an empty mailbox at
0.030 s with 1k mailboxes, 0.068 s at 10k, 0.398 s at 100k and 1.328 s at 400k.

    python3 benchmarks/reconstruct_list_size.py [--server cyrus:3.6 ...] [--sizes 1000,10000,100000]
        [--mboxlist-db twoskip --mboxlist-db skiplist ...] [--repeat 5]

Writes results.json and plot.svg under reports/benchmarks/reconstruct-list-size-<time>/.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from imapwright.stores.seed import seed_mailboxes, seed_names
from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.report.plots import line_plot
from imapwright.servers.managed import start_server

console = Console(width=130)
ROOT = Path(__file__).resolve().parent.parent
ISSUE_3762 = {1000: 0.030, 5000: 0.016, 10000: 0.068, 25000: 0.124, 50000: 0.230, 100000: 0.398,
              200000: 0.721, 400000: 1.328}  # seconds, reconstruct -rf of an empty mailbox
TARGET = "target"


def timed(server, argv: list[str], repeat: int) -> float:
    """Median seconds of `repeat` runs, timed by the container's own clock."""
    command = " ".join(argv)
    script = (f"for i in $(seq {repeat}); do s=$(date +%s%N); {command} >/dev/null 2>&1 || exit 9; "
              f"e=$(date +%s%N); echo $((e - s)); done")
    result = server.exec(["sh", "-c", script]).check(command)
    return statistics.median(int(line) for line in result.stdout.split()) / 1e9


def list_size(server) -> int:
    out = server.exec(["sh", "-c", '"$@" -d | wc -l', "sh", *server.tool_command("ctl_mboxlist")]).check("ctl_mboxlist -d")
    return int(out.stdout.strip())


def measure(spec, db: str | None, sizes: list[int], repeat: int, progress) -> list[dict]:
    server = start_server(spec, options={"mboxlist_db": db} if db else None)
    try:
        password = secrets.token_urlsafe(12)
        server.create_user(TARGET, password)
        client = server.login(TARGET, password)
        for n in range(10):
            client.append("INBOX", f"Subject: message {n}\r\nMessage-ID: <{n}@bench>\r\n\r\nbody {n}\r\n".encode())
        client.logout()
        commands = {"reconstruct": [*server.tool_command("reconstruct"), f"user.{TARGET}"],
                    "reconstruct -rf": [*server.tool_command("reconstruct"), "-r", "-f", f"user.{TARGET}"],
                    "list dump": [*server.tool_command("ctl_mboxlist"), "-d"]}
        rows, seeded = [], 0
        task = progress.add_task(f"{spec.name} {db or 'default db'}: seeding", total=max(sizes))
        for size in [0] + sizes:
            if size > seeded:
                t0 = time.perf_counter()
                seed_mailboxes(server.dialer(), server.admin_user, server.admin_password,
                               seed_names(seeded, size, server.user_mailbox), progress=lambda n: progress.advance(task, n))
                seed_time, seed_count, seeded = time.perf_counter() - t0, size - seeded, size
            else:
                seed_time, seed_count = 0.0, 0
            entries = list_size(server)
            if entries < size:
                raise RuntimeError(f"mailbox list holds {entries} entries, expected at least {size}")
            row = {"server": spec.name, "mboxlist_db": db or "default", "entries": entries,
                   "seed_seconds": round(seed_time, 2), "seed_rate": round(seed_count / seed_time) if seed_time else None}
            row.update({name: timed(server, argv, repeat) for name, argv in commands.items()})
            rows.append(row)
        progress.remove_task(task)
        return rows
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", action="append", help="catalogue name (repeatable); default cyrus:3.6")
    parser.add_argument("--sizes", default="1000,10000", help="mailbox-list sizes, comma separated")
    parser.add_argument("--mboxlist-db", action="append", choices=["twoskip", "skiplist", "flat"],
                        help="Cyrus mailbox-list backend (repeatable); default: the server's own")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",")} - {0})
        specs = [lookup(name) for name in (args.server or ["cyrus:3.6"])]
        for spec in specs:
            if spec.family != "cyrus":
                raise UserError(f"{spec.name} has no mailbox-list database to grow; this benchmark is for Cyrus")
    except ValueError:
        print(f"reconstruct_list_size: error: --sizes must be integers, got {args.sizes!r}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"reconstruct_list_size: error: {exc}", file=sys.stderr)
        return 2
    rows = []
    with Progress(console=console, transient=True) as progress:
        for spec in specs:
            for db in args.mboxlist_db or [None]:
                rows += measure(spec, db, sizes, args.repeat, progress)

    table = Table(title=f"reconstruct of one mailbox against mailbox-list size (median of {args.repeat})")
    for col in ("server", "db", "entries", "reconstruct", "reconstruct -rf", "list dump", "#3762 -rf", "seeded at"):
        table.add_column(col, justify="right")
    for r in rows:
        nearest = min(ISSUE_3762, key=lambda n: abs(n - r["entries"]))
        reference = f"{ISSUE_3762[nearest]:.3f} s ({nearest // 1000}k)" if r["entries"] >= 500 else ""
        table.add_row(r["server"], r["mboxlist_db"], str(r["entries"]), f"{r['reconstruct']:.3f} s",
                      f"{r['reconstruct -rf']:.3f} s", f"{r['list dump']:.3f} s", reference,
                      f"{r['seed_rate']}/s" if r["seed_rate"] else "")
    console.print(table)
    for key in {(r["server"], r["mboxlist_db"]) for r in rows}:
        mine = [r for r in rows if (r["server"], r["mboxlist_db"]) == key]
        first, last = mine[0], mine[-1]
        per_10k = (last["reconstruct"] - first["reconstruct"]) / max(1, last["entries"] - first["entries"]) * 1e4
        console.print(f"{key[0]} {key[1]}: one-mailbox reconstruct grows {per_10k * 1000:.1f} ms per 10k entries "
                      f"({first['reconstruct']:.3f} s -> {last['reconstruct']:.3f} s); full dump "
                      f"{first['list dump']:.3f} s -> {last['list dump']:.3f} s")

    out = args.out / f"reconstruct-list-size-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    series = {f"{r0['server']} {r0['mboxlist_db']}: {cmd}": [(r["entries"], r[cmd]) for r in rows
                                                             if (r["server"], r["mboxlist_db"]) == (r0["server"], r0["mboxlist_db"])]
              for r0 in rows for cmd in ("reconstruct", "reconstruct -rf", "list dump")}
    series["#3762 reconstruct -rf (other hardware)"] = sorted(ISSUE_3762.items())
    (out / "plot.svg").write_text(line_plot(series, "reconstruct of one mailbox vs mailbox-list size",
                                            "mailboxes in the list", "seconds", logx=True, logy=True))
    (out / "results.json").write_text(json.dumps({"repeat": args.repeat, "rows": rows,
                                                  "issue_3762": ISSUE_3762}, indent=2))
    console.print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
