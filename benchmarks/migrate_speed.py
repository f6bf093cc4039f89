"""Migration speed: append (IMAP, user2cyrus), deliver (LMTP, extract-and-deliver) and copy (spool
files + reconstruct, extract-and-copy) on the same corpus, side by side on one server in one run.
The book measured the IMAP route about 75% slower than extract-and-copy.

Each method migrates the same messages into its own user, folder by folder, the methods' order
rotating per folder so all meet the same server state. Messages per second and MB per second per
method, and the ratios to copy.

    python3 benchmarks/migrate_speed.py [--server cyrus:3.6] [--messages 5000] [--folders 5]
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from imapwright.admin.migrate import METHODS, apply_user, make_plan
from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.mailstore.corpus import mbox_bytes
from imapwright.mailstore.message import StoredMessage
from imapwright.servers.managed import start_server

console = Console(width=120)
# Message sizes: mostly small text mail, some with attachments (bytes, weight).
SIZES = ((1_500, 30), (4_000, 35), (12_000, 20), (60_000, 10), (300_000, 5))


def corpus(count: int, seed: int = 11) -> list[StoredMessage]:
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    sizes, weights = zip(*SIZES)
    out = []
    for n in range(count):
        size = rng.choices(sizes, weights)[0]
        body = b"".join(f"line {i} of message {n} {'x' * 60}\n".encode() for i in range(size // 80 + 1))
        head = f"From: s{n % 97}@example.org\nTo: user@example.org\nSubject: message {n}\nMessage-ID: <m{n}@bench>\n\n"
        flags = frozenset(rng.sample(["\\Seen", "\\Answered", "\\Flagged"], rng.randint(0, 2)))
        out.append(StoredMessage(head.encode() + body, flags, start + timedelta(minutes=37 * n), "s@example.org"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="cyrus:3.6")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--folders", type=int, default=5)
    args = parser.parse_args()
    try:
        spec = lookup(args.server)
    except UserError as exc:
        print(f"migrate_speed: error: {exc}", file=sys.stderr)
        return 2
    messages = corpus(args.messages)
    megabytes = sum(len(m.content) for m in messages) / 1e6
    per_folder = -(-len(messages) // args.folders)
    folders = [f"f{i}" for i in range(args.folders)]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp)
        for method in METHODS:
            (source / method).mkdir()
            for i, name in enumerate(folders):
                (source / method / name).write_bytes(mbox_bytes(messages[i * per_folder:(i + 1) * per_folder]))
        plans = {p.user: p for p in make_plan(source).users}
        server = start_server(spec)
        try:
            spent = dict.fromkeys(METHODS, 0.0)
            for method in METHODS:
                server.create_user(method, secrets.token_urlsafe(12))
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("messages (all methods)", total=len(METHODS) * len(messages))
                for round_no, name in enumerate(folders):
                    order = METHODS[round_no % 3:] + METHODS[:round_no % 3]
                    for method in order:
                        plan = plans[method]
                        one = type(plan)(plan.user, plan.root, [f for f in plan.folders if f.name == name])
                        t0 = time.perf_counter()
                        result = apply_user(server, one, method, progress=lambda n: progress.advance(task, n))
                        spent[method] += time.perf_counter() - t0
                        if result.refused:
                            raise RuntimeError(f"{method}: {len(result.refused)} refused, first {result.refused[0]}")
        finally:
            server.stop()
    table = Table(title=f"migration of {len(messages)} messages ({megabytes:.0f} MB) into {spec.name}")
    for col in ("method", "time", "messages/s", "MB/s", "time vs copy"):
        table.add_column(col, justify="right")
    for method, seconds in spent.items():
        table.add_row(method, f"{seconds:.1f} s", f"{len(messages) / seconds:.0f}", f"{megabytes / seconds:.1f}",
                      f"{seconds / spent['copy']:.2f}x")
    console.print(table)
    console.print(f"append takes {(spent['append'] / spent['copy'] - 1) * 100:.0f}% longer than copy "
                  f"(the book: about 75% slower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
