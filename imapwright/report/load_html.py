"""The page of one load run: figures, plots over time, checks, capacity and large-list results.
Self-contained: styles and SVG plots inline, nothing fetched when it opens."""

from __future__ import annotations

from html import escape

from .html import CSS, table
from .model import describe_generator
from .plots import line_plot


def request_table(stats: dict) -> str:
    rows = [[r["type"], r["name"], r["requests"], r["failures"], f"{r['rps']:.1f}", r["p50_ms"], r["p95_ms"],
             r["p99_ms"], r["max_ms"]] for r in stats["requests"] + [stats["total"]]]
    return table(["type", "request", "count", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows,
                  ["failed" if r["failures"] else "" for r in stats["requests"] + [stats["total"]]])


def over_time_plots(history: list[dict], label: str = "") -> tuple[dict, dict, dict]:
    """Series of one run for the throughput, latency and failure plots (compare overlays runs)."""
    prefix = f"{label} " if label else ""
    # What completed in each interval (the difference of Locust's running total) beside Locust's own
    # figure, an average over the last 10 s that lags: it climbed for 17 s of a 20 s run.
    done = [(b["t"], (b["requests"] - a["requests"]) / (b["t"] - a["t"]))
            for a, b in zip(history, history[1:]) if b["t"] > a["t"] and "requests" in a]
    rate = {f"{prefix}completed each second": done,
            f"{prefix}Locust's requests/s (average of the last 10 s)": [(p["t"], p["rps"]) for p in history]}
    latency = {f"{prefix}p{q}": [(p["t"], p[f"p{q}_ms"]) for p in history if p[f"p{q}_ms"] is not None]
               for q in (50, 95, 99)}
    failures = {f"{prefix}failures/s": [(p["t"], p["fps"]) for p in history]}
    return rate, latency, failures


def checks_section(summary: dict) -> str:
    checks = summary["checks"]
    led = checks["ledger"]
    stat = checks.get("statistics", {})  # runs before 2026-12 have none
    verdict = "passed" if checks["passed"] else "failed"
    out = [f"<h2>Server checks: <span class='{verdict}'>{verdict}</span></h2>"]
    if checks.get("skipped"):  # nothing below was measured: say why, not a table of zeros alone
        out.append(f"<p class='failed'>Not checked: {escape(checks['skipped'])}</p>")
    out += [
           table(["check", "result"], [
               ["acknowledged (delivered or appended)", led["acknowledged"]],
               ["removed (expunged by the load)", led["removed"]],
               ["expected on the server", led["expected"]], ["found on the server", led["on_server"]],
               ["acknowledged but missing", led["missing_count"]],
               ["stored but never acknowledged", led["extra_count"]],
               ["outcome unknown (connection broke), found stored", led["unknown_stored"]],
               ["consistency problems (quota / reconstruct dry run)", checks["consistency_count"]],
               ["deliveries and APPENDs: in the statistics / came back in the ledger",
                f"{stat.get('reported', '?')} / {stat.get('ledger', '?')}"]],
               [""] * 4 + ["failed" if led["missing_count"] else "", "failed" if led["extra_count"] else "", "",
                           "failed" if checks["consistency_count"] else "",
                           "failed" if not stat.get("agree", True) else ""])]
    for title, items in (("Missing", led["missing"]), ("Unacknowledged", led["extra"]),
                         ("Consistency problems", checks["consistency"])):
        if items:
            out.append(f"<h3>{title}</h3><pre>{escape(chr(10).join(items))}</pre>")
    return "".join(out)


def capacity_section(capacity: dict) -> str:
    steps = capacity["steps"]
    sat = capacity["saturation"]
    point = sat["point"]
    out = ["<h2>Capacity</h2>", f"<p>Thresholds: p95 {capacity['p95_ms']:.0f} ms, failures "
           f"{capacity['max_failure_ratio']:.1%}. Saturation: {escape(sat['reason'])}"
           + (f"; last step within them: {point['users']} users, {point['rps']:.1f} req/s, p95 {point['p95_ms']:.0f} ms"
              if point else "") + ".</p>"]
    out.append(table(["users", "seconds", "requests", "req/s", "p50 ms", "p95 ms", "failures"],
                      [[s["users"], f"{s['seconds']:.1f}", s["requests"], f"{s['rps']:.1f}", s["p50_ms"], s["p95_ms"],
                        f"{s['failure_ratio']:.2%}"] for s in steps],
                      ["failed" if sat["crossed"] and s == sat["crossed"] else "" for s in steps]))
    out.append(saturation_plot({"": steps}, capacity["p95_ms"]))
    return "".join(out)


def cpu_section(cpu: dict, capacity: dict | None) -> str:
    """The generator's CPU beside the server's over the run, and what that says about the figures."""
    points = cpu.get("points") or []
    if not points:
        return ""
    if cpu.get("workers_bound"):
        verdict = ("<p class='failed'><b>Generator-bound</b>: workers on other hosts ran above 90% of a core for "
                   "over 10% of the run. These figures measure the harness as much as the server: add workers.</p>")
    elif cpu["generator_bound"]:
        verdict = (f"<p class='failed'><b>Generator-bound</b>: a Locust process used more than 90% of a core "
                   f"for {cpu['busy_share']:.0%} of the run (from {cpu['generator_busy_from']:.0f} s). These figures "
                   "measure the harness as much as the server: add --workers or a machine (load-worker).</p>")
    else:
        verdict = (f"<p>Not generator-bound: the busiest Locust process used more than 90% of a core for "
                   f"{cpu['busy_share']:.0%} of the run (the limit is 10%).</p>")
    if capacity and capacity.get("saturated_first"):
        side = capacity["saturated_first"]
        verdict += ("<p>Saturated first: <b>" + {"generator": "the load generator", "server": "the server",
                                                 "neither": "neither side ran out of CPU (latency or errors set the limit)"}[side]
                    + "</b>.</p>")
    if cpu.get("remote_workers"):
        verdict += (f"<p>{cpu['remote_workers']} worker(s) on other hosts; their CPU comes from their own reports: "
                    + (f"over 90% of a core too long on {escape(', '.join(cpu['workers_bound']))}"
                       if cpu.get("workers_bound") else "none ran flat out") + ".</p>")
    if not cpu.get("server_measured"):
        verdict += "<p>The server's CPU is not measured here (no local container cgroup).</p>"
    series = {"busiest Locust process (cores)": [(p["t"], p["busiest"]) for p in points],
              "all Locust processes (cores)": [(p["t"], p["generator"]) for p in points]}
    if cpu.get("server_measured"):
        series["server container (cores)"] = [(p["t"], p["server"]) for p in points if p["server"] is not None]
    return ("<h2>Generator and server CPU</h2>" + verdict
            + line_plot(series, f"CPU over the run ({cpu['cores']} cores)", "seconds", "cores", markers=False,
                        hlines={"90% of a core": 0.9}))


def saturation_plot(runs: dict[str, list[dict]], p95_ms: float | None = None) -> str:
    """Throughput and p95 against users, one line per run (the saturation curve)."""
    rate = {f"{label} req/s".strip(): [(s["users"], s["rps"]) for s in steps] for label, steps in runs.items()}
    lat = {f"{label} p95".strip(): [(s["users"], s["p95_ms"]) for s in steps] for label, steps in runs.items()}
    return (line_plot(rate, "Throughput against users", "users", "requests/s")
            + line_plot(lat, "p95 latency against users", "users", "ms",
                        hlines={"threshold": p95_ms} if p95_ms else None))


def _windows_html(lat: dict | None, what: str, idle: str) -> str:
    """Delivery latency while each admin request ran (`what`: what runs; `idle`: the row of the
    rest of the run), and the plot of every delivery with those spans shaded."""
    if not lat:
        return ""
    rows = [[label, v["runs"], v["deliveries_during"], v["p50_ms_during"], v["p95_ms_during"]]
            for label, v in lat.items() if label not in ("outside", "spans", "deliveries")]
    rows.append([idle, "", lat["outside"]["deliveries"], lat["outside"]["p50_ms"],
                 lat["outside"]["p95_ms"]])
    base = min(s for s, _ in lat["deliveries"])
    points = sorted((s - base, ms) for s, ms in lat["deliveries"])
    return (f"<h3>Delivery latency while {escape(what)} runs</h3>"
            + table(["window", "runs", "deliveries", "delivery p50 ms", "delivery p95 ms"], rows)
            + line_plot({"delivery latency": points}, f"Delivery latency (shaded: {what} running)",
                        "seconds", "ms", markers=False, spans=[(a - base, b - base) for a, b, _ in lat["spans"]]))


def large_list_section(large: dict) -> str:
    return (f"<h2>Large mailbox list</h2><p>{large['mailboxes']} seeded mailboxes, mboxlist_db "
            f"{escape(str(large['mboxlist_db']))}; seeding and population took {large['seed_and_population_seconds']} s.</p>"
            + _windows_html(large.get("latency"), "reconstruct", "no reconstruct running"))


def large_mailbox_section(large: dict) -> str:
    rows = [[name, r["requests"], r["failures"], r["p50_ms"], r["p95_ms"], r["max_ms"]]
            for name, r in sorted(large["requests"].items())]
    return (f"<h2>Large mailbox</h2><p>{escape(large['user'])}'s INBOX grown to {large['messages']} messages "
            f"before the load: {large['delivered']} {large.get('fill_words', 'delivered over LMTP')} in {large['grow_seconds']} s "
            f"({large['grow_per_second']}/s) to the {large['before']} it held.</p>"
            + table(["request on the large folder", "count", "failures", "p50 ms", "p95 ms", "max ms"], rows)
            + "<p>Cost against the folder's size: <code>imapwright compare</code> of runs with different "
              "<code>--messages</code> plots these per server.</p>"
            + _windows_html(large.get("latency"), "the repair", "no repair running"))


def render_load(summary: dict) -> str:
    p = summary["parameters"]
    server = summary["server"]
    stats = summary["stats"]
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>imapwright load {escape(summary['run_id'])}"
           f"</title><style>{CSS}</style></head><body>",
           f"<h1>Load run {escape(summary['run_id'])}</h1>",
           "" if summary.get("complete", True) else
           (f"<p class='headline verdict-INTERRUPTED'>{escape(summary.get('status', 'interrupted').upper())}</p>"
            f"<p><b>A partial run</b>: "
            f"{escape(summary.get('status_reason', ''))}. Its figures cover only the time it ran.</p>"),
           f"<p>Scenario <b>{escape(summary['scenario'])}</b> against {escape(server.get('name', ''))} "
           f"({escape(server.get('version', ''))}), {p['users']} users (spawn {p['spawn_rate']}/s), "
           f"{p['population']} accounts, {p['duration']:.0f} s, {escape(describe_generator(summary))}; "
           f"{escape(summary['started'])} to {escape(summary['finished'])}.</p>",
           f"<p class='counts'><span>{stats['total']['requests']} requests</span>"
           f"<span>{stats['total']['rps']:.1f} req/s</span><span>p95 {stats['total']['p95_ms']} ms</span>"
           f"<span>{stats['total']['failures']} failures</span>"
           + ("<span class='failed'>generator-bound</span>" if summary.get("cpu", {}).get("generator_bound") else "")
           + "</p>",
           checks_section(summary), "<h2>Requests</h2>", request_table(stats)]
    history = summary["history"]
    if history:
        rate, latency, failures = over_time_plots(history)
        out += [line_plot(rate, "Throughput over time", "seconds", "requests/s", markers=False),
                "<p>Completed each second: requests that ended in that second. Locust's figure is an "
                "average over the 10 s before each point, so it trails a change by up to 10 s.</p>",
                line_plot(latency, "Latency percentiles over time (rolling 10 s)", "seconds", "ms", markers=False),
                line_plot(failures, "Failures over time", "seconds", "failures/s", markers=False)]
    if summary["failures"]:
        out.append("<h2>Failures</h2>" + table(["type", "request", "error", "count"],
                                                [[f["type"], f["name"], f["error"], f["count"]] for f in summary["failures"]]))
    if summary.get("exceptions"):
        out.append("<h2 class='failed'>Exceptions in scenario code</h2>" + table(
            ["count", "message", "where"], [[e["count"], e["message"], " / ".join(e["where"])] for e in summary["exceptions"]]))
    if summary.get("capacity"):
        out.append(capacity_section(summary["capacity"]))
    if summary.get("cpu"):
        out.append(cpu_section(summary["cpu"], summary.get("capacity")))
    if summary.get("large_list"):
        out.append(large_list_section(summary["large_list"]))
    if summary.get("large_mailbox"):
        out.append(large_mailbox_section(summary["large_mailbox"]))
    log = summary.get("server_log", {})
    health = log.get("health")
    if health and health.get("lines"):
        out.append(f"<h2 class='failed'>Server health: {escape(health['summary'])}</h2>"
                   + table(["class", "log line"], health["lines"]))
    elif health:
        out.append(f"<p>Server health (crashes, database errors, assertions, sanitizers in its log): "
                   f"{escape(health['summary'])}</p>")
    if log.get("errors"):
        out.append(f"<h2>Server log: {log.get('error_count', 0)} of {log['lines']} lines with words like error or "
                   f"failed</h2><p>For context (refused logins, a client's broken connection): the health line "
                   f"above is what judges the run.</p><pre>{escape(chr(10).join(log['errors']))}</pre>")
    out.append("</body></html>")
    return "\n".join(out)
