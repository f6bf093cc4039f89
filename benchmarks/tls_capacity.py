"""What TLS costs a server's capacity: the `capacity` scenario (users added in steps until p95 or
failures cross a threshold) with plain IMAP sessions and with IMAPS sessions (`imapwright load
capacity --tls`), on one server, in rounds that alternate which goes first, in one run. Each run
goes to a fresh population, so neither meets mailboxes the other grew.

    python3 benchmarks/tls_capacity.py [--server cyrus:3.6] [--rounds 2] [--max-users 64] \
        [--step-users 8] [--step-seconds 8] [--p95-ms 250]

Prints the saturation point of each run and the medians side by side, and writes results.json and
plot.svg (requests/s and p95 against users, one line per run) under reports/benchmarks/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.load.runner import LoadParams, run_load
from imapwright.report.plots import line_plot
from imapwright.servers.managed import start_server

ROOT = Path(__file__).resolve().parent.parent
console = Console(width=120)


def one_run(server, mode: str, n: int, args, reports: Path) -> dict:
    knobs = {"step_users": str(args.step_users), "step_seconds": str(args.step_seconds),
             "max_users": str(args.max_users), "p95_ms": str(args.p95_ms), "max_failure_ratio": "0.01"}
    steps = -(-args.max_users // args.step_users)
    params = LoadParams("capacity", users=args.max_users, spawn_rate=args.step_users,
                        duration=(steps + 1) * args.step_seconds + 10, population=20, prefix=f"{mode}{n}",
                        options=knobs, tls=mode == "tls")
    info = {"name": server.name, "family": server.family_name, "version": server.version}
    _out, summary = run_load(server, params, reports, info)
    capacity = summary.get("capacity") or {}
    point = (capacity.get("saturation") or {}).get("point") or {}
    return {"mode": mode, "round": n, "passed": summary["passed"], "steps": capacity.get("steps", []),
            "saturation_users": point.get("users", 0), "saturation_rps": point.get("rps", 0.0),
            "saturation_p95_ms": point.get("p95_ms", 0.0),
            "saturated": bool((capacity.get("saturation") or {}).get("crossed")),
            "reason": (capacity.get("saturation") or {}).get("reason", "no capacity data")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="cyrus:3.6")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-users", type=int, default=64)
    parser.add_argument("--step-users", type=int, default=8)
    parser.add_argument("--step-seconds", type=float, default=8)
    parser.add_argument("--p95-ms", type=float, default=250)
    args = parser.parse_args()
    out = ROOT / "reports" / "benchmarks" / f"tls-capacity-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        spec = lookup(args.server)
        server = start_server(spec)
    except UserError as exc:
        print(f"tls_capacity: error: {exc}", file=sys.stderr)
        return 2
    rows = []
    try:
        if server.imaps is None:
            print(f"tls_capacity: error: {args.server} has no IMAPS port", file=sys.stderr)
            return 2
        for n in range(args.rounds):
            for mode in (("plain", "tls") if n % 2 == 0 else ("tls", "plain")):
                console.print(f"round {n + 1}/{args.rounds}: {mode}")
                r = one_run(server, mode, n, args, out / "runs")
                rows.append(r)
                console.print(f"  saturation at {r['saturation_users']} users, {r['saturation_rps']:.0f} req/s "
                              f"(p95 {r['saturation_p95_ms']:.0f} ms): {r['reason']}")
    finally:
        server.stop()
    table = Table(title=f"capacity of {args.server} with and without TLS (median of {args.rounds} rounds; "
                        f"steps of {args.step_users} users, p95 limit {args.p95_ms:g} ms)")
    for col in ("IMAP sessions", "saturation users", "req/s at saturation", "p95 ms there", "runs saturated",
                "runs passed"):
        table.add_column(col, justify="left" if col == "IMAP sessions" else "right")
    summary = {}
    for mode in ("plain", "tls"):
        mine = [r for r in rows if r["mode"] == mode]
        summary[mode] = {key: statistics.median(r[key] for r in mine)
                         for key in ("saturation_users", "saturation_rps", "saturation_p95_ms")}
        s = summary[mode]
        table.add_row("IMAPS (TLS)" if mode == "tls" else "plain IMAP", f"{s['saturation_users']:g}",
                      f"{s['saturation_rps']:.0f}", f"{s['saturation_p95_ms']:.0f}",
                      f"{sum(r['saturated'] for r in mine)}/{len(mine)}", f"{sum(r['passed'] for r in mine)}/{len(mine)}")
    console.print(table)
    if summary["plain"]["saturation_rps"]:
        ratio = summary["tls"]["saturation_rps"] / summary["plain"]["saturation_rps"]
        console.print(f"TLS / plain requests per second at saturation: {ratio:.2f}")
    series = {f"{r['mode']} round {r['round'] + 1}": [(s["users"], s["rps"]) for s in r["steps"]] for r in rows}
    p95 = {f"{r['mode']} round {r['round'] + 1}": [(s["users"], s["p95_ms"]) for s in r["steps"]] for r in rows}
    (out / "plot.svg").write_text(line_plot(series, f"{args.server}: requests/s per capacity step, plain vs TLS",
                                            "users", "requests/s"))
    (out / "p95.svg").write_text(line_plot(p95, f"{args.server}: p95 per capacity step, plain vs TLS", "users",
                                           "p95 ms", hlines={f"limit {args.p95_ms:g} ms": args.p95_ms}))
    (out / "results.json").write_text(json.dumps({"args": vars(args), "rows": rows, "summary": summary}, indent=2))
    console.print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
