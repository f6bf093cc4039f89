"""The page of one upgrade run: verdict, the documented steps with their output and timing, the
snapshot comparison (findings, explained differences, stale expectations) and, when suites ran,
both versions' conformance side by side. Self-contained like every report page."""

from __future__ import annotations

from html import escape

from .compare_out import conformance_matrix
from .html import CSS, table


def render_upgrade(summary: dict) -> str:
    if "path" in summary:
        return render_path(summary)
    r = summary["result"]
    verdict = "passed" if r["passed"] else "failed"
    how = " by replication" if r.get("via") == "replication" else ""
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>imapwright upgrade {escape(r['from'])} -> "
           f"{escape(r['to'])}{how}</title><style>{CSS}</style></head><body>",
           f"<h1>Upgrade {escape(r['from'] + ' -> ' + r['to'])}{how}: <span class='{verdict}'>{verdict}</span></h1>",
           f"<p>Run {escape(summary['run_id'])}, {escape(summary['started'])} to {escape(summary['finished'])}.</p>"]
    out += rehearsal_section(summary)
    out += replication_section(r)
    out += hop_body(r, "h2")
    return _close(out, summary)


def _close(out: list[str], summary: dict) -> str:
    """Both versions' conformance side by side when suites ran, and the page's end."""
    conformance = summary.get("conformance")
    if conformance:
        out.append(conformance_matrix(conformance["runs"]))
    out.append("</body></html>")
    return "\n".join(out)


def render_path(summary: dict) -> str:
    """An upgrade release by release: a table of the hops, the end-to-end comparison, each hop."""
    p = summary["path"]
    verdict = "passed" if p["passed"] else "failed"
    title = " -> ".join(p["servers"])
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>imapwright upgrade {escape(title)}</title>"
           f"<style>{CSS}</style></head><body>",
           f"<h1>Upgrade {escape(title)}: <span class='{verdict}'>{verdict}</span></h1>",
           f"<p>Run {escape(summary['run_id'])}, {escape(summary['started'])} to {escape(summary['finished'])}. "
           "One mailstore, upgraded in place hop by hop; a snapshot after each hop is compared with the one "
           "before it, and the last with the first.</p>"]
    out += rehearsal_section(summary)
    rows, classes = [], []
    for h in p["hops"]:
        logged = "; ".join(f"{name}: {hl['summary']}" for name, hl in h.get("server_health", {}).items()
                           if not hl["clean"]) or "clean"
        rows.append([f"{h['from']} -> {h['to']}", ", ".join(f"{k} {v}" for k, v in h["versions"].items()),
                     h["prerequisite"] or "-", "stopped at " + h["failed"] if h["failed"] else
                     f"{sum(s['ok'] for s in h['steps'])}/{len(h['steps'])} ok",
                     len(h["findings"]), len(h["explained"]), logged])
        classes.append("passed" if h["passed"] else "failed")
    out.append("<h2>Hops</h2>" + table(["hop", "versions", "prerequisite (what the guide asks; what ran)",
                                        "steps", "findings", "expected", "server log"], rows, classes))
    missing = len(p["servers"]) - 1 - len(p["hops"])
    if missing or not p["end_to_end"]:
        out.append(f"<p class='failed'>The path stopped at {escape(p['hops'][-1]['to'])}: the hops after it did "
                   "not run, and there is no end-to-end comparison.</p>")
    else:
        whole = p["end_to_end"]
        out.append(f"<h2>End to end, {escape(p['servers'][0] + ' -> ' + p['servers'][-1])}: "
                   f"{len(whole['findings'])} findings</h2>")
        if whole["findings"]:
            out.append(f"<pre class='failed'>{escape(chr(10).join(whole['findings']))}</pre>")
        else:
            out.append("<p>What the first store held, the last holds, but for the differences the hops' release "
                       "notes lead us to expect.</p>")
        if whole["explained"]:
            out.append(f"<p>{len(whole['explained'])} expected differences (listed under their hops).</p>")
    for h in p["hops"]:
        out.append(f"<h2>Hop {escape(h['from'] + ' -> ' + h['to'])}: "
                   f"<span class='{'passed' if h['passed'] else 'failed'}'>{'passed' if h['passed'] else 'failed'}"
                   "</span></h2>")
        out += hop_body(h, "h3")
    return _close(out, summary)


def rehearsal_section(summary: dict) -> list[str]:
    """Where the store came from when it was the admin's own: the backup, which version wrote it,
    and every setting the copy did not take as given (folders moved into the image's layout,
    files of the admin's machine not used, what the harness overrode and why)."""
    r = summary.get("rehearsal")
    if not r:
        return []
    store = r["store"]
    versions = ", ".join(f"version {v} in {n} mailboxes" for v, n in store.get("index_versions", {}).items()) or "none"
    out = ["<h2>The backup</h2>",
           f"<p>A copy of {escape(r['backup'])} ({escape(r['kind'])}: {store.get('files', 0)} files, "
           f"{store.get('bytes', 0) / 1e6:.1f} MB; configuration {escape(str(store.get('configuration', '')))}) was "
           "loaded into a fresh volume; the backup itself was only read. Store format (cyrus.index): "
           f"{escape(versions)}; FROM writes version {escape(str(store.get('from_writes')))}.</p>",
           "<p>Settings the copy did not take as given (every other setting of the file was used as it is):</p>",
           table(["setting", "yours", "the copy's", "why"],
                 [[row["setting"], row["given"], row["used"] or "(not used)", row["why"]] for row in r["settings"]])]
    if r.get("notes"):
        out.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in r["notes"]) + "</ul>")
    return out


def replication_section(r: dict) -> list[str]:
    """FROM as the master, TO as its replica under traffic, then the switch: the traffic, the
    replication lag it saw, the switch's time, and every acknowledged delivery accounted for."""
    if r.get("via") != "replication":
        return []
    out = ["<p>FROM was populated and made the master, TO its replica (initial sync, then rolling "
           "replication while deliveries and flag changes kept coming); then the switch: traffic stopped, "
           "replication drained, FROM snapshotted and stopped, TO restarted as a primary and snapshotted. "
           "The snapshots are compared below.</p>"]
    t, lag, sw, d = r.get("traffic") or {}, r.get("lag") or {}, r.get("switch") or {}, r.get("deliveries") or {}
    if t:
        out.append("<h2>Traffic during rolling replication</h2>" + table(
            ["seconds", "deliveries acknowledged", "refused", "flag changes"],
            [[f"{t['seconds']:.1f}", t["deliveries"], len(t["refused"]), t["flag_changes"]]]))
    if lag:
        out.append("<h2>Replication lag under that traffic</h2><p>One probe delivery at a time to one account, "
                   "timed from the master's acknowledgement until the replica shows it.</p>" + table(
                       ["probes", "lost (not on the replica within 30 s)", "p50 s", "p95 s", "max s"],
                       [[lag.get("probes", 0), lag.get("lost", 0), lag.get("p50", "-"), lag.get("p95", "-"),
                         lag.get("max", "-")]], ["failed" if lag.get("lost") else "passed"]))
    if sw:
        out.append("<h2>The switch</h2>" + table(list(sw), [[f"{v:.2f}" for v in sw.values()]]))
    if d:
        cls = "failed" if d["missing_count"] else "passed"
        out.append(f"<h2 class='{cls}'>Deliveries: {d['acknowledged']} acknowledged by the master, "
                   f"{d['on the replica']} on the new primary</h2>")
        if d["missing"]:
            out.append(f"<pre class='failed'>{escape(chr(10).join(d['missing']))}</pre>")
    return out


def hop_body(r: dict, h: str) -> list[str]:
    """One in-place upgrade: versions, prerequisite, server health, steps, findings."""
    out = [f"<p>Versions: {escape(', '.join(f'{k} {v}' for k, v in r['versions'].items()))}. "
           f"Procedure: <a href='{escape(r['reference'], quote=True)}'>{escape(r['reference'])}</a>.</p>"]
    if r["prerequisite"]:
        out.append(f"<p class='deviation'>Prerequisite: {escape(r['prerequisite'])}</p>")
    if r["failed"]:
        out.append(f"<p class='failed'>The upgrade stopped at: {escape(r['failed'])}</p>")
    for name, health in r.get("server_health", {}).items():
        if health.get("lines"):
            out.append(f"<{h} class='failed'>Server health of {escape(name)}: {escape(health['summary'])}</{h}>"
                       f"<pre>{escape(chr(10).join(f'[{k}] {line}' for k, line in health['lines']))}</pre>")
        else:
            out.append(f"<p>Server health of {escape(name)} (crashes, database errors, assertions, "
                       f"sanitizers in its log): {escape(health['summary'])}</p>")
    if r.get("problems"):
        out.append(f"<{h} class='failed'>Problems outside the comparison</{h}><pre>{escape(chr(10).join(r['problems']))}</pre>")
    if r["counts"]:
        out.append(f"<{h}>Store</{h}>" + table(list(r["counts"]), [list(r["counts"].values())]))
    if r["store_notes"]:
        out.append("<p>Not made on this server: " + escape("; ".join(r["store_notes"])) + "</p>")
    out.append(f"<{h}>Timing</{h}>" + table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in r["timings"].items()]
                                               + [[f"step: {s['name']}", f"{s['seconds']:.1f}"] for s in r["steps"]]))
    out.append(f"<{h}>Upgrade steps</{h}>")
    for s in r["steps"]:
        cls = "passed" if s["ok"] else "failed"
        out.append(f"<details{' open' if not s['ok'] else ''}><summary class='{cls}'>{escape(s['name'])} "
                   f"({'ok' if s['ok'] else 'FAILED'}, {s['seconds']:.1f} s)</summary><p>{escape(s['reference'])}</p>"
                   + (f"<p>Why: {escape(s['why'])}</p>" if s.get("why") else "")
                   + f"<pre>{escape(s['output'] or '(no output)')}</pre></details>")
    out.append(f"<{h}>Findings: {len(r['findings'])}</{h}>")
    if r["findings"]:
        out.append(f"<pre class='failed'>{escape(chr(10).join(r['findings']))}</pre>")
    else:
        out.append("<p>Every difference between the snapshots is explained by the release notes, or there is none.</p>")
    if r["explained"]:
        out.append(f"<{h}>Expected differences: {len(r['explained'])}</{h}>" + table(
            ["difference", "reason", "reference"], [[e["difference"], e["reason"], e["reference"]] for e in r["explained"]],
            ["deviation"] * len(r["explained"])))
    if r["stale"]:
        out.append(f"<{h} class='failed'>Expected differences that did not occur</{h}>" + table(
            ["kind", "value", "reason"], [[e["kind"], e["value"], e["reason"]] for e in r["stale"]]))
    return out
