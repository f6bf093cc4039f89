"""Locust's output read back: per-request figures from its JSON (exact percentiles from the
response-time histograms it keeps) and the over-time series from its stats-history CSV."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from .saturation import percentile

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
