"""Who saturated first: the load generator's CPU (each Locust process, from /proc) beside the server
container's (its cgroup's CPU counter), sampled through a run, and the verdict drawn from them.

A run is "generator-bound" when some Locust process wanted more than 90% of a core for more than 10%
of the run: its figures then measure the harness as much as the server (issue #20). "Wanted": the
CPU it got, or the share of 20 Hz glimpses that found it runnable (state R), whichever is more, so a
generator starved by other processes on a busy machine counts too (this kernel keeps no run-queue
wait times: /proc/PID/schedstat reads zeros).
"""

from __future__ import annotations

import glob
import os
import threading
import time
from dataclasses import dataclass, field

TICK = os.sysconf("SC_CLK_TCK")
BUSY = 0.9  # of one core, for one Locust process
BOUND_SHARE = 0.10  # of the run's intervals


def process_tree_cpu(root: int, include_reaped: bool = False) -> dict[int, float]:
    """pid -> CPU seconds (user + system) of `root` and each live descendant, from /proc; with
    `include_reaped`, each process's count also holds its reaped children's."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = sum(int(f) for f in fields[11:15 if include_reaped else 13]) / TICK
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in cpu:
            out[pid] = cpu[pid]
        todo += [child for child, parent in parents.items() if parent == pid]
    return out


def cgroup_cpu_file(container_id: str) -> str | None:
    """The file holding a docker container's CPU usage: cgroup v1 cpuacct.usage (ns) or v2
    cpu.stat (usage_usec); None where neither is readable (a remote docker, another runtime)."""
    for pattern in (f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage",
                    f"/sys/fs/cgroup/cpu,cpuacct/docker/{container_id}/cpuacct.usage",
                    f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat",
                    f"/sys/fs/cgroup/docker/{container_id}/cpu.stat"):
        found = glob.glob(pattern)
        if found and os.access(found[0], os.R_OK):
            return found[0]
    return None


def read_cgroup_cpu(path: str) -> float | None:
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return None
    if path.endswith("cpuacct.usage"):
        return int(text.strip()) / 1e9
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    return None


def _runnable(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"R"
    except OSError:
        return False


@dataclass
class CPUSampler:
    """Samples once a second in a thread: (time, {pid: [CPU seconds, runnable glimpses, glimpses]},
    server CPU seconds or None); between samples it glimpses at each process's state 20 times."""
    root: int
    server_file: str | None = None
    interval: float = 1.0
    glimpses: int = 20
    include_reaped: bool = False  # count reaped children too (a benchmark's Locust workers end first)
    samples: list[tuple[float, dict[int, list[float]], float | None]] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imapwright-cpu", daemon=True)
        self._seen: dict[int, list[int]] = {}  # pid -> [runnable, glimpses] so far

    def _sample(self) -> list[int]:
        server = read_cgroup_cpu(self.server_file) if self.server_file else None
        cpu = process_tree_cpu(self.root, self.include_reaped)
        self.samples.append((time.time(), {pid: [seconds, *self._seen.get(pid, [0, 0])]
                                           for pid, seconds in cpu.items()}, server))
        return list(cpu)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = self._sample()
            for _ in range(self.glimpses):
                if self._stop.wait(self.interval / self.glimpses):
                    return
                for pid in pids:
                    seen = self._seen.setdefault(pid, [0, 0])
                    seen[0] += _runnable(pid)
                    seen[1] += 1

    def start(self) -> CPUSampler:
        self._thread.start()
        return self

    def stop(self) -> list:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.samples


def _triple(value) -> tuple[float, float, float]:
    """A process's sample: CPU seconds, or [CPU seconds, runnable glimpses, glimpses]."""
    return (float(value), 0.0, 0.0) if isinstance(value, (int, float)) else tuple(value)


def analyse(samples: list[tuple[float, dict[int, float], float | None]], cores: int | None = None,
            since: float | None = None) -> dict:
    """Per interval: the busiest Locust process's share of a core, all of Locust's CPU in cores,
    the server's in cores; the generator-bound verdict and when each side first ran flat out.
    `since` (epoch seconds, the first request): Locust's start-up before it is not judged."""
    cores = cores or os.cpu_count() or 1
    points = []
    for (t0, gen0, srv0), (t1, gen1, srv1) in zip(samples, samples[1:]):
        span = t1 - t0
        if span <= 0 or (since is not None and t0 < since):
            continue
        per_process, wanted = [], []
        for p in gen1:
            if p in gen0:
                a, b = _triple(gen0[p]), _triple(gen1[p])
                got = (b[0] - a[0]) / span
                glimpses = b[2] - a[2]
                per_process.append(got)
                wanted.append(max(got, (b[1] - a[1]) / glimpses if glimpses else 0.0))
        points.append({"t": round(t1 - samples[0][0], 2),
                       "busiest": round(max(wanted, default=0.0), 3),
                       "generator": round(sum(per_process), 3),
                       "server": None if srv0 is None or srv1 is None else round((srv1 - srv0) / span, 3)})
    busy = [p for p in points if p["busiest"] > BUSY]
    server_known = [p for p in points if p["server"] is not None]
    # The server "runs flat out" when it uses nearly all the cores Locust leaves it.
    server_busy = [p for p in server_known if p["server"] + p["generator"] > BUSY * cores and p["server"] > 0.5]
    bound = bool(points) and len(busy) / len(points) > BOUND_SHARE
    return {"points": points, "cores": cores, "generator_bound": bound,
            "busy_share": round(len(busy) / len(points), 3) if points else 0.0,
            "generator_busy_from": busy[0]["t"] if busy else None,
            "server_busy_from": server_busy[0]["t"] if server_busy else None,
            "server_measured": bool(server_known)}


def workers_bound(workers: dict) -> list[str]:
    """Workers on other hosts (workers.json) whose own CPU reports were above 90% of a core for
    more than 10% of their samples: the same rule as for local processes."""
    out = []
    for worker_id, node in workers.items():
        samples = node.get("cpu", [])
        if samples and sum(pct > BUSY * 100 for _t, pct in samples) / len(samples) > BOUND_SHARE:
            out.append(f"worker {node.get('index', '?')} ({worker_id})")
    return out


def saturated_first(cpu: dict, until: float | None = None) -> str:
    """"generator", "server" or "neither": which side ran flat out first (before `until`, seconds
    into the run, e.g. the end of the capacity step where the threshold was crossed)."""
    gen, srv = cpu.get("generator_busy_from"), cpu.get("server_busy_from")
    if until is not None:
        gen = gen if gen is not None and gen <= until else None
        srv = srv if srv is not None and srv <= until else None
    if gen is None and srv is None:
        return "neither"
    if srv is None or (gen is not None and gen <= srv):
        return "generator"
    return "server"
