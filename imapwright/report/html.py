"""A self-contained HTML page: every check as a row, one column per server, failures expanded."""

from __future__ import annotations

from html import escape

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;max-width:50em}
th{background:#f3f3f3;text-align:left}.passed{background:#dff0d8}.failed,.error{background:#f8d7da}
.skipped{background:#eee;color:#666}.deviation{background:#fff3cd}
pre{white-space:pre-wrap;font-size:.85em;background:#fafafa;border:1px solid #ddd;padding:.5em;max-height:30em;overflow:auto}
.counts span{margin-right:1.2em}
td.name{max-width:60em;overflow-wrap:anywhere;word-break:break-word}
.headline{font-size:1.6em;font-weight:bold;padding:.4em .8em;display:inline-block;border-radius:.2em}
.verdict-PASS{background:#dff0d8}.verdict-FAIL,.verdict-CRASHED{background:#f8d7da}
.verdict-INTERRUPTED,.verdict-STOPPED-EARLY,.verdict-REFUSED{background:#ffe0b2}
"""


def headline(summary: dict) -> str:
    """PASS / FAIL / INTERRUPTED ... with counts per server, and what did not run."""
    verdict = summary.get("verdict") or ("PASS" if summary["exit_status"] == 0 else "FAIL")
    parts = []
    for name, counts in sorted(summary["per_server"].items()):
        bad = counts.get("failed", 0) + counts.get("error", 0)
        logged = summary.get("server_health", {}).get(name, {}).get("counts", {})
        parts.append(f"{name}: {counts.get('passed', 0)} passed, {bad} failed, {counts.get('deviation', 0)} "
                     f"deviations, {counts.get('skipped', 0)} skipped"
                     + "".join(f", {n} {kind} line(s) in its log" for kind, n in sorted(logged.items())))
    extra = ""
    if not summary.get("complete", True):
        extra = (f"<p><b>This run is not complete</b>: {escape(summary.get('status_reason', ''))}; "
                 f"{summary.get('not_run', 0)} tests did not run.</p>")
    return (f"<p class='headline verdict-{escape(verdict.replace(' ', '-'))}'>{escape(verdict)}</p>{extra}"
            f"<ul>{''.join(f'<li>{escape(p)}</li>' for p in parts)}</ul>")


def table(headers: list[str], rows: list[list[object]], classes: list[str] | None = None) -> str:
    """A plain table; `classes` gives each row a CSS class (passed, failed, deviation)."""
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f" class='{classes[i]}'" if classes and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


_SYMBOL = {"passed": "pass", "failed": "FAIL", "error": "ERROR", "skipped": "skip", "deviation": "deviation"}


def render(summary: dict) -> str:
    servers = sorted(summary["per_server"])
    checks = summary["checks"]
    by_test: dict[str, dict[str, dict]] = {}
    for c in checks:
        by_test.setdefault(c["test"], {})[c["server"]] = c
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>imapwright run {escape(summary['run_id'])}"
           f"</title><style>{CSS}</style></head><body>",
           f"<h1>imapwright run {escape(summary['run_id'])}</h1>", headline(summary),
           f"<p>{escape(summary['started'])} to {escape(summary['finished'])}; exit status "
           f"{summary['exit_status']}</p>", "<h2>Servers</h2><table><tr><th>server</th><th>version reported</th>"
           + "".join(f"<th>{o}</th>" for o in _SYMBOL) + "</tr>"]
    for name in servers:
        counts = summary["per_server"][name]
        out.append(f"<tr><td>{escape(name)}</td><td>{escape(summary['servers'].get(name, ''))}</td>"
                   + "".join(f"<td class='{o if counts.get(o) else ''}'>{counts.get(o, 0)}</td>" for o in _SYMBOL) + "</tr>")
    out.append("</table><h2>Checks</h2><table><tr><th>check</th>"
               + "".join(f"<th>{escape(s)}</th>" for s in servers) + "</tr>")
    for test in sorted(by_test):
        cells = []
        for name in servers:
            c = by_test[test].get(name)
            if c is None:
                cells.append("<td></td>")
                continue
            title = escape(c["message"] or c["deviation"], quote=True)
            cells.append(f"<td class='{c['outcome']}' title='{title}'>{_SYMBOL[c['outcome']]}</td>")
        out.append(f"<tr><td class='name'>{escape(test)}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    for name, rows in sorted(summary.get("tables", {}).items()):
        columns = sorted({server for cells in rows.values() for server in cells})
        out.append(f"<h2>Outcomes: {escape(name)}</h2><table><tr><th>{escape(name)}</th>"
                   + "".join(f"<th>{escape(s)}</th>" for s in columns) + "</tr>")
        for row in sorted(rows):
            cells = []
            for server in columns:
                entry = rows[row].get(server)
                cells.append("<td></td>" if entry is None else
                             f"<td class='{entry['outcome']}'>{escape(entry['cell'])}</td>")
            out.append(f"<tr><td>{escape(row)}</td>{''.join(cells)}</tr>")
        out.append("</table>")
    health = {name: h for name, h in summary.get("server_health", {}).items() if h["lines"]}
    if health:
        out.append("<h2>Server health: crashes and errors in the servers' logs</h2>")
        for name, h in sorted(health.items()):
            counts = ", ".join(f"{n} {kind}" for kind, n in sorted(h["counts"].items()))
            out.append(f"<h3>{escape(name)}: {escape(counts)}</h3>")
            out.append(table(["class", "test", "outcome", "log line"],
                             [[x["kind"], x["test"], x["outcome"], x["line"]] for x in h["lines"]],
                             [x["outcome"] for x in h["lines"]]))
    problems = [c for c in checks if c["outcome"] in ("failed", "error")]
    if problems:
        out.append("<h2>Failures</h2>")
        for c in problems:
            out.append(f"<h3>{escape(c['nodeid'])}</h3><pre>{escape(c['message'])}</pre>")
            if c["server_log"]:
                out.append(f"<details open><summary>server log ({escape(c['server'])})</summary>"
                           f"<pre>{escape(c['server_log'])}</pre></details>")
    deviations = [c for c in checks if c["outcome"] == "deviation"]
    if deviations:
        out.append("<h2>Known deviations</h2><table><tr><th>check</th><th>server</th><th>reason</th></tr>")
        out += [f"<tr><td>{escape(c['test'])}</td><td>{escape(c['server'])}</td><td>{escape(c['message'])}</td></tr>"
                for c in deviations]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
