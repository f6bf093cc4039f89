"""imapwright load: a Locust scenario against a server, checked after the run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import params as params_mod
from ..catalogue import DEFAULT_SERVER, lookup
from ..errors import UserError
from ..progress import console
from ..load.scenarios import CAPACITY, KNOBS, LARGE_MAILBOX_DEFAULT, REPAIR
from .app import (DEVIATIONS_HELP, REPORTS_ENV, REPORTS_HELP, TARGET_HELP, Interrupt, app, choose_deviations,
                  connect, ensure_images)


@app.command("load")
def load(
    scenario: Annotated[str, typer.Argument(help="delivery, mixed, admin-churn, large-list, large-mailbox, capacity")],
    server: Annotated[str, typer.Option(help="catalogue server to start for the run")] = DEFAULT_SERVER,
    target: Annotated[str | None, typer.Option(help=f"external server instead: {TARGET_HELP}")] = None,
    allow_destructive: Annotated[bool, typer.Option(help="let the run create accounts and mail on --target")] = False,
    insecure: Annotated[bool, typer.Option(help="accept a --target TLS certificate that does not verify")] = False,
    tls: Annotated[bool, typer.Option(help="IMAP sessions over TLS (IMAPS): what TLS costs the server")] = False,
    users: Annotated[int, typer.Option(help="concurrent Locust users (capacity: the most it steps up to)")] = 10,
    spawn_rate: Annotated[float, typer.Option(help="users started per second")] = 10,
    duration: Annotated[str, typer.Option(help="run time: seconds, or 30s, 5m, 1h30m (every run is bounded)")] = "30",
    max_requests: Annotated[int, typer.Option(help="also stop after this many requests (0: time only)")] = 0,
    population: Annotated[int, typer.Option(help="mailbox accounts the load goes to")] = 20,
    prefix: Annotated[str, typer.Option(help="population account names: PREFIX00000, PREFIX00001, ...")] = "load",
    workers: Annotated[int, typer.Option(help="Locust worker processes on this machine (0: one process)")] = 0,
    master: Annotated[bool, typer.Option(help="be the master for workers on other hosts (imapwright load-worker)")] = False,
    expect_workers: Annotated[int, typer.Option(help="--master: how many workers to wait for before the load starts")] = 1,
    master_bind: Annotated[str, typer.Option(help="--master: where workers connect, HOST:PORT (0.0.0.0:5557 for "
                                                  "other hosts)")] = "127.0.0.1:5557",
    mailboxes: Annotated[int, typer.Option(help="large-list: mailbox-list entries to seed first")] = 0,
    mboxlist_db: Annotated[str | None, typer.Option(help="large-list on Cyrus: flat, skiplist or twoskip")] = None,
    messages: Annotated[int, typer.Option(help=f"large-mailbox: messages its folder is grown to first "
                                               f"(default {LARGE_MAILBOX_DEFAULT})")] = 0,
    fill: Annotated[str, typer.Option(help="large-mailbox: how the folder is grown: lmtp (deliveries) or copy "
                                           "(message files into the spool and the server's repair: faster "
                                           "for a million)")] = "lmtp",
    mix: Annotated[str | None, typer.Option(help="mixed: imaptest-like state weights, e.g. select=100,fetch=50")] = None,
    size: Annotated[int | None, typer.Option(help="fixed message size in bytes (default: a realistic mix)")] = None,
    step_users: Annotated[int, typer.Option(help=f"capacity: {CAPACITY.knob('step_users').help}")
                          ] = CAPACITY.knob("step_users").value(),
    step_seconds: Annotated[float, typer.Option(help=f"capacity: {CAPACITY.knob('step_seconds').help}")
                            ] = CAPACITY.knob("step_seconds").value(),
    p95_ms: Annotated[float, typer.Option(help=f"capacity: {CAPACITY.knob('p95_ms').help}")
                      ] = CAPACITY.knob("p95_ms").value(),
    max_failure_ratio: Annotated[float, typer.Option(help=f"capacity: {CAPACITY.knob('max_failure_ratio').help}")
                                 ] = CAPACITY.knob("max_failure_ratio").value(),
    knob: Annotated[list[str], typer.Option("--knob", help="scenario knob KEY=VALUE (IMAPWRIGHT_LOAD_OPT_KEY; "
                                                       "loadtests/README.md lists them)")] = [],
    server_option: Annotated[list[str], typer.Option("--server-option", "-o", help="server setting KEY=VALUE")] = [],
    reports: Annotated[Path, typer.Option(help=REPORTS_HELP, envvar=REPORTS_ENV)] = Path("reports"),
    deviations: Annotated[Path | None, typer.Option(help=DEVIATIONS_HELP)] = None,
) -> None:
    """Run a Locust load scenario headless, check the server after it, write reports/<run-id>/."""
    from ..load.runner import LoadParams, run_on_server, run_on_target

    seconds = params_mod.duration(duration)
    params_mod.positive(spawn_rate, "--spawn-rate")
    params_mod.output_folder(reports, "--reports")
    choose_deviations(deviations)
    if scenario == "capacity":
        params_mod.positive(step_users, "--step-users")
        params_mod.duration(str(step_seconds), "--step-seconds")
        params_mod.positive(p95_ms, "--p95-ms")
        if not 0 <= max_failure_ratio <= 1:
            raise UserError(f"--max-failure-ratio {max_failure_ratio:g}: between 0 and 1")
    knobs = params_mod.key_values(knob, "--knob")
    unknown = sorted(set(knobs) - KNOBS.keys())
    if unknown:
        raise UserError(f"--knob {unknown[0]}: no such knob; known: {', '.join(sorted(KNOBS))}")
    if mix is not None:
        from ..load.mixes import check_mix

        knobs["mix"] = check_mix(mix)
    if size is not None:
        if size < 100:
            raise UserError("--size must be at least 100 bytes")
        knobs["size"] = str(size)
    if scenario == "capacity":
        knobs = {"step_users": str(step_users), "step_seconds": str(step_seconds), "max_users": str(users),
                 "p95_ms": str(p95_ms), "max_failure_ratio": str(max_failure_ratio), **knobs}
    params = LoadParams(scenario, users=users, spawn_rate=spawn_rate, duration=seconds, population=population,
                        workers=workers, mailboxes=mailboxes, messages=messages, fill=fill, prefix=prefix,
                        max_requests=max_requests,
                        options=knobs, tls=tls, expect_workers=expect_workers if master else 0,
                        master_bind=master_bind)
    params.check()
    settings = params_mod.key_values(server_option, "--server-option")
    if mboxlist_db:
        from ..servers.families import FAMILIES

        formats = FAMILIES["cyrus"].mailbox_list_formats  # the one family whose list has a backend to choose
        if mboxlist_db not in formats:
            raise UserError(f"--mboxlist-db {mboxlist_db!r}: one of {', '.join(formats)}")
        settings["mboxlist_db"] = mboxlist_db
    if target:
        if not allow_destructive:
            raise UserError("load creates accounts and mail; on a server the harness did not start, "
                            "say so with --allow-destructive")
        if settings:
            raise UserError("--mboxlist-db/--server-option apply to servers the harness starts, not --target")
        out, summary = run_on_target(connect(target, insecure), params, reports)
    else:
        lookup(server)
        ensure_images([server])
        out, summary = run_on_server(server, settings, params, reports)
    code = Interrupt.written(0 if summary["passed"] else 1)
    _print_load_summary(summary)
    console.print(f"report: {out / 'index.html'}")
    raise typer.Exit(code)


@app.command("load-worker")
def load_worker(
    master: Annotated[str | None, typer.Option(help="the master's HOST:PORT (its --master-bind)")] = None,
    master_wait: Annotated[float, typer.Option(help="seconds to wait for the master to answer before giving up "
                                                    "(it binds its port once its population is ready)")] = 600,
    build_image: Annotated[bool, typer.Option(help="build the worker image (docker/loadworker) and say how "
                                                   "to run it")] = False,
) -> None:
    """Work for an `imapwright load ... --master` on another host: the locustfile, the server and
    the population come from the master; this process ends when the master's run does."""
    from ..load.remote_worker import run_worker
    from ..load.runner import master_endpoint

    if build_image:
        from ..load.worker_image import build_worker_image

        tag = build_worker_image(lambda message, *_: console.print(f"[dim]{message}[/dim]"))
        typer.echo(f"built {tag}; on a worker host: docker run --rm --network host {tag} --master MASTER-HOST:5557")
        return
    if not master:
        raise UserError("give --master HOST:PORT (the master's --master-bind), or --build-image")
    host, port = master_endpoint(master, "--master")
    params_mod.positive(master_wait, "--master-wait")
    say = lambda text: print(f"imapwright load-worker: {text}", file=sys.stderr, flush=True)  # noqa: E731
    raise typer.Exit(run_worker(host, port, master_wait, say))


def _first_failure(summary: dict) -> str | None:
    """The check that failed, the cause first: a run that did not run whole, code that broke, Locust
    and the ledger disagreeing, then what the server holds."""
    checks = summary["checks"]
    stat = checks.get("statistics") or {}
    led = checks["ledger"]
    if not summary.get("complete", True):
        return f"{summary['status']}: {summary['status_reason']}"
    if summary["exceptions"]:
        return f"exception in scenario code: {summary['exceptions'][0]['message']}"
    if stat and not stat.get("agree", True) and "reported" in stat:
        return f"statistics incomplete: Locust counted {stat['reported']} deliveries and APPENDs, the ledger {stat['ledger']}"
    if checks.get("skipped"):
        return f"the server was not checked: {checks['skipped']}"
    if not led.get("passed", False):
        return (f"the server does not hold what was acknowledged: {led['missing_count']} missing, "
                f"{led['extra_count']} unacknowledged")
    if checks.get("consistency_count"):
        return f"{checks['consistency_count']} consistency problems"
    health = summary.get("server_log", {}).get("health", {})
    if not health.get("clean", True):
        return f"the server's log: {health['summary']}"
    return None if summary["passed"] else "see the report"


def _print_load_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{summary['scenario']} on {summary['server']['name']}")
    for col in ("request", "count", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(col, justify="left" if col == "request" else "right")
    stats = summary["stats"]
    for r in stats["requests"] + [stats["total"]]:
        table.add_row(f"{r['type']} {r['name']}".strip(), str(r["requests"]), str(r["failures"]), f"{r['rps']:.1f}",
                      f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}")
    console.print(table)
    why = _first_failure(summary)
    console.print("verdict: " + ("[green]passed[/]" if why is None else "[red]FAILED[/]: ") + (why or ""))
    led = summary["checks"]["ledger"]
    server_ok = led.get("passed", False) and not summary["checks"].get("consistency_count")
    verdict = "[green]passed[/]" if server_ok else "[red]FAILED[/]"
    console.print(f"server check {verdict}: {led['acknowledged']} acknowledged, {led['removed']} removed, "
                  f"{led['on_server']} on the server, {led['missing_count']} missing, {led['extra_count']} "
                  f"unacknowledged, {summary['checks']['consistency_count']} consistency problems")
    if led.get("kept"):  # the server said OK to an expunge and removed nothing: its behaviour, counted
        console.print(f"[yellow]expunges answered OK that removed nothing[/]: {led['kept']} (no untagged EXPUNGE; "
                      "the messages stay, and the check counts them as there)")
    stat = summary["checks"].get("statistics")
    if stat and not stat["agree"]:
        console.print(f"[red]statistics incomplete[/]: Locust counted {stat['reported']} deliveries and APPENDs, "
                      f"the ledger {stat['ledger']}")
    for exc in summary["exceptions"]:
        console.print(f"[red]exception in scenario code[/] ({exc['count']}x): {exc['message']}")
    if not summary.get("complete", True):
        console.print(f"[red]{summary['status'].upper()}[/]: {summary['status_reason']}")
    if summary.get("capacity"):
        console.print(f"capacity: {summary['capacity']['saturation']['reason']}; saturated first: "
                      f"{summary['capacity'].get('saturated_first', 'unknown')}")
    large = summary.get("large_mailbox")
    if large:
        console.print(f"large folder: {large['user']}'s INBOX grown to {large['messages']} messages "
                      f"({large['delivered']} {large.get('fill_words', 'delivered over LMTP')} in {large['grow_seconds']} s, "
                      f"{large['grow_per_second']}/s; "
                      f"{large['before']} there before)")
        windows = (large.get("latency") or {})
        during, outside = windows.get(REPAIR, {}), windows.get("outside", {})
        if during.get("runs"):
            console.print(f"repair of it: {during['runs']} runs; delivery p95 {during['p95_ms_during']} ms while it "
                          f"ran, {outside.get('p95_ms')} ms otherwise")
    cpu = summary.get("cpu") or {}
    if cpu.get("generator_bound"):
        console.print(f"[yellow]generator-bound[/]: a Locust process used over 90% of a core for "
                      f"{cpu['busy_share']:.0%} of the run; the figures measure the harness too (try --workers)")


