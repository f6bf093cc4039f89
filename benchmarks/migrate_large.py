"""Large mboxes (issue 33): `imapwright migrate plan` of one user whose INBOX is a single mbox of
N ordinary messages, beside two references run on the same file in the same round:

- Python's mailbox.mbox counting the messages (a lower bar a good reader should reach), and
- `grep -c '^From '` (the floor: one pass over the bytes).

Each is a subprocess of its own, timed by wall clock, its peak memory from the kernel (ru_maxrss
of the child). Rounds rotate the order. Prints a table and writes results.json under
reports/benchmarks/migrate_large/.

    python3 benchmarks/migrate_large.py --messages 10000,100000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BODY = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n" * 36)


def write_mbox(path: Path, count: int) -> int:
    """An mbox of `count` ordinary 3 KB messages (headers a mail client writes, a body of text)."""
    with path.open("w") as out:
        for i in range(count):
            out.write(f"From sender{i % 97}@example.org Tue Nov 29 07:44:52 2026\n"
                      f"Return-Path: <sender{i % 97}@example.org>\nFrom: Sender <sender{i % 97}@example.org>\n"
                      f"To: user@example.org\nSubject: message {i}\nMessage-ID: <{i}.bench@example.org>\n"
                      f"Date: Tue, 29 Nov 2026 07:44:52 +0000\nStatus: RO\n\n{BODY}\n")
    return path.stat().st_size


def timed(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB of this child, last line of its output)."""
    started = time.perf_counter()
    # A fresh process reports its own peak: wait4's rusage is the child's alone.
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out = proc.stdout.read().strip().splitlines()
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{cmd[:3]} failed: {out[-3:]}")
    return seconds, usage.ru_maxrss // 1024, out[-1] if out else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", default="10000,100000", help="comma-separated message counts")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    counts = [int(c) for c in args.messages.split(",")]
    out_dir = Path("reports/benchmarks/migrate_large")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            source = Path(tmp) / f"src{count}"
            (source / "user").mkdir(parents=True)
            size = write_mbox(source / "user" / "INBOX", count)
            commands = {
                "imapwright migrate plan": ["imapwright", "migrate", "plan", str(source)],
                "mailbox.mbox count": [sys.executable, "-c", "import mailbox, sys; "
                                       "print(len(mailbox.mbox(sys.argv[1], create=False)))",
                                       str(source / "user" / "INBOX")],
                "grep -c '^From '": ["grep", "-c", "^From ", str(source / "user" / "INBOX")],
            }
            results = {name: [] for name in commands}
            for r in range(args.rounds):
                order = list(commands)[r % len(commands):] + list(commands)[:r % len(commands)]
                for name in order:
                    results[name].append(timed(commands[name], Path(tmp)))
            for name, runs in results.items():
                best = min(runs)
                rows.append({"messages": count, "mb": round(size / 1e6), "tool": name, "seconds": round(best[0], 2),
                             "mb_per_s": round(size / 1e6 / best[0], 1), "max_rss_mb": max(r[1] for r in runs),
                             "said": best[2][:60]})
            (source / "user" / "INBOX").unlink()
    print(f"{'messages':>9} {'MB':>5}  {'tool':<26} {'seconds':>8} {'MB/s':>7} {'max RSS MB':>10}")
    for row in rows:
        print(f"{row['messages']:>9} {row['mb']:>5}  {row['tool']:<26} {row['seconds']:>8} {row['mb_per_s']:>7} "
              f"{row['max_rss_mb']:>10}")
    (out_dir / "results.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
