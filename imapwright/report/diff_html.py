"""The page of `imapwright diff`: what changed between two snapshots, expected or not."""

from __future__ import annotations

from html import escape

from .html import CSS, table


def render_diff(doc: dict) -> str:
    verdict = "PASS" if doc["passed"] else "FAIL"
    servers = " -> ".join(f"{s.get('family', '?')} {s.get('version', '?')}" for s in doc["servers"] if s)
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>imapwright diff</title><style>{CSS}</style>"
           f"</head><body><h1>Snapshot diff</h1><p class='headline verdict-{verdict}'>{verdict}</p>",
           f"<p>{escape(doc['before'])} against {escape(doc['after'])} ({escape(servers)}); expected differences "
           f"from {escape(doc['expect'] or 'none')}.</p>",
           f"<h2>Unexplained differences ({len(doc['findings'])})</h2>",
           table(["difference"], [[f] for f in doc["findings"]], ["failed"] * len(doc["findings"])),
           f"<h2>Expected ({len(doc['explained'])})</h2>",
           table(["difference", "reason", "reference"],
                 [[e["difference"], e["reason"], e["reference"]] for e in doc["explained"]])]
    if doc["stale"]:
        out.append("<h2>Expected differences that did not occur</h2>" + table(
            ["kind", "value", "reason"], [[s["kind"], s["value"], s["reason"]] for s in doc["stale"]]))
    out.append("</body></html>")
    return "\n".join(out)
