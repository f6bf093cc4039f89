"""Large mboxes (issue 33): `imapwright migrate plan` of one user whose INBOX is a single mbox of
N ordinary messages, beside two references run on the same file in the same round:

- Python's mailbox.mbox counting the messages (a lower bar a good reader should reach), and
- `grep -c '^From '` (the floor: one pass over the bytes).

With --maildir (--mh), a Maildir (an MH folder) of the same messages, one file each, is planned
too, beside mailbox.Maildir (mailbox.MH) reading every file once and `find | wc -l` (listing only)
in the same rounds.

Each is a subprocess of its own, timed by wall clock, its peak memory from the kernel (ru_maxrss
of the child). Rounds rotate the order. Prints a table and writes results.json under
reports/benchmarks/migrate_large/.

With --servers, the same file is then migrated as a user would (`imapwright servers start`, then
`migrate apply --target` with each of --methods into an account of its own, then `migrate verify`
of it), each step timed with its peak memory, and the CPU of the harness's process beside the
server container's over the step: whichever used more of the machine's cores saturated.

    python3 benchmarks/migrate_large.py --messages 10000,100000 --rounds 2
    python3 benchmarks/migrate_large.py --messages 100000 --rounds 1 --servers cyrus:3.6,dovecot:2.3
    python3 benchmarks/migrate_large.py --messages 100000 --rounds 1 --servers cyrus:3.6 \
        --methods append --users 8 --jobs 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT_DIR = Path("reports/benchmarks/migrate_large")
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


def write_maildir(path: Path, count: int) -> int:
    """A Maildir of the same `count` messages as write_mbox, one file each in cur/ (seen), as a
    mail client leaves them; their total size."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True)
    size = 0
    for i in range(count):
        content = (f"Return-Path: <sender{i % 97}@example.org>\nFrom: Sender <sender{i % 97}@example.org>\n"
                   f"To: user@example.org\nSubject: message {i}\nMessage-ID: <{i}.bench@example.org>\n"
                   f"Date: Tue, 29 Nov 2026 07:44:52 +0000\n\n{BODY}").encode()
        (path / "cur" / f"1764402292.M{i}P1.bench:2,S").write_bytes(content)
        size += len(content)
    return size


def write_mh(path: Path, count: int) -> int:
    """An MH folder of the same `count` messages, files 1..count, the first half in "unseen" and
    every tenth "flagged" in .mh_sequences, as nmh leaves a folder; their total size."""
    path.mkdir(parents=True)
    size = 0
    for i in range(count):
        content = (f"Return-Path: <sender{i % 97}@example.org>\nFrom: Sender <sender{i % 97}@example.org>\n"
                   f"To: user@example.org\nSubject: message {i}\nMessage-ID: <{i}.bench@example.org>\n"
                   f"Date: Tue, 29 Nov 2026 07:44:52 +0000\n\n{BODY}").encode()
        (path / str(i + 1)).write_bytes(content)
        size += len(content)
    flagged = " ".join(str(n) for n in range(1, count + 1, 10))
    (path / ".mh_sequences").write_text(f"unseen: 1-{max(1, count // 2)}\nflagged: {flagged}\n")
    return size


FILE_LAYOUTS = {"Maildir": write_maildir, "MH": write_mh}


def machine_ticks() -> tuple[int, int]:
    """(busy, iowait) clock ticks of the whole machine so far (/proc/stat): what neither the
    harness's nor the container's CPU shows (dockerd, the kernel's page cache, waiting on disk)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq + steal, iowait


def timed(cmd: list[str], cwd: Path, env: dict | None = None, server_cpu=None) -> dict:
    """A child run to its end: seconds, peak RSS in MB, CPU seconds (its own), the server's CPU
    seconds over the same time (`server_cpu()`, if given), the machine's busy and iowait cores,
    exit code and last line of output."""
    before = server_cpu() if server_cpu else None
    ticks = machine_ticks()
    started = time.perf_counter()
    # A fresh process reports its own peak: wait4's rusage is the child's alone.
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()  # read while it runs: a full pipe would stop it
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    busy, iowait = (after - first for after, first in zip(machine_ticks(), ticks))
    hz = os.sysconf("SC_CLK_TCK")
    proc.stdout.close()
    out = output.strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # a row all the same (the server gave way at a million: that is a result)
        print(f"  {' '.join(cmd[:3])} failed ({code}): {out[-1] if out else ''}", flush=True)
    return {"seconds": seconds, "rss": usage.ru_maxrss // 1024, "cpu": usage.ru_utime + usage.ru_stime,
            "server_cpu": server_cpu() - before if server_cpu else None, "code": code,
            "machine_busy": busy / hz / seconds, "machine_iowait": iowait / hz / seconds,
            "said": out[-1] if out else "", "output": output}


def _cgroup_cpu(container: str):
    """A function giving the container's CPU seconds so far (its cgroup's counter)."""
    from imapwright.load.cpu import cgroup_cpu_file, read_cgroup_cpu
    ident = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", container], capture_output=True, text=True,
                           check=True).stdout.strip()
    path = cgroup_cpu_file(ident)
    if path is None:
        raise SystemExit(f"no CPU counter found for container {container}")
    return lambda: read_cgroup_cpu(path) or 0.0


def apply_rows(server: str, methods: list[str], mboxes: list[Path], count: int, size: int, work: Path,
               jobs: list[int], options: list[str] = ()) -> list[dict]:
    """`servers start`, then per method and --jobs value: `migrate apply --target` of the users
    (one per mbox in `mboxes`) into accounts of their own, and `migrate verify` of them;
    `servers stop` whatever happens."""
    started = subprocess.run(["imapwright", "servers", "start", server, "--password-file", str(work / "pw")]
                             + [arg for option in options for arg in ("--option", option)],
                             capture_output=True, text=True)
    if started.returncode != 0:
        raise SystemExit(f"servers start {server}: {started.stderr.strip()[-300:]}")
    container = re.search(r"container=(\S+)", started.stdout)[1]
    target = re.search(r"target: --target '([^']+)'", started.stdout)[1]
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": (work / "pw").read_text().strip()}
    rows = []
    try:
        server_cpu = _cgroup_cpu(container)
        runs = [(m, j, [f"big{m}{j}u{k}" for k in range(len(mboxes))]) for m in methods for j in jobs]
        (work / "users").write_text("".join(f"{u}\n" for _m, _j, names in runs for u in names))
        made = subprocess.run(["imapwright", "admin", "addusers", str(work / "users"), "--target", target,
                               "--quota", str(100 << 20), "--folders", ""], env=env, capture_output=True, text=True)
        if made.returncode != 0:
            raise SystemExit(f"addusers on {server}: {(made.stdout + made.stderr).strip()[-300:]}")
        for method, j, names in runs:
            source = work / f"apply-{method}-{j}"
            for name, mbox in zip(names, mboxes):
                (source / name).mkdir(parents=True)
                os.link(mbox, source / name / "INBOX")  # the same files, other users
            label = f"{method}" + (f", {len(names)} users, --jobs {j}" if len(mboxes) > 1 else "")
            for step, cmd in (("apply", ["imapwright", "migrate", "apply", str(source), "--target", target,
                                         "--method", method, "--jobs", str(j)]),
                              ("verify", ["imapwright", "migrate", "verify", str(source), "--target", target,
                                          "--method", method])):
                r = timed(cmd, work, env, server_cpu)
                if r["code"] != 0:  # kept where the results go: the work folder is removed
                    failed = OUT_DIR / f"{server}-{method}-{j}-{step}.out".replace(":", "-")
                    failed.write_text(r["output"])
                    print(f"  {server} {step} ({method}) exit {r['code']}: see {failed}")
                rows.append({"messages": count, "mb": round(size / 1e6), "tool": f"{server} {step} ({label})",
                             "seconds": round(r["seconds"], 2), "mb_per_s": round(size / 1e6 / r["seconds"], 1),
                             "messages_per_s": round(count / r["seconds"]), "max_rss_mb": r["rss"],
                             "harness_cores": round(r["cpu"] / r["seconds"], 2),
                             "server_cores": round(r["server_cpu"] / r["seconds"], 2),
                             "machine_busy": round(r["machine_busy"], 2), "machine_iowait": round(r["machine_iowait"], 2),
                             "exit": r["code"],
                             "said": r["said"][:60]})
                print(f"  {rows[-1]['tool']}: {rows[-1]['seconds']} s, exit {r['code']}", flush=True)
            shutil.rmtree(source)
    finally:
        subprocess.run(["imapwright", "servers", "stop", container], capture_output=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", default="10000,100000", help="comma-separated message counts")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--servers", default="", help="also apply and verify on these, e.g. cyrus:3.6,dovecot:2.3")
    parser.add_argument("--methods", default="append,copy", help="migration methods for --servers")
    parser.add_argument("--maildir", action="store_true",
                        help="also plan a Maildir of the same messages (one file each) beside mailbox.Maildir")
    parser.add_argument("--mh", action="store_true",
                        help="also plan an MH folder of the same messages (one numbered file each) beside mailbox.MH")
    parser.add_argument("--users", type=int, default=1,
                        help="for --servers: the messages spread over this many users (one mbox each)")
    parser.add_argument("--server-option", action="append", default=[], metavar="KEY=VALUE",
                        help="for --servers: a server setting (servers start --option), repeatable")
    parser.add_argument("--jobs", default="1", help="for --servers: comma-separated `migrate apply --jobs` values")
    args = parser.parse_args()
    counts = [int(c) for c in args.messages.split(",")]
    servers = [x for x in args.servers.split(",") if x]
    out_dir = OUT_DIR
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
            file_sizes: dict[str, int] = {}  # the Maildir and MH rows: their files' total
            for r in range(args.rounds):
                order = list(commands)[r % len(commands):] + list(commands)[:r % len(commands)]
                for name in order:
                    results[name].append(timed(commands[name], Path(tmp)))
            for layout in [x for x, wanted in (("Maildir", args.maildir), ("MH", args.mh)) if wanted]:
                tree = Path(tmp) / f"{layout}{count}"
                folder = tree / "user" / "INBOX"
                files = FILE_LAYOUTS[layout](folder, count)
                commands_f = {
                    f"imapwright migrate plan ({layout})": ["imapwright", "migrate", "plan", str(tree)],
                    # len() only lists the files; a plan reads every file's header: the
                    # comparable bar reads every file once (get_bytes, no parsing).
                    f"mailbox.{layout} read every file": [
                        sys.executable, "-c", f"import mailbox, sys; md = mailbox.{layout}(sys.argv[1], create=False); "
                        "print(sum(len(md.get_bytes(k)) for k in md.keys()))", str(folder)],
                    f"find -type f | wc -l ({layout})": ["sh", "-c", f"find {folder} -type f | wc -l"],
                }
                for r in range(args.rounds):
                    order = list(commands_f)[r % 3:] + list(commands_f)[:r % 3]
                    for name in order:
                        results.setdefault(name, []).append(timed(commands_f[name], Path(tmp)))
                file_sizes.update(dict.fromkeys(commands_f, files))
                shutil.rmtree(tree)
            for name, runs in results.items():
                best = min(runs, key=lambda r: r["seconds"])
                mb = file_sizes.get(name, size) / 1e6
                rows.append({"messages": count, "mb": round(mb), "tool": name,
                             "seconds": round(best["seconds"], 2), "mb_per_s": round(mb / best["seconds"], 1),
                             "max_rss_mb": max(r["rss"] for r in runs), "said": best["said"][:60]})
            mboxes = [source / "user" / "INBOX"]
            if servers and args.users > 1:  # the same messages over several users' files
                (source / "user" / "INBOX").unlink()
                mboxes = []
                for k in range(args.users):
                    (source / f"u{k}").mkdir()
                    write_mbox(source / f"u{k}" / "INBOX", count // args.users)
                    mboxes.append(source / f"u{k}" / "INBOX")
            for server in servers:
                rows += apply_rows(server, args.methods.split(","), mboxes, count, size, Path(tmp),
                                   [int(j) for j in args.jobs.split(",")], args.server_option)
            for mbox in mboxes:
                mbox.unlink()
    print(f"{'messages':>9} {'MB':>5}  {'tool':<48} {'seconds':>8} {'MB/s':>7} {'max RSS MB':>10} {'cores: harness / server':>24} {'machine: busy / iowait':>23}")
    for row in rows:
        cores = f"{row['harness_cores']} / {row['server_cores']}" if "server_cores" in row else ""
        machine = f"{row['machine_busy']} / {row['machine_iowait']}" if "machine_busy" in row else ""
        print(f"{row['messages']:>9} {row['mb']:>5}  {row['tool']:<48} {row['seconds']:>8} {row['mb_per_s']:>7} "
              f"{row['max_rss_mb']:>10} {cores:>24} {machine:>23}")
    (out_dir / "results.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
