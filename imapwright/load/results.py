"""Locust's output read back (per-request figures from its JSON, exact percentiles from the
response-time histograms it keeps; the over-time series from its stats-history CSV) and a load
run's summary.json built from it, the ledger, the CPU samples and the runner's checks."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from .cpu import analyse, saturated_first, workers_bound
from .grow import FILLS
from .ledger import read_timings
from .saturation import Step, percentile, saturation
from .scenarios import REPAIR, SCENARIOS

PERCENTILES = (0.5, 0.95, 0.99)


def _entry(name: str, kind: str, count: int, failures: int, total_ms: float, max_ms: float,
           histogram: Counter, seconds: float, size: int) -> dict:
    return {
        "type": kind, "name": name, "requests": count, "failures": failures,
        "failure_ratio": round(failures / count, 4) if count else 0.0,
        "rps": round(count / seconds, 2) if seconds > 0 else 0.0,
        "avg_ms": round(total_ms / count, 2) if count else 0.0, "max_ms": round(max_ms, 1),
        **{f"p{round(p * 100)}_ms": percentile(histogram, p) for p in PERCENTILES},
        "bytes": size,
    }


def read_stats(path: Path) -> dict:
    """{"requests": [per type and name], "total": aggregated, "seconds": span} from locust.json."""
    entries = json.loads(path.read_text()) if path.exists() else []
    if not entries:
        return {"requests": [], "total": _entry("Aggregated", "", 0, 0, 0, 0, Counter(), 0, 0), "seconds": 0}
    start = min(e["start_time"] for e in entries)
    end = max(e["last_request_timestamp"] or e["start_time"] for e in entries)
    seconds = max(end - start, 1e-9)
    rows, total_hist = [], Counter()
    for e in sorted(entries, key=lambda e: (e["method"] or "", e["name"])):
        hist = Counter({int(k): v for k, v in e["response_times"].items()})
        total_hist += hist
        rows.append(_entry(e["name"], e["method"] or "", e["num_requests"], e["num_failures"],
                           e["total_response_time"], e["max_response_time"] or 0, hist, seconds,
                           e["total_content_length"]))
    total = _entry("Aggregated", "", sum(e["num_requests"] for e in entries),
                   sum(e["num_failures"] for e in entries), sum(e["total_response_time"] for e in entries),
                   max((e["max_response_time"] or 0) for e in entries), total_hist, seconds,
                   sum(e["total_content_length"] for e in entries))
    return {"requests": rows, "total": total, "seconds": round(seconds, 2)}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # "N/A" before the first request


def read_history(path: Path) -> list[dict]:
    """The Aggregated rows of the stats history: one point per second or two, time from the
    first row. rps/fps and percentiles are Locust's rolling (last 10 s) values."""
    if not path.exists():
        return []
    points = []
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("Name") == "Aggregated"]
    if not rows:
        return []
    t0 = int(rows[0]["Timestamp"])
    for r in rows:
        points.append({"t": int(r["Timestamp"]) - t0, "users": int(r["User Count"]),
                       "rps": _number(r["Requests/s"]) or 0.0, "fps": _number(r["Failures/s"]) or 0.0,
                       "p50_ms": _number(r["50%"]), "p95_ms": _number(r["95%"]), "p99_ms": _number(r["99%"]),
                       "requests": int(r["Total Request Count"]), "failures": int(r["Total Failure Count"])})
    return points


def read_failures(path: Path) -> list[dict]:
    """Locust's failures CSV: one row per (type, name, error) with its count."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [{"type": r["Method"], "name": r["Name"], "error": r["Error"], "count": int(r["Occurrences"])}
                for r in csv.DictReader(fh)]


def read_exceptions(path: Path) -> list[dict]:
    """Errors raised inside scenario code (not server answers): a bug in a scenario or the harness."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [{"count": int(r["Count"]), "message": r["Message"], "where": r["Traceback"].strip().splitlines()[-2:]}
                for r in csv.DictReader(fh)]


def workers_seen(ledger_dir: Path) -> dict:
    """workers.json of a master for workers on other hosts (load/distributed.py), or {}."""
    path = ledger_dir / "workers.json"
    return json.loads(path.read_text()) if path.exists() else {}


def generator(workers: int, seen: dict) -> dict:
    """Who generated the load: Locust processes and the hosts they ran on (a master's workers say
    their own host), so runs made differently are not compared as if alike."""
    if seen:
        return {"processes": len(seen), "hosts": sorted({node.get("host", "?") for node in seen.values()}),
                "kind": "workers of a master"}
    import socket

    return {"processes": workers or 1, "hosts": [socket.gethostname()],
            "kind": "local processes" if workers else "one local process"}


def lost_workers(ledger_dir: Path) -> list[dict]:
    return [{"id": worker_id, **node} for worker_id, node in workers_seen(ledger_dir).items() if "lost" in node]


def statistics_check(stats: dict, finished: int) -> dict:
    """Locust's count of the requests that add mail (LMTP deliveries, IMAP APPENDs, "large APPEND"
    included) against the
    ledger's count of those that came back: the report's figures must be the whole run."""
    reported = sum(r["requests"] for r in stats["requests"]
                   if r["type"] == "LMTP" or (r["type"] == "IMAP" and r["name"].split()[-1] == "APPEND"))
    return {"reported": reported, "ledger": finished, "agree": reported == finished}


def percentiles_ms(values: list[float]) -> tuple[float, float]:
    hist = Counter(round(v) for v in values)
    return percentile(hist, 0.5), percentile(hist, 0.95)


def windows_latency(timings: dict[str, list[tuple[float, float]]], labels: tuple[str, ...]) -> dict | None:
    """Delivery latency while each admin request of `labels` ran (reconstruct in large-list, the
    large folder's repair in large-mailbox), against the rest of the run."""
    admin = [(s, s + ms / 1000, name) for name in labels for s, ms in timings.get(name, [])]
    deliveries = timings.get("deliver", [])
    if not admin or not deliveries:
        return None
    out = {}
    for label in labels:
        spans = [(a, b) for a, b, n in admin if n == label]
        inside = [ms for s, ms in deliveries if any(a <= s <= b for a, b in spans)]
        p50, p95 = percentiles_ms(inside)
        out[label] = {"runs": len(spans), "deliveries_during": len(inside), "p50_ms_during": p50, "p95_ms_during": p95}
    outside = [ms for s, ms in deliveries if not any(a <= s <= b for a, b, _ in admin)]
    p50, p95 = percentiles_ms(outside)
    out["outside"] = {"deliveries": len(outside), "p50_ms": p50, "p95_ms": p95}
    out["spans"] = [(a, b, n) for a, b, n in admin]
    step = max(1, len(deliveries) // 20_000)  # enough points for the plot; all are in timings-*.tsv
    out["deliveries"] = sorted(deliveries)[::step]
    return out


def windows_unmeasured(latency: dict | None, labels: tuple[str, ...]) -> str:
    """Why a run measured nothing of its admin requests' effect on delivery ("" if it did)."""
    if latency is None:
        return f"no {' and no '.join(labels)} and no delivery completed during the run: nothing of their effect was measured"
    never = [label for label in labels if not latency.get(label, {}).get("runs")]
    if never:
        return (f"{' and '.join(never)} never completed during the run, so its effect on delivery was not "
                "measured (a longer --duration gives it time)")
    return ""


def large_mailbox_summary(ledger_dir: Path, stats: dict, latency: dict | None) -> dict:
    """The large folder: how it was grown, and what each request on it cost (the "large ..."
    requests, the repair)."""
    path = ledger_dir / "large-mailbox.json"
    grown = json.loads(path.read_text()) if path.exists() else {}
    ops = {r["name"]: {k: r[k] for k in ("requests", "failures", "p50_ms", "p95_ms", "max_ms")}
           for r in stats["requests"] if r["name"].startswith("large ") or r["name"] == REPAIR}
    return {"messages": grown.get("messages", 0), "user": grown.get("user", ""),
            "before": grown.get("before", 0), "delivered": grown.get("delivered", grown.get("messages", 0)),
            "grow_seconds": grown.get("seconds"), "grow_per_second": grown.get("per_second"),
            "fill": grown.get("fill", "lmtp"), "fill_words": FILLS[grown.get("fill", "lmtp")],
            "requests": ops, "latency": latency}


def cpu_summary(out: Path) -> dict:
    path = out / "cpu-samples.json"
    samples = [(t, {int(k): v for k, v in gen.items()}, srv) for t, gen, srv in json.loads(path.read_text())] \
        if path.exists() else []
    stats = out / "locust.json"
    entries = json.loads(stats.read_text()) if stats.exists() else []
    first = min((e["start_time"] for e in entries if e.get("num_requests")), default=None)
    return analyse(samples, since=first)  # Locust's imports and spawning are not the load


def unchecked_server(why: str) -> dict:
    """The checks of a run whose server was not checked: failed, and saying why."""
    ledger = {k: 0 for k in ("acknowledged", "removed", "expected", "on_server", "missing_count", "extra_count",
                             "unknown_stored", "unknown_removed", "kept")}
    return {"ledger": {**ledger, "missing": [], "extra": [], "accounted": False, "passed": False},
            "consistency": [], "consistency_count": 0, "statistics": {"agree": False}, "passed": False,
            "skipped": why}


def summarize(*, run_id: str, params, server_info: dict, options: dict, out: Path, ledger_dir: Path, checks: dict,
              started: datetime, finished: datetime, prepared_s: float, interrupted: str, server_log: dict) -> dict:
    """summary.json of a load run, from what its folder holds (Locust's files, the ledger, the CPU
    samples) and what the runner found (the server's checks and log). `interrupted`: what
    interrupted it ("" if nothing): the run is then partial whatever it measured."""
    summary = {
        "kind": "load", "run_id": run_id, "scenario": params.scenario,
        "started": started.isoformat(timespec="seconds"), "finished": finished.isoformat(timespec="seconds"),
        "status": "complete", "complete": True, "status_reason": "",
        "server": server_info,
        "parameters": {**{k: v for k, v in asdict(params).items() if k != "options"},
                       "options": {k: v for k, v in options.items() if "password" not in k}},
        "prepare_seconds": round(prepared_s, 1),
        "stats": read_stats(out / "locust.json"),
        "history": read_history(out / "locust_stats_history.csv"),
        "failures": read_failures(out / "locust_failures.csv"),
        "exceptions": read_exceptions(out / "locust_exceptions.csv"),
        "checks": checks,
    }
    summary["cpu"] = cpu_summary(out)
    seen = workers_seen(ledger_dir)
    summary["generator"] = generator(params.workers, seen)
    if seen:  # the generator is the workers on other hosts: judged by their own CPU reports
        summary["workers"] = seen
        bound = workers_bound(seen)
        summary["cpu"].update(remote_workers=len(seen), workers_bound=bound,
                              generator_bound=summary["cpu"]["generator_bound"] or bool(bound))
    lost = lost_workers(ledger_dir)
    if lost and not interrupted:
        summary.update(status="partial", complete=False, status_reason="; ".join(
            f"worker {w.get('index', '?')} ({w['id']}) lost {w['lost']:.0f} s into the run; the rest went on "
            "without it" for w in lost))
    if interrupted:
        ran = (finished - started).total_seconds()
        summary.update(status="interrupted", complete=False, status_reason=(
            f"interrupted by {interrupted} after {ran:.0f} of {params.duration:.0f} s: a partial run"))
    steps_file = ledger_dir / "steps.json"
    if steps_file.exists():
        data = json.loads(steps_file.read_text())
        steps = [Step(**{k: s[k] for k in ("users", "seconds", "requests", "failures", "p50_ms", "p95_ms")})
                 for s in data["steps"]]
        summary["capacity"] = {"p95_ms": data["p95_ms"], "max_failure_ratio": data["max_failure_ratio"],
                               "steps": [s.as_dict() for s in steps],
                               "saturation": saturation(steps, data["p95_ms"], data["max_failure_ratio"]).as_dict()}
    labels = SCENARIOS[params.scenario].windows
    if labels:
        latency = windows_latency(read_timings(ledger_dir), labels)
        if params.scenario == "large-mailbox":
            summary["large_mailbox"] = large_mailbox_summary(ledger_dir, summary["stats"], latency)
        else:
            summary["large_list"] = {"mailboxes": params.mailboxes,
                                     "mboxlist_db": server_info.get("options", {}).get("mboxlist_db", "default"),
                                     "seed_and_population_seconds": round(prepared_s, 1), "latency": latency}
        unmeasured = windows_unmeasured(latency, labels)
        if unmeasured and summary["complete"]:  # what the scenario exists to measure never happened
            summary.update(status="partial", complete=False, status_reason=unmeasured)
    cpu = summary["cpu"]
    if "capacity" in summary:
        crossed = summary["capacity"]["saturation"]["crossed"]
        until = None
        if crossed:  # seconds from Locust's start to the end of the step that crossed a threshold
            until = sum(s["seconds"] for s in summary["capacity"]["steps"] if s["users"] <= crossed["users"])
        summary["capacity"]["saturated_first"] = saturated_first(cpu, until)
    summary["server_log"] = server_log
    # An exception in scenario code means the load was not what it claims to be; a partial run
    # is not a pass whatever it measured.
    # A crash or database error in the server's log fails the run however its figures look.
    summary["passed"] = checks["passed"] and not summary["exceptions"] and summary["complete"] \
        and summary["server_log"]["health"]["clean"]
    return summary
