"""Delivery rate: the harness's Locust delivery scenario against Postfix's `smtp-source` in LMTP
mode, on the same cyrus:3.6 LMTP service, with the same concurrency and message size, in rounds
that alternate which tool goes first, each round to a fresh account, in one run. Also the load generator's CPU seconds per 1,000 deliveries.

    python3 benchmarks/delivery_rate.py [--server cyrus:3.6] [--sessions 4] [--size 2000] \
        [--seconds 10] [--rounds 6]

smtp-source comes from the Debian package postfix, unpacked (not installed) under
reports/benchmarks/postfix/ on first use (`apt-get download postfix && dpkg -x`). It keeps its
connections open (-d), as the harness's LMTP client does; it is given the message count the
harness delivered in its latest round, so both run about as long. The server counts what
arrived for each round: a tool's rate counts only deliveries that are on the server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.load import results
from imapwright.load.config import LoadConfig
from imapwright.load.runner import LoadParams, run_locust
from imapwright.servers.managed import start_server

sys.path.insert(0, str(Path(__file__).resolve().parent))
from postfix_tools import postfix_tool  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
console = Console(width=120)


def smtp_source() -> tuple[Path, dict[str, str]]:
    with console.status("fetching the postfix package for smtp-source"):
        return postfix_tool("smtp-source")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def inbox_count(server, user: str) -> int:
    with server.user_session(user) as client:
        return client.folder_status(server.mailbox_name(user, "", user), [b"MESSAGES"])[b"MESSAGES"]


def round_smtp_source(server, binary, env, user: str, sessions: int, size: int, count: int) -> dict:
    before, cpu = inbox_count(server, user), children_cpu()
    start = time.perf_counter()
    res = subprocess.run([str(binary), "-L", "-d", "-s", str(sessions), "-m", str(count), "-l", str(size),
                          "-f", "load@imapwright.test", "-t", f"{user}@localhost", f"{server.lmtp.host}:{server.lmtp.port}"],
                         env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise UserError(f"smtp-source failed: {res.stderr.strip()[-300:]}")
    delivered = inbox_count(server, user) - before
    return {"tool": "smtp-source", "delivered": delivered, "seconds": seconds, "rate": delivered / seconds,
            "cpu_per_1000": (children_cpu() - cpu) / max(delivered, 1) * 1000, "sent": count}


def round_locust(server, user: str, sessions: int, size: int, seconds: float, out: Path) -> dict:
    out.mkdir(parents=True)
    config = LoadConfig(lmtp=(server.lmtp.host, server.lmtp.port), users=[user], ledger=str(out / "ledger"),
                        options={"size": str(size)})
    params = LoadParams("delivery", users=sessions, spawn_rate=sessions, duration=seconds, stop_timeout=10)
    before, cpu = inbox_count(server, user), children_cpu()
    code = run_locust(config, params, out)
    cpu = children_cpu() - cpu
    if code != 0:
        raise UserError(f"locust failed (exit {code}); see {out}")
    stats = results.read_stats(out / "locust.json")
    delivered = inbox_count(server, user) - before
    # Rate over Locust's own span (first to last request), as smtp-source's wall time is its span.
    return {"tool": "imapwright (Locust)", "delivered": delivered, "seconds": stats["seconds"],
            "rate": delivered / stats["seconds"], "cpu_per_1000": cpu / max(delivered, 1) * 1000,
            "acknowledged": stats["total"]["requests"] - stats["total"]["failures"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="cyrus:3.6")
    parser.add_argument("--sessions", type=int, default=4, help="concurrent connections for both tools")
    parser.add_argument("--size", type=int, default=2000, help="message size in bytes for both tools")
    parser.add_argument("--seconds", type=float, default=10, help="length of a Locust round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    try:
        spec = lookup(args.server)
        binary, env = smtp_source()
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
        out = ROOT / "reports" / "benchmarks" / f"delivery-rate-{stamp}"
        server = start_server(spec)
    except UserError as exc:
        print(f"delivery_rate: error: {exc}", file=sys.stderr)
        return 2
    rows = []
    try:
        # Each round of each tool delivers to a fresh account, so neither meets a mailbox the other
        # grew; the tools take turns going first. Warm-up: the server's databases, not measured.
        password = os.urandom(12).hex()
        server.create_user("warmup", password)
        round_smtp_source(server, binary, env, "warmup", args.sessions, args.size, 2000)
        count = 250 * int(args.seconds)
        for n in range(args.rounds):
            console.print(f"round {n + 1}/{args.rounds}")
            for tool in (("locust", "smtp-source") if n % 2 == 0 else ("smtp-source", "locust")):
                user = f"{tool[0]}{n}"
                server.create_user(user, password)
                if tool == "locust":
                    r = round_locust(server, user, args.sessions, args.size, args.seconds, out / f"locust-{n}")
                    count = r["delivered"]  # smtp-source sends as many, so both run about as long
                else:
                    r = round_smtp_source(server, binary, env, user, args.sessions, args.size, count)
                rows.append(r)
                console.print(f"  {r['tool']}: {r['delivered']} in {r['seconds']:.1f} s = {r['rate']:.0f}/s, "
                              f"{r['cpu_per_1000']:.2f} CPU s per 1000")
    finally:
        server.stop()
    table = Table(title=f"LMTP delivery to {args.server}: {args.sessions} sessions, {args.size}-byte messages "
                        f"(median of {args.rounds} rounds)")
    for col in ("tool", "deliveries/s", "CPU s per 1000 deliveries", "delivered (all rounds)"):
        table.add_column(col, justify="left" if col == "tool" else "right")
    summary = {}
    for tool in ("imapwright (Locust)", "smtp-source"):
        mine = [r for r in rows if r["tool"] == tool]
        summary[tool] = {"rate": statistics.median(r["rate"] for r in mine),
                         "cpu_per_1000": statistics.median(r["cpu_per_1000"] for r in mine),
                         "delivered": sum(r["delivered"] for r in mine)}
        s = summary[tool]
        table.add_row(tool, f"{s['rate']:.0f}", f"{s['cpu_per_1000']:.2f}", str(s["delivered"]))
    console.print(table)
    ratio = summary["imapwright (Locust)"]["rate"] / summary["smtp-source"]["rate"]
    console.print(f"harness rate / smtp-source rate = {ratio:.1%} (target at least 90%)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"server": args.server, "sessions": args.sessions, "size": args.size,
                                                  "rounds": rows, "summary": summary, "ratio": ratio}, indent=1))
    for n in range(args.rounds):  # the Locust rounds' raw output is not needed beside results.json
        shutil.rmtree(out / f"locust-{n}" / "ledger", ignore_errors=True)
    console.print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
