"""The page of one upgrade run: verdict, the documented steps with their output and timing, the
snapshot comparison (findings, explained differences, stale expectations) and, when suites ran,
both versions' conformance side by side. Self-contained like every report page."""

from __future__ import annotations

from html import escape

from .compare_out import conformance_matrix
from .html import CSS, table


def render_upgrade(summary: dict) -> str:
    r = summary["result"]
    verdict = "passed" if r["passed"] else "failed"
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>imapwright upgrade {escape(r['from'])} -> "
           f"{escape(r['to'])}</title><style>{CSS}</style></head><body>",
           f"<h1>Upgrade {escape(r['from'])} -> {escape(r['to'])}: <span class='{verdict}'>{verdict}</span></h1>",
           f"<p>Run {escape(summary['run_id'])}, {escape(summary['started'])} to {escape(summary['finished'])}. "
           f"Versions: {escape(', '.join(f'{k} {v}' for k, v in r['versions'].items()))}. "
           f"Procedure: <a href='{escape(r['reference'], quote=True)}'>{escape(r['reference'])}</a>.</p>"]
    if r["prerequisite"]:
        out.append(f"<p class='deviation'>Prerequisite: {escape(r['prerequisite'])}</p>")
    if r["failed"]:
        out.append(f"<p class='failed'>The upgrade stopped at: {escape(r['failed'])}</p>")
    for name, health in r.get("server_health", {}).items():
        if health.get("lines"):
            out.append(f"<h2 class='failed'>Server health of {escape(name)}: {escape(health['summary'])}</h2>"
                       f"<pre>{escape(chr(10).join(f'[{k}] {line}' for k, line in health['lines']))}</pre>")
        else:
            out.append(f"<p>Server health of {escape(name)} (crashes, database errors, assertions, "
                       f"sanitizers in its log): {escape(health['summary'])}</p>")
    if r.get("problems"):
        out.append(f"<h2 class='failed'>Problems outside the comparison</h2><pre>{escape(chr(10).join(r['problems']))}</pre>")
    if r["counts"]:
        out.append("<h2>Store</h2>" + table(list(r["counts"]), [list(r["counts"].values())]))
    if r["store_notes"]:
        out.append("<p>Not made on this server: " + escape("; ".join(r["store_notes"])) + "</p>")
    out.append("<h2>Timing</h2>" + table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in r["timings"].items()]
                                            + [[f"step: {s['name']}", f"{s['seconds']:.1f}"] for s in r["steps"]]))
    out.append("<h2>Upgrade steps</h2>")
    for s in r["steps"]:
        cls = "passed" if s["ok"] else "failed"
        out.append(f"<details{' open' if not s['ok'] else ''}><summary class='{cls}'>{escape(s['name'])} "
                   f"({'ok' if s['ok'] else 'FAILED'}, {s['seconds']:.1f} s)</summary><p>{escape(s['reference'])}</p>"
                   + (f"<p>Why: {escape(s['why'])}</p>" if s.get("why") else "")
                   + f"<pre>{escape(s['output'] or '(no output)')}</pre></details>")
    out.append(f"<h2>Findings: {len(r['findings'])}</h2>")
    if r["findings"]:
        out.append(f"<pre class='failed'>{escape(chr(10).join(r['findings']))}</pre>")
    else:
        out.append("<p>Every difference between the snapshots is explained by the release notes, or there is none.</p>")
    if r["explained"]:
        out.append(f"<h2>Expected differences: {len(r['explained'])}</h2>" + table(
            ["difference", "reason", "reference"], [[e["difference"], e["reason"], e["reference"]] for e in r["explained"]],
            ["deviation"] * len(r["explained"])))
    if r["stale"]:
        out.append("<h2 class='failed'>Expected differences that did not occur</h2>" + table(
            ["kind", "value", "reason"], [[e["kind"], e["value"], e["reason"]] for e in r["stale"]]))
    conformance = summary.get("conformance")
    if conformance:
        out.append(conformance_matrix(conformance["runs"]))
    out.append("</body></html>")
    return "\n".join(out)
