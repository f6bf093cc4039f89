"""Upgrade validation: populate a store on one version, upgrade it in place to another, prove
nothing changed that should not.

FROM starts on a fresh volume and is populated (admin/store.py) and snapshotted; FROM stops with
its data kept; TO starts on the same volume; the version pair's documented steps run
(fixtures/upgrade/pairs.toml); a second snapshot is compared with the first. Each difference is
either explained by an expected change the pair lists (with its reason and reference) or is a
finding. A step or start that fails is a finding too, with the server's own output.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..catalogue import ServerSpec
from ..errors import ServerError, UserError
from ..resources import fixture
from ..report.compare import conformance_changes, read_run
from ..servers import log_gate
from ..servers.logs import trouble_tail
from ..stores.snapshot import Snapshot, differences, status_problems, store_snapshot
from ..stores.store import Store, StoreSize, populate_store, store_problems



@dataclass(frozen=True)
class Step:
    name: str
    reference: str
    kind: str = "exec"  # "exec": run in the new container; "start": done by the new server's start
    run: tuple[str, ...] = ()
    user: str = "tool"
    log: str = ""  # kind "start": the log program whose lines are the step's output
    why: str = ""  # the measurement behind a step no upgrade guide names
    when: str = ""  # replication steps: "before-sync" (on the replica's copy of the directory) or "after-switch"


@dataclass(frozen=True)
class Expected:
    kind: str
    value: str
    reason: str
    reference: str
    # A difference that shows only where the data happens to meet a condition (a usage crossing
    # a KB boundary): not reported as stale in a run where it did not occur. Tests that make the
    # condition hold check that it still occurs.
    sometimes: bool = False


@dataclass(frozen=True)
class Pair:
    from_: str
    to: str
    reference: str
    prerequisite: str
    steps: tuple[Step, ...]
    expected: tuple[Expected, ...] = ()
    # Upgrade by replication (admin/replicate.py): what a replica of the new version legitimately
    # holds differently from its master at the switch.
    replication_expected: tuple[Expected, ...] = ()
    replication_steps: tuple[Step, ...] = ()  # documented steps the replica needs (see Step.when)


def load_pairs(path: Path | None = None) -> dict[tuple[str, str], Pair]:
    data = tomllib.loads((path or fixture("upgrade", "pairs.toml")).read_text())
    pairs = {}
    for p in data.get("pair", []):
        steps, replication_steps = (tuple(Step(s["name"], s["reference"], s.get("kind", "exec"), tuple(s.get("run", ())),
                                               s.get("user", "tool"), s.get("log", ""), s.get("why", ""), s.get("when", ""))
                                          for s in p.get(key, [])) for key in ("step", "replication_step"))
        for s in replication_steps:
            if s.when not in ("before-sync", "after-switch") or s.kind != "exec":
                raise ValueError(f"{path}: replication step {s.name!r}: kind exec, when before-sync or after-switch")
        expected, replication = (tuple(Expected(e["kind"], e.get("value", ""), e["reason"], e["reference"],
                                                e.get("sometimes", False))
                                       for e in p.get(key, [])) for key in ("expected", "replication_expected"))
        for e in expected + replication:
            if e.kind not in TRANSFORMS:
                raise ValueError(f"{path}: unknown expected kind {e.kind!r} (known: {', '.join(TRANSFORMS)})")
        pairs[(p["from"], p["to"])] = Pair(p["from"], p["to"], p["reference"], p.get("prerequisite", ""), steps, expected,
                                           replication, replication_steps)
    return pairs


def find_pair(from_: str, to: str) -> Pair:
    pairs = load_pairs()
    if (from_, to) not in pairs:
        known = ", ".join(f"{a} -> {b}" for a, b in pairs)
        raise UserError(f"no upgrade steps known for {from_} -> {to} (known: {known}); add them to {fixture('upgrade', 'pairs.toml')}")
    return pairs[(from_, to)]


# -- expected differences as transformations of the old snapshot -------------------------------------
def _acl_identifier_prefix(snapshot: Snapshot, value: str, _after: Snapshot) -> Snapshot:
    """ACL identifiers lose a leading `value` (a display change, not a rights change)."""
    out = copy.deepcopy(snapshot)
    for account in out.values():
        for folder in account["folders"].values():
            folder["acl"] = {(i[len(value):] if i.startswith(value) else i): r for i, r in folder["acl"].items()}
    return out


def _acl_empty_entries(snapshot: Snapshot, value: str, after: Snapshot) -> Snapshot:
    """Entries that appear with no rights at all (identifiers starting with `value`, "-": a
    negative entry that removes nothing) are taken as no change."""
    out = copy.deepcopy(snapshot)
    for user, account in out.items():
        for name, folder in account["folders"].items():
            later = after.get(user, {}).get("folders", {}).get(name, {}).get("acl", {})
            for identifier, rights in later.items():
                # No rights: "" (or the empty quoted string as the client hands it back)
                if identifier.startswith(value) and rights in ("", '""') and identifier not in folder["acl"]:
                    folder["acl"][identifier] = rights
    return out


def _sieve_scripts_in_quota(snapshot: Snapshot, value: str, after: Snapshot) -> Snapshot:
    """An account's Sieve scripts move into a mailbox of the account and count against its quota
    root `value` (the user's name for it, "INBOX"): its STORAGE usage may grow by the scripts'
    size (KB, rounded up, plus one for the message's own header). Any other growth stays a finding."""
    out = copy.deepcopy(snapshot)
    for user, account in out.items():
        scripts = account.get("sieve") or {}
        key = f"{value} STORAGE"
        if not scripts or key not in account["quota"] or key not in after.get(user, {}).get("quota", {}):
            continue
        (usage, limit), (new_usage, new_limit) = account["quota"][key], after[user]["quota"][key]
        bound = -(-sum(len(s["script"].encode()) for s in scripts.values()) // 1024) + 1
        if limit == new_limit and 0 < new_usage - usage <= bound:
            account["quota"][key] = [new_usage, limit]
    return out


TRANSFORMS: dict[str, Callable[[Snapshot, str, Snapshot], Snapshot]] = {
    "acl-identifier-prefix": _acl_identifier_prefix, "acl-empty-entries": _acl_empty_entries,
    "sieve-scripts-in-quota": _sieve_scripts_in_quota}


@dataclass
class Classified:
    findings: list[str]
    explained: list[dict]  # {"difference", "reason", "reference"}
    stale: list[dict]  # expected changes that explained nothing: the list is out of date


def classify(before: Snapshot, after: Snapshot, expected: tuple[Expected, ...]) -> Classified:
    """A difference is explained by an expected change if it disappears when that change is applied
    to the old snapshot; what remains with all of them applied is a finding."""
    raw = differences(before, after)
    explained, stale = [], []
    for e in expected:
        # A difference is gone when nothing is left at its place (same where and what): an
        # ACL that also changed otherwise stays a finding, and is not counted as explained.
        remaining = {_place(d) for d in differences(TRANSFORMS[e.kind](before, e.value, after), after)}
        gone = [d for d in raw if _place(d) not in remaining]
        explained += [{"difference": d, "reason": e.reason, "reference": e.reference} for d in gone]
        if not gone and not e.sometimes:
            stale.append({k: v for k, v in asdict(e).items() if k != "sometimes"})
    transformed = before
    for e in expected:
        transformed = TRANSFORMS[e.kind](transformed, e.value, after)
    return Classified(differences(transformed, after), explained, stale)


def _place(difference: str) -> str:
    """Where and what a difference line is about, without the values: "ann/INBOX: acl "."""
    return re.split(r"[\[{(]", difference, maxsplit=1)[0]


# -- the workflow ---------------------------------------------------------------------------------
@dataclass
class StepResult:
    name: str
    reference: str
    seconds: float
    ok: bool
    output: str
    why: str = ""


@dataclass
class UpgradeResult:
    from_: str
    to: str
    versions: dict[str, str] = field(default_factory=dict)
    size: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    explained: list[dict] = field(default_factory=list)
    stale: list[dict] = field(default_factory=list)
    store_notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # FROM's store not as made, or a stage that failed
    counts: dict[str, int] = field(default_factory=dict)
    prerequisite: str = ""
    reference: str = ""
    failed: str = ""  # the stage that could not complete ("" when the upgrade ran to the end)
    # The log gate over each server's part (servers/log_gate.py): a crash or database error
    # while FROM made the store, or while TO started on it and ran the steps, fails the upgrade.
    server_health: dict[str, dict] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failed and not self.findings and not self.problems and all(s.ok for s in self.steps) \
            and all(h["clean"] for h in self.server_health.values())

    def as_dict(self) -> dict:
        return {**asdict(self), "from": self.from_, "passed": self.passed}


def _output(text: str, limit: int = 4000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "...\n" + text[-limit:]


def run_upgrade(from_spec: ServerSpec, to_spec: ServerSpec, size: StoreSize,
                progress: Callable[[str, int | None, int | None], None] = lambda *_: None,
                pair: Pair | None = None,
                observe: Callable[[str, object, object], None] = lambda *_: None) -> UpgradeResult:
    """The whole upgrade; never raises for what the servers do (that is the result), only for
    the harness's own trouble (no docker, no image). `pair`: steps other than the file's.
    `observe(stage, server, store)`: called at "before" (the store made, FROM running) and "after"
    (TO running, the steps done), before the harness's own snapshots of those moments."""
    return run_path([from_spec, to_spec], size, progress, [pair] if pair else None, observe).hops[0]


@dataclass
class PathResult:
    """An upgrade release by release on one mailstore: one UpgradeResult per hop (each compares
    the snapshot after it with the one before it) and the whole path, first snapshot against last,
    every hop's expected differences applied (what the first store had that the last lacks)."""

    servers: list[str]
    hops: list[UpgradeResult]
    end_to_end: dict = field(default_factory=dict)  # findings, explained, stale; empty if a hop stopped

    @property
    def passed(self) -> bool:
        return all(h.passed for h in self.hops) and len(self.hops) == len(self.servers) - 1 \
            and bool(self.end_to_end) and not self.end_to_end["findings"]

    def as_dict(self) -> dict:
        return {"servers": self.servers, "hops": [h.as_dict() for h in self.hops], "end_to_end": self.end_to_end,
                "passed": self.passed}


class Populated:
    """The store a path starts from: made by the harness on FROM (admin/store.py), at `size`."""
    stage = "populate"
    options: dict[str, object] = {}

    def __init__(self, size: StoreSize):
        self.size = size

    def describe(self) -> dict:
        return asdict(self.size)

    def start(self, spec: ServerSpec, progress):
        from ..servers.managed import start_server

        return start_server(spec)

    def make(self, server, progress) -> Store:
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress("populating", done[0], self.size.users)
        return populate_store(server, self.size, progress=advance)

    def problems(self, server, store: Store, before: Snapshot) -> list[str]:
        return store_problems(server, store, before)


def run_path(specs: list[ServerSpec], size: StoreSize | None,
             progress: Callable[[str, int | None, int | None], None] = lambda *_: None,
             pairs: list[Pair] | None = None,
             observe: Callable[[str, object, object], None] = lambda *_: None,
             origin=None) -> PathResult:
    """Make a store on the first server, then upgrade it in place to each next one in turn, each
    hop with its pair's documented steps and a snapshot after it. A hop that cannot complete ends
    the path there (the hops after it are not run: the report says where it stopped). `origin`:
    where the store comes from (default: Populated(size); admin/rehearse.Backup: an admin's own);
    it also gives the settings every version starts with."""
    from ..servers.managed import start_server

    origin_of = origin or Populated(size)
    pairs = pairs or [find_pair(a.name, b.name) for a, b in zip(specs, specs[1:])]
    hops = [UpgradeResult(a.name, b.name, size=origin_of.describe(), prerequisite=p.prerequisite, reference=p.reference)
            for a, b, p in zip(specs, specs[1:], pairs)]
    path = PathResult([s.name for s in specs], hops)

    def timed(hop: UpgradeResult, stage: str, fn):
        start = time.perf_counter()
        try:
            return fn()
        finally:
            hop.timings[stage] = round(time.perf_counter() - start, 2)

    first, hop = specs[0], hops[0]
    progress(f"starting {first.name}", None, None)
    started = datetime.now(UTC)
    try:
        origin_server = timed(hop, f"start {first.name}", lambda: origin_of.start(first, progress))
    except ServerError as exc:
        if origin is None:  # the harness's own store on its own image: the harness's trouble
            raise
        hop.failed = f"start {first.name}"  # an admin's data FROM cannot start on: what the rehearsal is for
        hop.findings.append(f"{first.name} did not start on {origin_of.what}: {exc}")
        return path
    running, since = origin_server, started
    try:
        hop.versions[first.name] = origin_server.version
        try:
            store = timed(hop, origin_of.stage, lambda: origin_of.make(origin_server, progress))
            hop.store_notes = store.skipped
            # Fresh processes before the first snapshot: it shows what FROM keeps on disk, not
            # what its running processes hold in memory (Dovecot caches its shared-mailbox dict).
            if "restart" in origin_server.features:
                timed(hop, f"restart {first.name}", origin_server.restart)
            observe("before", origin_server, store)
            progress("snapshot before", None, None)
            before = timed(hop, "snapshot before", lambda: store_snapshot(origin_server, store.accounts,
                                                                         notes=hop.store_notes))
        except Exception as exc:  # the store could not be made (or read) on FROM: said in the report, no traceback
            hop.failed = origin_of.stage
            hop.problems.append(f"{first.name}: {type(exc).__name__}: {exc}")
            hop.problems += [f"{first.name} log: {line}" for line in trouble_tail(origin_server, started)]
            hop.server_health[first.name] = log_gate.server_health(origin_server, since, "upgrade")
            return path
        hop.problems += [f"{first.name} before the upgrade: {p}" for p in origin_of.problems(origin_server, store, before)]
        hop.problems += [f"{first.name} before the upgrade: {p}" for p in status_problems(before)]
        first_snapshot = previous = before
        for i, (hop, pair, to_spec) in enumerate(zip(hops, pairs, specs[1:])):
            from_name = specs[i].name
            hop.counts = _counts(previous)
            hop.versions.setdefault(from_name, running.version)
            hop.server_health[from_name] = log_gate.server_health(running, since, "upgrade")
            running.stop(keep_data=True)
            progress(f"starting {to_spec.name} on the same data", None, None)
            since = datetime.now(UTC)
            try:
                new = timed(hop, f"start {to_spec.name}", lambda: start_server(
                    to_spec, options=dict(origin_of.options), volume=origin_server.volume_name))
            except ServerError as exc:
                hop.failed = f"start {to_spec.name}"
                hop.findings.append(f"{to_spec.name} did not start on {from_name}'s data: {exc}")
                return path
            running = new
            hop.versions[to_spec.name] = new.version
            for step in pair.steps:
                progress(step.name, None, None)
                hop.steps.append(run_step(new, step, since))
            observe("after", new, store)
            progress("snapshot after", None, None)
            try:
                after = timed(hop, "snapshot after", lambda: store_snapshot(new, store.accounts, notes=hop.store_notes))
            except Exception as exc:  # the new server cannot show the store: a finding, with its words
                hop.failed = "snapshot after"
                hop.findings.append(f"the store could not be read after the upgrade: {type(exc).__name__}: {exc}")
                hop.server_health[to_spec.name] = log_gate.server_health(new, since, "upgrade")
                return path
            classified = classify(previous, after, pair.expected)
            hop.findings, hop.explained, hop.stale = classified.findings, classified.explained, classified.stale
            hop.findings += [f"{to_spec.name} after the upgrade: {p}" for p in status_problems(after)]
            hop.server_health[to_spec.name] = log_gate.server_health(new, since, "upgrade")
            since = datetime.now(UTC)  # the next hop reads this server's lines from here to its stop
            previous = after
        whole = classify(first_snapshot, previous, tuple(e for p in pairs for e in p.expected))
        path.end_to_end = {"findings": whole.findings, "explained": whole.explained, "stale": whole.stale}
        return path
    finally:
        if running is not origin_server:
            running.stop()
        origin_server.stop()  # the volume carries the first server's labels: removed with it


def run_step(server, step: Step, since: datetime) -> StepResult:
    """One step on the new server; its output is the command's or the start's log lines."""
    if step.kind == "start":
        # Judged as the log gate judges a run (its classes, the noise lists): a word like "fail"
        # in a line is not a failed step.
        lines = [line for line in server.logs(since) if step.log in line.program]
        clean = log_gate.health(server.family_name, server.version_tuple, lines, "upgrade")["clean"]
        return StepResult(step.name, step.reference, 0.0, clean,
                          _output("\n".join(line.raw for line in lines)), step.why)
    argv = [a.replace("{bin}", getattr(server.family, "bin", "")) for a in step.run]
    start = time.perf_counter()
    res = server.exec(argv, user=None if step.user == "tool" else step.user)
    seconds = round(time.perf_counter() - start, 2)
    return StepResult(step.name, step.reference, seconds, res.exit_code == 0,
                      _output(f"$ {' '.join(step.run)}  (exit {res.exit_code})\n{res.stdout}{res.stderr}"), step.why)


def _counts(snapshot: Snapshot) -> dict[str, int]:
    folders = sum(len(a["folders"]) for a in snapshot.values())
    messages = sum(len(f["messages"]) for a in snapshot.values() for f in a["folders"].values())
    acl = sum(len(f["acl"]) for a in snapshot.values() for f in a["folders"].values())
    views = sum(len(a.get("views", {})) for a in snapshot.values())
    scripts = sum(len(a.get("sieve") or {}) for a in snapshot.values())
    return {"accounts": len(snapshot), "folders": folders, "messages": messages, "acl entries": acl,
            "shared views": views, "sieve scripts": scripts}


def conformance_both(paths: list[str], servers: list[str], out: Path) -> dict:
    """Run the suites against both versions side by side (one pytest run, one worker each) and
    say what changed between them."""
    from ..invocation import suite_args

    args = [sys.executable, "-m", "pytest", *suite_args(paths), f"--imapwright-report={out}",
            "-q", "-n", str(len(servers)), "--dist", "loadgroup"]
    for name in servers:
        args += ["--server", name]
    if log_gate.chosen_deviations() is not None:  # the command's --deviations hold for its suites too
        args += ["--deviations", str(log_gate.chosen_deviations())]
    subprocess.run(args, stdout=subprocess.DEVNULL)
    run = read_run(out)
    split = [{**run, "checks": [c for c in run["checks"] if c["server"] == name],
              "per_server": {name: run["per_server"].get(name, {})}} for name in servers]
    _pairs, changes = conformance_changes(split[0], split[1])
    return {"runs": [run], "changes": [{**asdict(c), "kind": c.kind} for c in changes]}
