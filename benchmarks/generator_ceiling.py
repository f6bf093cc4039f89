"""The load generator's own ceiling: how fast the harness's Locust scenarios can send when the far
side costs nothing, beside Postfix's `smtp-source` (C) in the same run.

- LMTP: `smtp-sink -L` (Postfix's null LMTP server) takes every delivery. The harness's delivery
  scenario in one Locust process and with `--workers 2`, and `smtp-source -L`, each with the same
  number of sessions and the same message size, in rounds that rotate which goes first.
- IMAP: the mixed scenario's sessions (no think time, no background delivery) in one Locust
  process and with `--workers 2`, and benchmarks/lean_imap.py (a minimal raw-socket client for the
  benchmark only, the same mix and sizes: what Python can do here) as the reference, all against
  imapwright/load/null_imap.py, which answers every command at once. (Dovecot's imaptest, the C
  anchor, does not build against Debian's dovecot-dev.) A last row runs the lean client as a
  Locust process at the least would (`--under-locust`: woken by gevent's hub, a Locust request
  event per command): the floor for any client inside Locust.

Rates and CPU are taken from each Locust run's first request to its last (locust.json, every
worker's included; the process tree's CPU from /proc sampled beside it), so Python's start-up is
not charged per delivery;
smtp-source starts in milliseconds and is measured whole (its own rusage). Medians of the rounds.

    python3 benchmarks/generator_ceiling.py [--sessions 8] [--size 2000] [--seconds 15] [--rounds 4]
    python3 benchmarks/generator_ceiling.py --quick      # under 5 minutes; ratios on the last line

Writes results.json and plot.svg under reports/benchmarks/generator-ceiling-<time>/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from imapwright.errors import UserError
from imapwright.load.config import LoadConfig
from imapwright.load.cpu import CPUSampler
from imapwright.load.runner import LoadParams, locust_command
from imapwright.report.plots import line_plot
from imapwright.servers import ports

sys.path.insert(0, str(Path(__file__).resolve().parent))
from postfix_tools import postfix_tool  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
console = Console(width=120)
USERS = [f"gen{i:03d}" for i in range(50)]

# Targets of issue #20 (LMTP, as ratios to smtp-source) and #31 (IMAP, to the lean client), same run.
TARGET_RATE_ONE, TARGET_RATE_TWO, TARGET_CPU = 0.8, 1.0, 1.5
KINDS = ["locust 1 process", "locust 2 workers", "smtp-source", "imap 1 process", "imap 2 workers", "imap lean",
         "imap lean under locust"]
REFERENCE = {"locust": "smtp-source", "smtp-source": "smtp-source", "imap": "imap lean"}


def _cpu_at(samples: list, when: float) -> float:
    """The Locust process tree's CPU seconds at `when`, from the last CPUSampler sample before it
    (reaped workers included: they end before their master)."""
    before = [s for s in samples if s[0] <= when]
    _t, per_pid, _server = before[-1] if before else samples[0]
    return sum(seconds for seconds, *_glimpses in per_pid.values())


def run_locust(locustfile: Path, config: LoadConfig, users: int, seconds: float, workers: int, out: Path) -> dict:
    """One Locust run; requests/s and CPU per 1,000 requests over its steady part."""
    out.mkdir(parents=True)
    params = LoadParams("delivery", users=users, spawn_rate=max(users, 1) * 4, duration=seconds, workers=workers,
                        stop_timeout=5)
    port = ports.free_port() if workers else None
    cmd = locust_command(params, out, port)
    cmd[cmd.index("-f") + 1] = str(locustfile)
    env = {**os.environ, **config.to_env(), "PYTHONUNBUFFERED": "1"}
    with (out / "locust.out").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        sampler = CPUSampler(proc.pid, interval=0.25, glimpses=1, include_reaped=True).start()
        try:
            proc.wait(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            raise UserError(f"Locust did not stop; see {out / 'locust.out'}") from None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            samples = sampler.stop()
            if port:
                ports.release(port)
    # From the first request to the last (locust.json: every worker's requests, reported to the
    # master), and the process tree's CPU over the same span: start-up and shutdown not charged.
    entries = json.loads((out / "locust.json").read_text()) if (out / "locust.json").exists() else []
    if not entries or not any(e["num_requests"] for e in entries):
        raise UserError(f"Locust sent nothing; see {out / 'locust.out'}")
    # A run with failed requests or errors in its users measured something else than the mix.
    failed = sum(e["num_failures"] for e in entries)
    errors = out / "locust_exceptions.csv"
    if failed or (errors.exists() and len(errors.read_text().splitlines()) > 1):
        raise UserError(f"Locust run had {failed} failed requests or user errors; see {out}")
    t0 = min(e["start_time"] for e in entries)
    t1 = max(e["last_request_timestamp"] or 0 for e in entries)
    requests, span = sum(e["num_requests"] for e in entries), t1 - t0
    cpu = _cpu_at(samples, t1) - _cpu_at(samples, t0)
    return {"rate": requests / span, "cpu_per_1000": cpu / max(requests, 1) * 1000, "requests": requests,
            "seconds": round(span, 2), "cpu_seconds": round(cpu, 2)}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_smtp_source(binary: Path, env: dict, sink: int, sessions: int, size: int, count: int) -> dict:
    cpu, start = children_cpu(), time.perf_counter()
    res = subprocess.run([str(binary), "-L", "-d", "-s", str(sessions), "-m", str(count), "-l", str(size),
                          "-f", "load@imapwright.test", "-t", "gen000@localhost", f"127.0.0.1:{sink}"],
                         env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise UserError(f"smtp-source failed: {res.stderr.strip()[-300:]}")
    cpu = children_cpu() - cpu
    return {"rate": count / seconds, "cpu_per_1000": cpu / count * 1000, "requests": count,
            "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 3)}


def run_lean_imap(port: int, sessions: int, size: int, seconds: float, under_locust: bool = False) -> dict:
    res = subprocess.run([sys.executable, str(HERE / "lean_imap.py"), "--port", str(port), "--sessions", str(sessions),
                          "--size", str(size), "--seconds", str(seconds)] + ["--under-locust"] * under_locust,
                         capture_output=True, text=True, timeout=seconds + 60)
    if res.returncode != 0:
        raise UserError(f"lean_imap failed: {(res.stderr or res.stdout).strip()[-300:]}")
    r = json.loads(res.stdout)
    return {**r, "seconds": round(r["seconds"], 2), "cpu_seconds": round(r["cpu_seconds"], 2)}


def _ratios(summary: dict, one: str, two: str, ref: str) -> dict:
    return {"rate_one_process": summary[one]["rate"] / summary[ref]["rate"],
            "rate_two_workers": summary[two]["rate"] / summary[ref]["rate"],
            "cpu_per_1000": summary[one]["cpu_per_1000"] / summary[ref]["cpu_per_1000"]}


def _met(r: dict) -> bool:
    return r["rate_one_process"] >= TARGET_RATE_ONE and r["rate_two_workers"] >= TARGET_RATE_TWO \
        and r["cpu_per_1000"] <= TARGET_CPU


def _start(cmd: list[str], env: dict | None, ready: str | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    if ready:
        line = proc.stdout.readline()
        if not line.startswith(ready):
            proc.kill()
            raise UserError(f"{cmd[0]} did not start: {line.strip()}")
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8, help="concurrent connections / Locust users")
    parser.add_argument("--size", type=int, default=2000, help="message size in bytes")
    parser.add_argument("--seconds", type=float, default=15, help="length of a Locust run")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 8 s (under 5 minutes)")
    parser.add_argument("--imap-pipeline", action="store_true",
                        help="the Locust IMAP rows with --knob imap_pipeline=1 (APPEND with LITERAL+, STORE "
                             "with its EXPUNGE in one write); the lean client stays one command per round trip")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 8
    out = ROOT / "reports" / "benchmarks" / f"generator-ceiling-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        source, env = postfix_tool("smtp-source")
        sink_bin, _ = postfix_tool("smtp-sink")
    except UserError as exc:
        print(f"generator_ceiling: error: {exc}", file=sys.stderr)
        return 2
    sink_port, imap_port = ports.free_port(), ports.free_port()  # reserved until the end
    sink = _start([str(sink_bin), "-L", "-u", "nobody", f"127.0.0.1:{sink_port}", "1024"], env)
    null_imap = _start([sys.executable, "-m", "imapwright.load.null_imap", "--port", str(imap_port)], None, "ready")
    time.sleep(0.5)
    rows: list[dict] = []
    lmtp = LoadConfig(lmtp=("127.0.0.1", sink_port), users=USERS, options={"size": str(args.size)})
    imap = LoadConfig(imap=("127.0.0.1", imap_port), users=USERS, password="x",
                      options={"think": "0", "idle_seconds": "0", "size": str(args.size),
                               **({"imap_pipeline": "1"} if args.imap_pipeline else {})})
    try:
        count = 500 * int(args.seconds)
        kinds = KINDS
        for n in range(args.rounds):
            order = kinds[n % len(kinds):] + kinds[:n % len(kinds)]
            console.print(f"round {n + 1}/{args.rounds}: {', '.join(order)}")
            for kind in order:
                here = out / f"{kind.replace(' ', '-')}-{n}"
                workers = 2 if "2 workers" in kind else 0
                if kind == "smtp-source":
                    r = run_smtp_source(source, env, sink_port, args.sessions, args.size, count)
                elif kind.startswith("imap lean"):
                    r = run_lean_imap(imap_port, args.sessions, args.size, args.seconds, "locust" in kind)
                elif kind.startswith("imap"):
                    r = run_locust(HERE / "imap_sessions.py", LoadConfig(**{**imap.__dict__, "ledger": str(here / "ledger")}),
                                   args.sessions, args.seconds, workers, here)
                else:
                    r = run_locust(ROOT / "loadtests" / "delivery.py",
                                   LoadConfig(**{**lmtp.__dict__, "ledger": str(here / "ledger")}),
                                   args.sessions, args.seconds, workers, here)
                    if kind == "locust 1 process":
                        count = max(1000, int(r["rate"] * args.seconds))  # smtp-source runs about as long
                rows.append({"kind": kind, "round": n, **r})
                console.print(f"  {kind}: {r['rate']:.0f}/s, {r['cpu_per_1000']:.3f} CPU s per 1000 "
                              f"({r['requests']} in {r['seconds']} s)")
    finally:
        for proc in (sink, null_imap):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
        ports.release(sink_port)
        ports.release(imap_port)
    summary = {kind: {"rate": statistics.median(r["rate"] for r in rows if r["kind"] == kind),
                      "cpu_per_1000": statistics.median(r["cpu_per_1000"] for r in rows if r["kind"] == kind)}
               for kind in kinds}
    ratios = {"lmtp": _ratios(summary, "locust 1 process", "locust 2 workers", "smtp-source"),
              "imap": _ratios(summary, "imap 1 process", "imap 2 workers", "imap lean")}
    # What the harness's own bookkeeping costs over any client inside Locust (issue 31's note).
    floor = {"rate_one_process": summary["imap 1 process"]["rate"] / summary["imap lean under locust"]["rate"],
             "cpu_per_1000": summary["imap 1 process"]["cpu_per_1000"]
             / summary["imap lean under locust"]["cpu_per_1000"]}
    table = Table(title=f"generator ceiling: {args.sessions} sessions, {args.size}-byte messages, null far side "
                        f"(median of {args.rounds} rounds{', IMAP pipelined' if args.imap_pipeline else ''})")
    for col in ("generator", "requests/s", "CPU s per 1000", "rate vs reference", "CPU vs reference"):
        table.add_column(col, justify="left" if col == "generator" else "right")
    for kind in kinds:
        s, ref = summary[kind], summary[REFERENCE[kind.split()[0]]]
        table.add_row(kind + (" (IMAP commands)" if kind.startswith("imap") else " (LMTP deliveries)"),
                      f"{s['rate']:.0f}", f"{s['cpu_per_1000']:.3f}",
                      f"{s['rate'] / ref['rate']:.2f}", f"{s['cpu_per_1000'] / ref['cpu_per_1000']:.2f}x")
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    by_kind = {kind: [(r["round"] + 1, r["rate"]) for r in rows if r["kind"] == kind] for kind in kinds}
    (out / "plot.svg").write_text(line_plot(by_kind, "generator ceiling: requests/s per round (null far side)",
                                            "round", "requests/s"))
    (out / "results.json").write_text(json.dumps({"args": vars(args), "rows": rows, "summary": summary,
                                                  "ratios": ratios,
                                                  "imap_vs_floor": floor}, indent=1))
    for path in out.glob("*/ledger"):
        shutil.rmtree(path, ignore_errors=True)
    console.print(f"results: {out}")
    line = "; ".join(
        f"{proto.upper()} vs {ref}: rate 1 process {r['rate_one_process']:.2f} (target >= {TARGET_RATE_ONE}), "
        f"rate 2 workers {r['rate_two_workers']:.2f} (>= {TARGET_RATE_TWO}), CPU per 1000 {r['cpu_per_1000']:.2f}x "
        f"(<= {TARGET_CPU}x): {'met' if _met(r) else 'not met'}"
        for (proto, r), ref in zip(ratios.items(), ("smtp-source", "lean IMAP client")))
    print(f"ratios: {line}; IMAP vs lean under Locust (the floor inside Locust): rate 1 process "
          f"{floor['rate_one_process']:.2f}, CPU per 1000 {floor['cpu_per_1000']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
