"""addusers (the book's Example 9-1) on 500 accounts: the workflow's pipelined session against the
reference of one command at a time (what cyradm does), interleaved in one run on one server.

  workflow   imapwright.admin.addusers: CREATE account + folders + SETQUOTA, pipelined on
             parallel sessions (--connections, default 4)                           target < 60 s
  pipelined  the same, one pipelined session
  reference  the same commands on one session, each waiting for its answer (what cyradm does)

    python3 benchmarks/addusers_speed.py [--server cyrus:3.6] [--users 500] [--chunk 250] [--connections 4]
"""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from imapwright.admin.addusers import DEFAULT_FOLDERS, DEFAULT_QUOTA_KB, addusers, commands_for
from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.protocol.imap import command
from imapwright.servers.managed import start_server

console = Console()


def one_at_a_time(server, users: list[str]) -> None:
    with server.admin_imap() as admin:
        for user in users:
            for line in commands_for(server.user_mailbox(user), DEFAULT_QUOTA_KB, DEFAULT_FOLDERS):
                name, _, args = line.partition(" ")
                typ, data = command(admin, name, *args.split(" ", 1 if name == "SETQUOTA" else 0))
                if typ != "OK":
                    raise RuntimeError(f"{line}: {typ} {data}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="cyrus:3.6")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=250, help="accounts per method per round")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    try:
        spec = lookup(args.server)
        server = start_server(spec)
    except UserError as exc:
        print(f"addusers_speed: error: {exc}", file=sys.stderr)
        return 2
    spent = {"workflow": 0.0, "pipelined": 0.0, "reference": 0.0}
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("accounts (all methods)", total=len(spent) * args.users)
            # Rounds, the methods' order rotating, so all meet the same growing mailbox list.
            for round_no, start in enumerate(range(0, args.users, args.chunk)):
                count = min(args.chunk, args.users - start)
                order = list(spent)[round_no % len(spent):] + list(spent)[:round_no % len(spent)]
                for method in order:
                    names = [f"{method[0]}{start + i:05d}" for i in range(count)]
                    t0 = time.perf_counter()
                    if method != "reference":
                        result = addusers(server.dialer(), server.admin_user,
                                          server.admin_password, names, mailbox_of=server.user_mailbox,
                                          connections=args.connections if method == "workflow" else 1)
                        if len(result.created) != count:
                            raise RuntimeError(f"addusers: {result.summary()} {result.failed}")
                    else:
                        one_at_a_time(server, names)
                    spent[method] += time.perf_counter() - t0
                    progress.advance(task, count)
        with server.admin_imap() as admin:
            made = len(admin.list_folders("", "user.%"))
    finally:
        server.stop()
    table = Table(title=f"addusers: {args.users} accounts each, {len(DEFAULT_FOLDERS)} folders + quota, on {spec.name}")
    for col in ("method", "total", "per account", "target", "met"):
        table.add_column(col)
    for method, total in spent.items():
        target = "< 60 s" if method == "workflow" else "(reference)"
        met = ("yes" if total < 60 else "NO") if method == "workflow" else ""
        table.add_row(method, f"{total:.1f} s", f"{total / args.users * 1000:.0f} ms", target, met)
    console.print(table)
    console.print(f"workflow vs reference: {spent['reference'] / spent['workflow']:.2f}x faster; "
                  f"accounts on the server: {made}")
    if made != len(spent) * args.users:
        console.print(f"[red]expected {len(spent) * args.users} accounts, found {made}")
        return 1
    return 0 if spent["workflow"] < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
