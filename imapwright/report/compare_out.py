"""Writers for a comparison: Markdown (for a pull request or a ticket), JUnit XML (for CI), and a
self-contained HTML page with the runs' plots overlaid."""

from __future__ import annotations

from html import escape
from xml.etree import ElementTree as ET

from .html import CSS, table
from .load_html import over_time_plots, saturation_plot
from .plots import line_plot


def percent_change(change: float | None, metric: str) -> str:
    if change is None:
        return "new"
    return f"{change:+.2f} pt" if metric == "failures" else f"{change:+.1%}"


def markdown(result: dict) -> str:
    out = [f"# imapwright compare: baseline {result['baseline']}", "",
           f"Thresholds: {', '.join(result['thresholds']) or 'none'}. "
           f"Verdict: **{'passed' if result['passed'] else 'FAILED'}**.", ""]
    out += [f"Warning: {w}" for w in result.get("warnings", [])] + ([""] if result.get("warnings") else [])
    for cand in result["candidates"]:
        out += [f"## {cand['label']}", ""] + ([f"Note: {cand['note']}", ""] if cand.get("note") else [])
        if cand["verdicts"]:
            out += ["| check | result | detail |", "|---|---|---|"]
            out += [f"| {v['check']} | {'pass' if v['passed'] else '**FAIL**'} | {v['detail']} |" for v in cand["verdicts"]]
            out.append("")
        if result["kind"] == "load":
            out += ["| request | metric | baseline | candidate | change |", "|---|---|---|---|---|"]
            out += [f"| {d['request']} | {d['metric']} | {d['baseline']:g} | {d['candidate']:g} | "
                    f"{percent_change(d['change'], d['metric'])} |" for d in cand["deltas"]]
        else:
            pairs = ", ".join(f"{b} -> {c}" for b, c in cand["pairs"]) or "no servers in common"
            out += [f"Servers compared: {pairs}.", ""]
            if cand["changes"]:
                out += ["| check | servers | baseline | candidate | change |", "|---|---|---|---|---|"]
                out += [f"| {c['test']} | {c['baseline_server']} -> {c['candidate_server']} | {c['baseline'] or '-'} | "
                        f"{c['candidate'] or '-'} | {c['kind']} |" for c in cand["changes"]]
            else:
                out.append("No check changed its outcome.")
        out.append("")
    return "\n".join(out)


def junit(result: dict) -> str:
    """One test case per verdict, failed where a threshold was crossed."""
    verdicts = [v for c in result["candidates"] for v in c["verdicts"]]
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name="imapwright.compare", tests=str(len(verdicts)),
                          failures=str(sum(not v["passed"] for v in verdicts)))
    for v in verdicts:
        case = ET.SubElement(suite, "testcase", classname=v["candidate"], name=v["check"])
        if not v["passed"]:
            ET.SubElement(case, "failure", message=v["detail"]).text = v["detail"]
        else:
            ET.SubElement(case, "system-out").text = v["detail"]
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _reconstruct_plot(runs: list[dict]) -> str:
    """Reconstruct time against mailbox count, one line per server and mailbox-list backend."""
    series: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        large = run.get("large_list")
        if not large:
            continue
        for r in run["stats"]["requests"]:
            if r["type"] == "ADMIN" and r["requests"]:
                key = f"{run['server']['name']} {large['mboxlist_db']}: {r['name']}"
                series.setdefault(key, []).append((large["mailboxes"], r["p50_ms"] / 1000))
    if not series:
        return ""
    return line_plot({k: sorted(v) for k, v in series.items()}, "Reconstruct time against mailbox count (median)",
                     "mailboxes in the list", "seconds", logx=True)


def _large_mailbox_plots(runs: list[dict]) -> str:
    """Large-mailbox runs: each request on the large folder (p95) and its repair (median) against
    the folder's size, one line per server and request."""
    requests: dict[str, list[tuple[float, float]]] = {}
    repair: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        large = run.get("large_mailbox")
        if not large or not large.get("messages"):
            continue
        for name, r in large["requests"].items():
            if not r["requests"]:
                continue
            if name.startswith("large "):
                requests.setdefault(f"{run['server']['name']}: {name[6:]}", []).append((large["messages"], r["p95_ms"]))
            else:
                repair.setdefault(f"{run['server']['name']}", []).append((large["messages"], r["p50_ms"] / 1000))
    out = ""
    if requests:
        out += line_plot({k: sorted(v) for k, v in requests.items()}, "Requests on the large folder against its size (p95)",
                         "messages in the folder", "ms", logx=True)
    if repair:
        out += line_plot({k: sorted(v) for k, v in repair.items()}, "Repair of the large folder against its size (median)",
                         "messages in the folder", "seconds", logx=True)
    return out


def conformance_matrix(runs: list[dict]) -> str:
    """Checks by run and server; rows whose outcome differs anywhere come first."""
    columns = [(run, server) for run in runs for server in sorted(run.get("per_server", {}))]
    outcome = {(id(run), c["server"], c["test"]): c["outcome"] for run in runs for c in run.get("checks", [])}
    tests = sorted({c["test"] for run in runs for c in run.get("checks", [])})
    rows = []
    for test in tests:
        cells = [outcome.get((id(run), server, test), "") for run, server in columns]
        rows.append((len(set(cells)) > 1, test, cells))
    rows.sort(key=lambda r: (not r[0], r[1]))
    head = "".join(f"<th>{escape(server)}<br><small>{escape(run['run_id'])}</small></th>" for run, server in columns)
    out = [f"<h2>Conformance matrix</h2><table><tr><th>check</th>{head}</tr>"]
    for changed, test, cells in rows:
        mark = " style='font-weight:bold'" if changed else ""
        out.append(f"<tr><td{mark}>{escape(test)}</td>" + "".join(
            f"<td class='{c}'>{escape(c or '-')}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def html(result: dict, runs: list[dict]) -> str:
    verdict = "passed" if result["passed"] else "failed"
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>imapwright compare</title><style>{CSS}</style>"
           f"</head><body><h1>Compare: baseline {escape(result['baseline'])}</h1>",
           f"<p>Thresholds: {escape(', '.join(result['thresholds']) or 'none')}. Verdict: "
           f"<span class='{verdict}'>{verdict}</span>.</p>"]
    out += [f"<p class='deviation'>Warning: {escape(w)}</p>" for w in result.get("warnings", [])]
    for cand in result["candidates"]:
        out.append(f"<h2>{escape(cand['label'])}</h2>")
        if cand.get("note"):
            out.append(f"<p class='deviation'>{escape(cand['note'])}</p>")
        if cand["verdicts"]:
            out.append(table(["check", "result", "detail"],
                              [[v["check"], "pass" if v["passed"] else "FAIL", v["detail"]] for v in cand["verdicts"]],
                              ["passed" if v["passed"] else "failed" for v in cand["verdicts"]]))
        if result["kind"] == "load":
            out.append(table(["request", "metric", "baseline", "candidate", "change"],
                              [[d["request"], d["metric"], f"{d['baseline']:g}", f"{d['candidate']:g}",
                                percent_change(d["change"], d["metric"])] for d in cand["deltas"]]))
        elif cand["changes"]:
            out.append(table(["check", "servers", "baseline", "candidate", "change"],
                              [[c["test"], f"{c['baseline_server']} -> {c['candidate_server']}", c["baseline"] or "-",
                                c["candidate"] or "-", c["kind"]] for c in cand["changes"]],
                              ["failed" if c["kind"] == "new failure" else "" for c in cand["changes"]]))
        else:
            out.append("<p>No check changed its outcome.</p>")
    if result["kind"] == "load":
        rate, latency, failures = {}, {}, {}
        for run in runs:
            r, lat, f = over_time_plots(run["history"], run["label"])
            rate.update(r)
            latency.update({k: v for k, v in lat.items() if k.endswith("p95")})
            failures.update(f)
        out += [line_plot(rate, "Throughput over time", "seconds", "requests/s", markers=False),
                line_plot(latency, "p95 latency over time (rolling 10 s)", "seconds", "ms", markers=False),
                line_plot(failures, "Failures over time", "seconds", "failures/s", markers=False)]
        capacity = {run["label"]: run["capacity"]["steps"] for run in runs if run.get("capacity")}
        if capacity:
            out.append("<h2>Saturation curves</h2>" + saturation_plot(capacity))
        out.append(_reconstruct_plot(runs))
        out.append(_large_mailbox_plots(runs))
    else:
        out.append(conformance_matrix(runs))
    out.append("</body></html>")
    return "\n".join(out)
