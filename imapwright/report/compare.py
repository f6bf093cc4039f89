"""Comparing runs: a baseline against candidates, for load runs (figures per request) and for
conformance runs (each check's outcome per server), with thresholds that gate a release.

Threshold forms (`--fail-on`):
  p50+10%, p95+10%, p99+10%   latency may grow at most that much (relative to the baseline)
  rps-10% (or throughput-10%)  throughput may fall at most that much
  failures+1                   failure ratio may grow at most that many percentage points
  saturation-10%               the capacity saturation point's throughput may fall at most that much
  new-failures                 no check may fail or error that passed (or was a known deviation)
  lost                         the candidate's server check (ledger, consistency) must pass
  generator-bound              the candidate's load generator must not have saturated first
                               (a Locust process above 90% of a core for over 10% of the run)
  none                         report only: no verdict fails (except an incomplete candidate)

Without --fail-on: suite runs fail on new failures, load runs on lost messages. A candidate run that
did not complete (interrupted, crashed, partial) always fails: what it did not run cannot pass.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UserError
from .model import describe_generator, read_json

LATENCY = ("p50", "p95", "p99")
_THRESHOLD = re.compile(r"(?P<metric>p50|p95|p99|rps|throughput|failures|saturation)(?P<sign>[+-])(?P<amount>\d+(\.\d+)?)(?P<pct>%?)")
_GOOD_DIRECTION = {"p50": "-", "p95": "-", "p99": "-", "rps": "+", "failures": "-", "saturation": "+"}


@dataclass(frozen=True)
class Threshold:
    metric: str  # p50 p95 p99 rps failures saturation new-failures lost
    sign: str = ""
    amount: float = 0.0

    @property
    def text(self) -> str:
        if self.metric in ("new-failures", "lost", "none", "generator-bound"):
            return self.metric
        unit = "" if self.metric == "failures" else "%"
        return f"{self.metric}{self.sign}{self.amount:g}{unit}"


# Which thresholds mean something for which kind of run.
APPLIES = {"conformance": {"new-failures", "none"},
           "load": {"p50", "p95", "p99", "rps", "failures", "saturation", "lost", "none", "generator-bound"}}
DEFAULTS = {"conformance": ("new-failures",), "load": ("lost",)}


def parse_threshold(text: str) -> Threshold:
    t = text.strip().lower()
    if t in ("new-failures", "lost", "none", "generator-bound"):
        return Threshold(t)
    m = _THRESHOLD.fullmatch(t)
    if not m:
        raise UserError(f"--fail-on {text!r}: expected e.g. p95+10%, rps-10%, failures+1, saturation-10%, "
                        "new-failures, lost, generator-bound or none")
    metric = "rps" if m["metric"] == "throughput" else m["metric"]
    if m["sign"] == _GOOD_DIRECTION[metric]:
        raise UserError(f"--fail-on {text!r}: {metric} getting {'lower' if m['sign'] == '-' else 'higher'} "
                        f"is an improvement; write {metric}{'+' if m['sign'] == '-' else '-'}{m['amount']}{m['pct']}")
    if metric == "failures" and m["pct"]:
        raise UserError(f"--fail-on {text!r}: failures are compared in percentage points (failures+1)")
    if metric != "failures" and not m["pct"]:
        raise UserError(f"--fail-on {text!r}: give the change in percent ({text}%)")
    return Threshold(metric, m["sign"], float(m["amount"]))


def read_run(path: Path) -> dict:
    """summary.json of a run directory (or the file itself), with its kind and label."""
    file = path / "summary.json" if path.is_dir() else path
    if not file.exists():
        raise UserError(f"{path}: no run there (no summary.json)")
    summary = read_json(file, "no run there (no summary.json)", "a run summary")
    if not isinstance(summary, dict) or "run_id" not in summary:
        raise UserError(f"{file}: not a run summary (no run_id)")
    summary.setdefault("kind", "conformance")
    if summary["kind"] == "load":
        summary["label"] = f"{summary['server']['name']} {summary['run_id']}"
    elif summary["kind"] == "upgrade":
        summary["label"] = summary["run_id"]
    else:
        summary["label"] = f"{'+'.join(sorted(summary.get('per_server', {}))) or 'run'} {summary['run_id']}"
    return summary


# -- load runs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delta:
    request: str  # "LMTP deliver", "Aggregated", "saturation"
    metric: str
    baseline: float
    candidate: float

    @property
    def change(self) -> float | None:
        """Relative change (0.1 = +10%); percentage points for failures; None from zero."""
        if self.metric == "failures":
            return (self.candidate - self.baseline) * 100
        if self.baseline == 0:
            return None if self.candidate else 0.0
        return (self.candidate - self.baseline) / self.baseline


def _requests(summary: dict) -> dict[str, dict]:
    stats = summary["stats"]
    rows = {f"{r['type']} {r['name']}".strip(): r for r in stats["requests"]}
    rows["Aggregated"] = stats["total"]
    return rows


def load_deltas(base: dict, cand: dict) -> list[Delta]:
    deltas = []
    b, c = _requests(base), _requests(cand)
    for name in [n for n in b if n in c]:
        for metric in LATENCY:
            deltas.append(Delta(name, metric, b[name][f"{metric}_ms"], c[name][f"{metric}_ms"]))
        deltas.append(Delta(name, "rps", b[name]["rps"], c[name]["rps"]))
        deltas.append(Delta(name, "failures", b[name]["failure_ratio"], c[name]["failure_ratio"]))
    sb, sc = (s.get("capacity", {}).get("saturation", {}).get("point") for s in (base, cand))
    if base.get("capacity") and cand.get("capacity"):
        deltas.append(Delta("saturation", "saturation", (sb or {}).get("rps", 0.0), (sc or {}).get("rps", 0.0)))
    return deltas


# -- conformance runs -------------------------------------------------------------------------------
BAD = ("failed", "error")


@dataclass(frozen=True)
class CheckChange:
    test: str
    baseline_server: str
    candidate_server: str
    baseline: str  # outcome or "" (absent)
    candidate: str

    @property
    def kind(self) -> str:
        b, c = self.baseline, self.candidate
        if c in BAD and b not in BAD:
            return "new failure"
        if b in BAD and c not in BAD:
            return "fixed" if c else "failure gone (check absent)"
        if c == "deviation" and b != "deviation":
            return "new deviation"
        if b == "deviation" and c != "deviation":
            return "deviation gone"
        if not b:
            return "new check"
        if not c:
            return "check absent"
        return "changed"


def pair_servers(base: list[str], cand: list[str]) -> list[tuple[str, str]]:
    """Which server of the baseline each candidate server is held against: same name where the
    names match (same server, other build), else one to one when each run had one server (an
    upgrade: cyrus:3.6 then cyrus:3.10), else by family."""
    if set(base) & set(cand):
        return [(s, s) for s in base if s in cand]
    if len(base) == 1 and len(cand) == 1:
        return [(base[0], cand[0])]
    family = lambda s: s.split(":")[0]  # noqa: E731
    pairs = []
    for c in cand:
        same = [b for b in base if family(b) == family(c)]
        if len(same) == 1:
            pairs.append((same[0], c))
    return pairs


def _outcomes(summary: dict) -> dict[tuple[str, str], str]:
    return {(c["test"], c["server"]): c["outcome"] for c in summary.get("checks", [])}


def conformance_changes(base: dict, cand: dict) -> tuple[list[tuple[str, str]], list[CheckChange]]:
    b, c = _outcomes(base), _outcomes(cand)
    pairs = pair_servers(sorted({s for _, s in b}), sorted({s for _, s in c}))
    changes = []
    for bs, cs in pairs:
        tests = sorted({t for t, s in b if s == bs} | {t for t, s in c if s == cs})
        for test in tests:
            bo, co = b.get((test, bs), ""), c.get((test, cs), "")
            if bo != co:
                changes.append(CheckChange(test, bs, cs, bo, co))
    return pairs, changes


# -- verdicts ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    candidate: str
    check: str  # what was held against what: "p95+10% LMTP deliver"
    passed: bool
    detail: str


def _fmt_change(d: Delta) -> str:
    if d.metric == "failures":
        return f"{d.baseline:.2%} -> {d.candidate:.2%} ({d.change:+.2f} points)"
    change = d.change
    rel = "new" if change is None else f"{change:+.1%}"
    return f"{d.baseline:g} -> {d.candidate:g} ({rel})"


def verdicts(base: dict, cand: dict, thresholds: list[Threshold]) -> list[Verdict]:
    out = []
    label = cand["label"]
    if cand["kind"] == "load":
        deltas = load_deltas(base, cand)
        for t in thresholds:
            if t.metric == "lost":
                checks = cand["checks"]
                led = checks["ledger"]
                out.append(Verdict(label, "lost", checks["passed"],
                                   f"{led['missing_count']} missing, {led['extra_count']} unacknowledged, "
                                   f"{checks['consistency_count']} consistency problems"))
                continue
            if t.metric == "generator-bound":
                cpu = cand.get("cpu") or {}
                out.append(Verdict(label, "generator-bound", not cpu.get("generator_bound", False),
                                   "not measured (an older run)" if not cpu else
                                   f"busiest Locust process above 90% of a core for {cpu['busy_share']:.0%} of the run"))
                continue
            for d in (d for d in deltas if d.metric == t.metric):
                change = d.change
                if t.metric == "failures":
                    crossed = change > t.amount
                elif change is None:
                    crossed = False  # nothing to hold it against (the baseline had no value)
                else:
                    crossed = change * 100 > t.amount if t.sign == "+" else -change * 100 > t.amount
                out.append(Verdict(label, f"{t.text} {d.request}", not crossed, _fmt_change(d)))
    else:
        _, changes = conformance_changes(base, cand)
        for t in thresholds:
            if t.metric != "new-failures":
                continue
            new = [ch for ch in changes if ch.kind == "new failure"]
            out.append(Verdict(label, "new-failures", not new,
                               "; ".join(f"{ch.test} [{ch.candidate_server}] {ch.baseline or 'absent'} -> {ch.candidate}"
                                         for ch in new) or "none"))
    return out


def effective_thresholds(kind: str, thresholds: list[Threshold], runs: list[dict]) -> list[Threshold]:
    """The thresholds a comparison of this kind holds runs to: the defaults when none are given;
    UserError for one that does not apply (p95 on suite runs, saturation without capacity runs)."""
    if not thresholds:
        return [Threshold(m) for m in DEFAULTS[kind]]
    for t in thresholds:
        if t.metric not in APPLIES[kind]:
            what = "suite runs" if kind == "conformance" else "load runs"
            raise UserError(f"--fail-on {t.text} does not apply to {what}; they take "
                            f"{', '.join(sorted(APPLIES[kind]))}")
        if t.metric == "saturation" and not all(r.get("capacity") for r in runs):
            raise UserError(f"--fail-on {t.text}: only capacity runs have a saturation point")
    if any(t.metric == "none" for t in thresholds) and len(thresholds) > 1:
        raise UserError("--fail-on none means no threshold; give it alone")
    return [t for t in thresholds if t.metric != "none"]


# Load run settings that make figures like for like (or not).
SETTINGS = ("scenario", "users", "workers", "duration", "spawn_rate", "max_requests", "population", "mailboxes",
            "tls")


def _generator(summary: dict) -> tuple[int, int | None]:
    """(Locust processes, hosts or None where the run did not record them)."""
    gen = summary.get("generator") or {}
    processes = gen.get("processes") or (summary.get("parameters") or {}).get("workers") or 1
    return processes, len(gen["hosts"]) if gen.get("hosts") else None


def setting_differences(base: dict, cand: dict) -> list[str]:
    bp, cp = ({"scenario": s.get("scenario"), **s.get("parameters", {})} for s in (base, cand))
    out = [f"{k} {bp.get(k)} against {cp.get(k)}" for k in SETTINGS if bp.get(k) != cp.get(k)]
    bo, co = bp.get("options", {}) or {}, cp.get("options", {}) or {}
    out += [f"option {k} {bo.get(k)} against {co.get(k)}" for k in sorted(set(bo) | set(co))
            if bo.get(k) != co.get(k) and k not in ("run_id", "ledger_dir")]
    (bp_, bh), (cp_, ch) = (_generator(s) for s in (base, cand))
    recorded = base.get("generator") or cand.get("generator")  # else --workers above says it
    if recorded and (bp_ != cp_ or (bh and ch and bh != ch)):  # one process against workers on two hosts
        out.append(f"generator {describe_generator(base)} against {describe_generator(cand)}")
    return out  # other servers are not listed: they are the point of a comparison


def completeness(summary: dict) -> str:
    """'' for a run that ran to its end, else what it was ("interrupted: 12 tests did not run")."""
    if summary["kind"] == "load":
        status = summary.get("status", "complete")
        return "" if status == "complete" else f"{status}: {summary.get('status_reason', 'partial run')}"
    status = summary.get("status", "complete")
    if status == "complete":
        return ""
    return f"{status}: {summary.get('status_reason', '')} ({summary.get('not_run', '?')} tests did not run)"


def comparison(base: dict, cands: list[dict], thresholds: list[Threshold]) -> dict:
    """Everything the writers need, as plain data (also the JSON output)."""
    kinds = {s["kind"] for s in [base, *cands]}
    if "upgrade" in kinds:
        raise UserError("an upgrade run compares its two versions itself (see its index.html); "
                        "compare takes load runs or suite runs")
    if len(kinds) > 1:
        raise UserError("compare runs of one kind: load runs with load runs, suite runs with suite runs")
    thresholds = effective_thresholds(base["kind"], thresholds, [base, *cands])
    result = {"kind": base["kind"], "baseline": base["label"], "candidates": [], "warnings": []}
    if completeness(base):
        result["warnings"].append(f"the baseline {base['label']} is not complete ({completeness(base)}): "
                                  "changes against it are not the whole picture")
    for cand in cands:
        found = verdicts(base, cand, thresholds)
        if completeness(cand):
            found.append(Verdict(cand["label"], "complete", False, completeness(cand)))
        entry = {"label": cand["label"], "verdicts": [asdict(v) for v in found]}
        if base["kind"] == "load":
            entry["scenario"] = (base["scenario"], cand["scenario"])
            differences = setting_differences(base, cand)
            if differences:
                entry["note"] = (f"different settings ({'; '.join(differences)}): the figures are not like for like")
            bound = [s["label"] for s in (base, cand) if (s.get("cpu") or {}).get("generator_bound")]
            if bound:
                entry["generator_bound"] = bound
                result["warnings"].append(f"generator-bound: {', '.join(bound)} (the load generator ran out of CPU "
                                          "first; its figures measure the harness as much as the server)")
            entry["deltas"] = [{**asdict(d), "change": d.change} for d in load_deltas(base, cand)]
        else:
            pairs, changes = conformance_changes(base, cand)
            entry["pairs"] = pairs
            entry["changes"] = [{**asdict(c), "kind": c.kind} for c in changes]
        result["candidates"].append(entry)
    result["thresholds"] = [t.text for t in thresholds]
    result["passed"] = all(v["passed"] for c in result["candidates"] for v in c["verdicts"])
    return result
