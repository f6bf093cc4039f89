"""Upgrade by replication, the path large sites take (Cyrus's upgrade guide: replicate to a server
of the new version, then switch over).

FROM is populated (admin/store.py) and becomes the master, TO (the new version, on its own fresh
volume) the replica. A full initial sync, then rolling replication while traffic keeps changing
FROM: LMTP deliveries to every account and flag changes by IMAP sessions, each acknowledged
delivery written down; a probe delivery at a time measures how long a message takes to appear on
the replica (the replication lag under that load). Then the switch: traffic stopped, replication
drained (the master's change log empty), FROM snapshotted and stopped, TO restarted as a primary
and snapshotted. The two snapshots must match but for the pair's listed differences, and every
delivery FROM acknowledged must be on TO. Where replication between the versions does not work,
that is the result (the tools' and servers' own output), not a crash of the harness."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from ..catalogue import ServerSpec
from ..errors import ServerError
from ..servers import log_gate
from ..stores.snapshot import status_problems, store_snapshot
from ..stores.tree import fetch_chunked
from ..stores.store import StoreSize, populate_store
from .upgrade import Pair, StepResult, UpgradeResult, _counts, _output, classify, find_pair, run_step

PROBE_TIMEOUT = 30.0  # a probe not on the replica by then counts as lost for the lag figure
DRAIN_TIMEOUT = 120.0
FLAG_RUN = 20  # flag changes a traffic session makes before it moves on to another user


@dataclass
class ReplicationResult(UpgradeResult):
    """An upgrade's result (versions, steps, findings, server health) and what replication adds."""
    traffic: dict = field(default_factory=dict)  # deliveries, flag changes, duration
    lag: dict = field(default_factory=dict)  # probes: count, lost, p50/p95/max seconds
    switch: dict = field(default_factory=dict)  # drain, stop, promote, total seconds
    deliveries: dict = field(default_factory=dict)  # acknowledged, on the replica, missing

    @property
    def passed(self) -> bool:
        return super().passed and not self.deliveries.get("missing_count")

    def as_dict(self) -> dict:
        return {**super().as_dict(), "via": "replication"}


class Traffic:
    """Deliveries and flag changes on the master until stopped; every acknowledged delivery is
    kept (recipient, Message-ID). A probe thread delivers one message at a time to one account and
    waits for it on the replica: the lag samples."""

    def __init__(self, master, replica, accounts: list[str], senders: int = 2, seed: int = 1):
        self.master, self.replica, self.accounts = master, replica, accounts
        self.senders = senders
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[str, str]] = []
        self.refused: list[str] = []
        self.flag_changes = 0
        self.lags: list[float] = []
        self.lost_probes: list[str] = []
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        work = [self._sender] * self.senders + [self._flagger, self._prober]
        self.threads = [threading.Thread(target=self._guard, args=(fn, n), daemon=True) for n, fn in enumerate(work)]
        self.started = time.monotonic()
        for t in self.threads:
            t.start()

    def stop(self) -> float:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=PROBE_TIMEOUT + 10)
        return round(time.monotonic() - self.started, 2)

    def _guard(self, fn, n: int) -> None:
        try:
            fn(n)
        except Exception as exc:  # a traffic thread that dies is said in the result, not lost
            with self.lock:
                self.errors.append(f"{fn.__name__.strip('_')} {n}: {type(exc).__name__}: {exc}")

    def _message(self, tag: str, n: int) -> tuple[str, bytes]:
        mid = f"<repl-{tag}-{n}-{time.monotonic_ns()}@imapwright.test>"
        return mid, (f"From: load@imapwright.test\r\nSubject: replication {tag} {n}\r\nMessage-ID: {mid}\r\n"
                     f"Date: {datetime.now(UTC):%a, %d %b %Y %H:%M:%S +0000}\r\n\r\n{'x' * 200}\r\n").encode()

    def _sender(self, n: int) -> None:
        count = 0
        rng = random.Random(n)
        with self.master.lmtp_client() as lmtp:
            while not self.stop_event.is_set():
                user = rng.choice(self.accounts)
                mid, data = self._message(f"s{n}", count)
                [result] = lmtp.deliver(data, [f"{user}@imapwright.test"])
                with self.lock:
                    (self.acknowledged if result.accepted else self.refused).append(
                        (user, mid) if result.accepted else f"{user} {mid}: {result.code} {result.text}")
                count += 1
                time.sleep(0.01)

    def _flagger(self, n: int) -> None:
        """A mail client's flag changes: a session per user for a while (FLAG_RUN changes), then
        the next user; not a login per change."""
        rng = random.Random(100 + n)
        while not self.stop_event.is_set():
            user = rng.choice(self.accounts)
            with self.master.user_session(user) as client:
                client.select_folder("INBOX")
                for _ in range(FLAG_RUN):
                    if self.stop_event.is_set():
                        break
                    uids = client.search()
                    if uids:
                        uid = rng.choice(uids)
                        flag = rng.choice([b"\\Flagged", b"\\Seen", b"$Replicated"])
                        (client.add_flags if rng.random() < 0.6 else client.remove_flags)([uid], [flag])
                        with self.lock:
                            self.flag_changes += 1
                    time.sleep(0.02)

    def _prober(self, n: int) -> None:
        user = self.accounts[0]
        count = 0
        while not self.stop_event.is_set():
            mid, data = self._message("probe", count)
            count += 1
            with self.master.lmtp_client() as lmtp:
                [result] = lmtp.deliver(data, [f"{user}@imapwright.test"])
            sent = time.monotonic()
            if not result.accepted:
                with self.lock:
                    self.refused.append(f"{user} {mid}: {result.code} {result.text}")
                continue
            with self.lock:
                self.acknowledged.append((user, mid))
            with self.replica.user_session(user) as client:
                client.select_folder("INBOX", readonly=True)
                while not client.search(["HEADER", "Message-ID", mid]):
                    if time.monotonic() - sent > PROBE_TIMEOUT:
                        self.lost_probes.append(mid)
                        break
                    time.sleep(0.05)
                    client.noop()  # lets the server tell this session about new messages
                else:
                    self.lags.append(time.monotonic() - sent)

    def lag_summary(self) -> dict:
        lags = sorted(self.lags)
        if not lags:
            return {"probes": 0, "lost": len(self.lost_probes)}
        return {"probes": len(lags), "lost": len(self.lost_probes), "p50": round(statistics.median(lags), 3),
                "p95": round(lags[min(len(lags) - 1, int(0.95 * len(lags)))], 3), "max": round(lags[-1], 3)}


def missing_on(server, acknowledged: list[tuple[str, str]]) -> list[str]:
    """Acknowledged deliveries (user, Message-ID) that are not in the user's INBOX on `server`."""
    by_user: dict[str, set[str]] = {}
    for user, mid in acknowledged:
        by_user.setdefault(user, set()).add(mid)
    missing = []
    for user, wanted in sorted(by_user.items()):
        with server.user_session(user) as client:
            client.select_folder("INBOX", readonly=True)
            uids = client.search()
            found = set()
            for data in fetch_chunked(client, uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values():
                header = data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"").decode(errors="replace")
                found |= {line.split(":", 1)[1].strip() for line in header.splitlines() if ":" in line}
        missing += [f"{user} {mid}" for mid in sorted(wanted - found)]
    return missing


def run_replication(from_spec: ServerSpec, to_spec: ServerSpec, size: StoreSize, duration: float = 20.0,
                    progress: Callable[[str, int | None, int | None], None] = lambda *_: None,
                    pair: Pair | None = None,
                    observe: Callable[[str, object, object], None] = lambda *_: None) -> ReplicationResult:
    """The whole switch-over; never raises for what the servers do (that is the result), only for
    the harness's own trouble. `observe(stage, server, store)`: at "drained" (FROM, before its
    snapshot) and "promoted" (TO serving, before its snapshot)."""
    from ..servers.managed import start_server

    pair = pair or find_pair(from_spec.name, to_spec.name)
    result = ReplicationResult(from_spec.name, to_spec.name, size=asdict(size), reference=pair.reference,
                               prerequisite=pair.prerequisite)

    def timed(stage: str, fn):
        start = time.perf_counter()
        try:
            return fn()
        finally:
            result.timings[stage] = round(time.perf_counter() - start, 2)

    progress(f"starting {to_spec.name} as the replica", None, None)
    since = datetime.now(UTC)
    replica = timed(f"start {to_spec.name}", lambda: start_server(to_spec, replica=True))
    master = None
    try:
        if not replica.replicates:
            raise ServerError(f"{to_spec.name}: upgrade by replication is not available for this family")
        progress(f"starting {from_spec.name}", None, None)
        master = timed(f"start {from_spec.name}", lambda: start_server(from_spec))
        result.versions = {from_spec.name: master.version, to_spec.name: replica.version}
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress("populating", done[0], size.users)
        store = timed("populate", lambda: populate_store(master, size, progress=advance))
        result.store_notes = store.skipped
        accounts = sorted(store.accounts)
        # Read as the admin acting for each user on both sides: the users' passwords live in the
        # master's authentication database, which replication does not copy (sites share one).
        by_proxy = {user: None for user in accounts}
        # What a site's servers share (accounts, groups) before the replica is written to, and the
        # pair's documented steps for the replica's copy of it (fixtures/upgrade/pairs.toml).
        master.share_directory(replica)
        for step in pair.replication_steps:
            if step.when == "before-sync":
                result.steps.append(run_step(replica, step, since))
        progress("initial sync", None, None)
        master.reconfigure(**master.replication_settings(replica))
        res = timed("initial sync", lambda: master.replication_pass(replica))
        result.steps.append(StepResult(f"initial sync ({' '.join(res.argv[:2])})", pair.reference,
                                       result.timings["initial sync"], res.exit_code == 0,
                                       _output(f"$ {' '.join(res.argv)}  (exit {res.exit_code})\n{res.stdout}{res.stderr}")))
        if res.exit_code != 0:
            result.failed = "initial sync"
            result.server_health = {from_spec.name: log_gate.server_health(master, since, "upgrade"),
                                    to_spec.name: log_gate.server_health(replica, since, "upgrade")}
            return result
        passes = None
        if master.replication_rolling == "daemon":
            master.rolling_sync = True
            timed("start rolling replication", master.reconfigure)  # the master process runs sync_client -r
        else:
            passes = Passes(master, replica)
            passes.start()
        progress(f"rolling replication under traffic ({duration:.0f} s)", None, None)
        traffic = Traffic(master, replica, accounts)
        traffic.start()
        end = time.monotonic() + duration
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            progress(f"rolling replication under traffic: {len(traffic.acknowledged)} deliveries, "
                     f"{traffic.flag_changes} flag changes", None, None)
        stopped_at = time.monotonic()
        result.traffic = {"seconds": traffic.stop(), "deliveries": len(traffic.acknowledged),
                          "refused": traffic.refused[:20], "flag_changes": traffic.flag_changes,
                          "errors": traffic.errors}
        result.lag = traffic.lag_summary()
        result.problems += [f"traffic: {e}" for e in traffic.errors]
        result.problems += [f"refused by {from_spec.name}: {r}" for r in traffic.refused[:20]]
        # The switch: drained, FROM snapshotted and stopped, TO a primary.
        progress("draining replication", None, None)
        drained = _drain(master) if passes is None else passes.drain()
        if passes is not None:
            result.traffic["passes"] = passes.summary()
        result.switch["drain"] = round(time.monotonic() - stopped_at, 2)
        if drained:
            result.failed = "drain"
            result.findings.append(f"replication did not drain within {DRAIN_TIMEOUT:.0f} s: {drained}")
            result.server_health = {from_spec.name: log_gate.server_health(master, since, "upgrade"),
                                    to_spec.name: log_gate.server_health(replica, since, "upgrade")}
            return result
        observe("drained", master, store)
        progress("snapshot of the master", None, None)
        before = timed("snapshot before the switch", lambda: store_snapshot(master, by_proxy, notes=result.store_notes))
        result.counts = _counts(before)
        result.server_health[from_spec.name] = log_gate.server_health(master, since, "upgrade")
        promote_start = time.monotonic()
        master.stop()
        master = None
        replica.sync_port = 0  # a primary now: no sync_server
        timed(f"promote {to_spec.name}", replica.reconfigure)
        for step in pair.replication_steps:
            if step.when == "after-switch":
                result.steps.append(run_step(replica, step, since))
        result.switch["stop and promote"] = round(time.monotonic() - promote_start, 2)
        # The admin's switch: drain, stop, promote (the harness's own snapshot between is not part of it).
        result.switch["total"] = round(result.switch["drain"] + result.switch["stop and promote"], 2)
        observe("promoted", replica, store)
        progress("snapshot of the new primary", None, None)
        try:
            after = timed("snapshot after the switch", lambda: store_snapshot(replica, by_proxy,
                                                                              notes=result.store_notes))
        except Exception as exc:
            result.failed = "snapshot after the switch"
            result.findings.append(f"the replica's store could not be read: {type(exc).__name__}: {exc}")
            return result
        classified = classify(before, after, pair.replication_expected)
        result.findings, result.explained, result.stale = classified.findings, classified.explained, classified.stale
        result.problems += [f"{from_spec.name} before the switch: {p}" for p in status_problems(before)]
        result.findings += [f"{to_spec.name} after the switch: {p}" for p in status_problems(after)]
        missing = missing_on(replica, traffic.acknowledged)
        result.deliveries = {"acknowledged": len(traffic.acknowledged), "on the replica": len(traffic.acknowledged) - len(missing),
                             "missing": missing[:50], "missing_count": len(missing)}
        result.server_health[to_spec.name] = log_gate.server_health(replica, since, "upgrade")
        return result
    except ServerError as exc:
        result.failed = result.failed or "servers"
        result.findings.append(str(exc))
        return result
    finally:
        if master is not None:
            master.stop()
        replica.stop()


class Passes:
    """Rolling replication as repeated passes over every account (Dovecot 2.4 has no replicator):
    a thread runs one pass after another until drained; `drain` waits for the running pass,
    then runs the last one (everything acknowledged before it was called is in it)."""

    def __init__(self, master, replica):
        self.master, self.replica = master, replica
        self.stop_event = threading.Event()
        self.seconds: list[float] = []
        self.failures: list[str] = []

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self._one()

    def _one(self) -> bool:
        start = time.monotonic()
        res = self.master.replication_pass(self.replica)
        self.seconds.append(time.monotonic() - start)
        if res.exit_code != 0:
            self.failures.append(_output(f"$ {' '.join(res.argv)}  (exit {res.exit_code})\n{res.stdout}{res.stderr}", 2000))
        return res.exit_code == 0

    def drain(self) -> str:
        self.stop_event.set()
        self.thread.join(timeout=DRAIN_TIMEOUT)
        if self.thread.is_alive():
            return f"a replication pass still running after {DRAIN_TIMEOUT:.0f} s"
        return "" if self._one() else f"the last pass failed: {self.failures[-1]}"

    def summary(self) -> dict:
        s = sorted(self.seconds)
        return {"count": len(s), "failed": len(self.failures), "median_seconds": round(statistics.median(s), 2) if s else None,
                "failures": self.failures[:3]}


def _drain(master) -> str:
    """Wait until the master's change log is empty; "" when drained, else what is left."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        backlog = master.replication_backlog()
        if backlog == 0:
            return ""
        time.sleep(0.1)
    return f"{master.replication_backlog()} changes still logged"
