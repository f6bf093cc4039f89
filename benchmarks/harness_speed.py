"""Speed of the harness itself, printed as medians next to their targets (issue: foundation).

  start   container start to first successful admin login, image already built   target <= 2 s
  test    per-test overhead of isolation (fresh user), the consistency check and the log gate,
          measured side by side with the same test body without them, interleaved  target <= 150 ms
  build   rebuild of a server image from a cached base image, no layer cache      target <= 60 s

    python3 benchmarks/harness_speed.py [--server cyrus:3.6] [--starts 7] [--tests 40] [--skip-build]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from imapwright.catalogue import lookup
from imapwright.errors import UserError
from imapwright.pytest_plugin.users import UserFactory
from imapwright.servers import log_gate
from imapwright.servers.images import build, ensure_image
from imapwright.servers.managed import start_server

console = Console()


def bench_start(spec, count: int, progress: Progress) -> list[float]:
    task = progress.add_task("start -> admin login", total=count)
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        server = start_server(spec)
        times.append(time.perf_counter() - t0)
        server.stop()
        progress.advance(task)
    return times


def bench_test_overhead(spec, count: int, progress: Progress) -> tuple[list[float], list[float]]:
    """Same body (admin connection, NOOP) with and without isolation + check + log gate, interleaved."""
    server = start_server(spec)
    task = progress.add_task("per-test overhead", total=count)
    bare, isolated = [], []
    watch = log_gate.LogWatch(server, None)
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            with server.admin_imap() as admin:
                admin.noop()
            bare.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            factory = UserFactory(server)
            factory.create()
            with server.admin_imap() as admin:
                admin.noop()
            problems = server.consistency_problems([u.name for u in factory.created])
            # The log gate as the plugin runs it: after the call (with its settle) and after teardown.
            watch.sync()
            for _ in range(2):
                judged = log_gate.judge(server.family_name, server.version_tuple, watch.new_lines(), [], "test")
                assert judged.clean, judged.failing
            isolated.append(time.perf_counter() - t0)
            assert not problems, problems
            progress.advance(task)
    finally:
        server.stop()
    return bare, isolated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="cyrus:3.6")
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--tests", type=int, default=40)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    try:
        spec = lookup(args.server)
        ensure_image(spec)
        with Progress(console=console, transient=True) as progress:
            starts = bench_start(spec, args.starts, progress)
            bare, isolated = bench_test_overhead(spec, args.tests, progress)
            build_time = None
            if not args.skip_build:
                task = progress.add_task("rebuild from cached base", total=None)
                t0 = time.perf_counter()
                build(spec, no_cache=True)
                build_time = time.perf_counter() - t0
                progress.update(task, total=1, completed=1)
    except UserError as exc:
        print(f"harness_speed: error: {exc}", file=sys.stderr)
        return 2
    overhead = statistics.median(isolated) - statistics.median(bare)
    rows = [
        ("start -> admin login", f"{statistics.median(starts):.2f} s", "<= 2 s", statistics.median(starts) <= 2,
         f"n={len(starts)} min {min(starts):.2f} max {max(starts):.2f}"),
        ("per-test overhead", f"{overhead * 1000:.0f} ms", "<= 150 ms", overhead <= 0.150,
         f"n={len(bare)} body alone {statistics.median(bare) * 1000:.0f} ms, with isolation+check+log gate "
         f"{statistics.median(isolated) * 1000:.0f} ms"),
    ]
    if build_time is not None:
        rows.append(("rebuild from cached base", f"{build_time:.1f} s", "<= 60 s", build_time <= 60, "n=1, no layer cache"))
    table = Table(title=f"imapwright harness speed on {spec.name} (medians)")
    for col in ("measure", "median", "target", "met", "detail"):
        table.add_column(col)
    for name, value, target, met, detail in rows:
        table.add_row(name, value, target, "yes" if met else "NO", detail)
    console.print(table)
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
