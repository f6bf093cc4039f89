"""One record per check and server, built from pytest reports; the summary written to summary.json."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import UserError

OUTCOMES = ("passed", "failed", "error", "skipped", "deviation")


@dataclass
class CheckRecord:
    nodeid: str
    test: str  # node id without the [server] part
    server: str
    outcome: str  # one of OUTCOMES
    duration: float
    message: str = ""
    deviation: str = ""
    server_log: str = ""
    properties: dict[str, str] = field(default_factory=dict)


def record_from_report(rep) -> CheckRecord | None:
    """Turn a pytest TestReport into a record; None for phases that add nothing (passing setup/teardown)."""
    props = {k: str(v) for k, v in rep.user_properties}
    server = props.pop("server", "")  # never guessed from the node id (parameters are not servers)
    if rep.when == "call":
        if hasattr(rep, "wasxfail") and rep.skipped:
            outcome = "deviation"
        else:
            outcome = rep.outcome
    elif rep.failed:
        outcome = "error"
    elif rep.skipped and rep.when == "setup":
        outcome = "skipped"
    else:
        return None
    message = ""
    if rep.failed:
        message = _short(rep.longreprtext)
    elif rep.skipped and isinstance(rep.longrepr, tuple):
        message = str(rep.longrepr[2]).removeprefix("Skipped: ")
    elif outcome == "deviation":
        message = rep.wasxfail
    test = props.pop("test_id", "") or rep.nodeid.split("[")[0]
    return CheckRecord(
        nodeid=rep.nodeid, test=test, server=server, outcome=outcome,
        duration=round(rep.duration, 4), message=message,
        deviation=props.pop("deviation", "").removeprefix("none"),
        server_log=props.pop("server_log", ""), properties=props,
    )


def _short(text: str, limit: int = 4000) -> str:
    # The assertion lines ("E   ...") say what went wrong; the rest is in junit.xml.
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    out = "\n".join(lines) or text.strip().splitlines()[-1:][0] if text.strip() else ""
    return out[:limit]


def summarize(records: list[CheckRecord], run_id: str, servers: dict[str, str], started: str,
              finished: str, exit_status: int, run: dict | None = None) -> dict:
    """`run`: completeness.status() of the session (status complete/interrupted/crashed/stopped
    early/refused, collected, not_run, reason)."""
    run = run or {"status": "complete", "not_run": 0, "reason": ""}
    counts = {o: sum(r.outcome == o for r in records) for o in OUTCOMES}
    per_server = {
        name: {o: sum(r.outcome == o and r.server == name for r in records) for o in OUTCOMES}
        for name in sorted({r.server for r in records if r.server})
    }
    failed = counts["failed"] + counts["error"]
    health = server_health(records)
    verdict = ("PASS" if not failed else "FAIL") if run["status"] == "complete" else run["status"].upper()
    return {
        "run_id": run_id, "started": started, "finished": finished, "exit_status": exit_status,
        "status": run["status"], "verdict": verdict, "not_run": run["not_run"], "status_reason": run["reason"],
        "complete": run["status"] == "complete",
        "servers": servers, "counts": counts, "per_server": per_server,
        "tables": outcome_tables(records),
        "server_health": health,
        "checks": [asdict(r) for r in records],
    }


def server_health(records: list[CheckRecord]) -> dict[str, dict]:
    """Per server: the log gate's lines by class, with the test each came with (a line read after
    a test's call and again after its teardown is counted once)."""
    out: dict[str, dict] = {}
    for r in records:
        try:
            lines = json.loads(r.properties.get("server_health_lines", "[]"))
        except ValueError:
            continue
        entry = out.setdefault(r.server, {"counts": {}, "lines": []})
        seen = {(line["kind"], line["line"]) for line in entry["lines"]}
        for kind, raw in lines:
            if (kind, raw) in seen:
                continue
            entry["counts"][kind] = entry["counts"].get(kind, 0) + 1
            entry["lines"].append({"kind": kind, "line": raw, "test": r.test, "outcome": r.outcome})
    return out


def outcome_tables(records: list[CheckRecord]) -> dict[str, dict[str, dict[str, dict]]]:
    """Tables tests contribute to with record_property("table:NAME", json {"row", "cell", "detail"}):
    NAME -> row -> server -> {"cell": short text, "detail": ..., "outcome": the check's outcome}."""
    tables: dict[str, dict[str, dict[str, dict]]] = {}
    for r in records:
        for key, value in r.properties.items():
            if not key.startswith("table:"):
                continue
            try:
                entry = json.loads(value)
                row, cell = str(entry["row"]), str(entry["cell"])
            except (ValueError, KeyError, TypeError):
                continue  # a malformed contribution is left out, not fatal to the report
            tables.setdefault(key.removeprefix("table:"), {}).setdefault(row, {})[r.server] = {
                "cell": cell, "detail": entry.get("detail"), "outcome": r.outcome}
    return tables


def read_json(path: Path, missing: str, what: str) -> object:
    """A JSON file the user named; one clear line (UserError) when it is absent or not JSON."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: {missing}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not {what} ({exc})") from None


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a report is whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        # mkstemp makes 0600; a report is read by others (CI artifacts, a web server) like junit.xml.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, summary: dict) -> None:
    write_atomic(path, json.dumps(summary, indent=2, sort_keys=False) + "\n")


def describe_generator(summary: dict) -> str:
    gen = summary.get("generator")
    if not gen:  # a run from before the generator was recorded
        return f"{summary.get('parameters', {}).get('workers') or 1} Locust process(es)"
    hosts = gen["hosts"]
    return (f"{gen['processes']} Locust process(es) on {len(hosts)} host(s)"
            + (f" ({', '.join(hosts)})" if len(hosts) <= 4 else ""))
