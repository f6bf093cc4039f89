"""imapwright run, compare, report, upgrade: suite runs and what is made of them."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape as escape_markup

from .. import params as params_mod
from ..catalogue import DEFAULT_SERVER, lookup
from ..errors import UserError
from ..progress import build_progress, console
from .app import (DEVIATIONS_HELP, REPORTS_ENV, REPORTS_HELP, TARGET_HELP, Interrupt, app, choose_deviations,
                  default_reports, ensure_images, suite_paths)


@app.command("upgrade")
def upgrade(
    from_: Annotated[str, typer.Argument(metavar="FROM", help="catalogue server holding the store first, e.g. cyrus:3.6")],
    to: Annotated[list[str], typer.Argument(metavar="TO...", help="catalogue server(s) it is upgraded to in place, in "
                                                                "order, e.g. cyrus:3.10 (or the whole Debian path: "
                                                                "cyrus:3.6 cyrus:3.10 cyrus:3.12)")],
    size: Annotated[str, typer.Option(help="store size: ci (12 accounts) or full (300 accounts)")] = "full",
    users: Annotated[int | None, typer.Option(help="accounts (overrides --size)")] = None,
    messages: Annotated[int | None, typer.Option(help="messages per account (overrides --size)")] = None,
    suites: Annotated[str, typer.Option(help="conformance suites to run on the first and the last version, "
                                             "comma-separated ('' for none)")] = "health",
    reports: Annotated[Path, typer.Option(help=REPORTS_HELP, envvar=REPORTS_ENV)] = Path("reports"),
    data: Annotated[Path | None, typer.Option(help="rehearse on your own data: a backup (folder or tar archive of "
                                                   "the server's configuration file and data folders, see the README) "
                                                   "loaded into a copy instead of a store the harness makes; only "
                                                   "read, never changed")] = None,
    older_store: Annotated[bool, typer.Option(help="with --data: accept a store whose mailboxes an older version "
                                                   "wrote (upgraded in place, `reconstruct -V max` never run)")] = False,
    via: Annotated[str, typer.Option(help="in-place (the same data, each version in turn) or replication (TO as a "
                                          "replica of FROM under traffic, then the switch)")] = "in-place",
    duration: Annotated[float, typer.Option(help="with --via replication: seconds of traffic (deliveries, flag "
                                                 "changes) while replication rolls")] = 20.0,
    deviations: Annotated[Path | None, typer.Option(help=DEVIATIONS_HELP)] = None,
) -> None:
    """Populate a store on FROM (or load a copy of your backup with --data), upgrade it in place to
    TO (hop by hop through each TO given) with the documented steps, compare after each hop and end
    to end."""
    import json

    from ..stores.store import StoreSize
    from ..admin.upgrade import conformance_both, find_pair, run_path
    from ..report.model import write_atomic
    from ..report.upgrade_html import render_upgrade

    names = [from_, *to]
    specs = [lookup(name) for name in names]
    if len(set(names)) < len(names):
        raise UserError(f"each version once: {' -> '.join(names)}")
    for a, b in zip(names, names[1:]):
        find_pair(a, b)
    params_mod.output_folder(reports, "--reports")
    choose_deviations(deviations)
    if via not in ("in-place", "replication"):
        raise UserError(f"--via {via!r}: in-place or replication")
    if via == "replication":
        from ..servers.families import FAMILIES

        if len(names) != 2 or data is not None:
            raise UserError("--via replication switches one master to one replica: give FROM and one TO, without --data")
        if not FAMILIES[specs[0].family].replicates:
            raise UserError(f"upgrade by replication is not available for {specs[0].family} servers yet")
        if not 1 <= duration <= 3600:
            raise UserError(f"--duration {duration:g}: between 1 and 3600 seconds")
    if data is None and older_store:
        raise UserError("--older-store is about a backup: give it with --data")
    if data is not None and (users is not None or messages is not None):
        raise UserError("--users and --messages size a store the harness makes; --data loads yours")
    if size not in ("ci", "full"):
        raise UserError(f"--size {size!r}: ci or full")
    base = StoreSize.named(size)
    store_size = StoreSize(users if users is not None else base.users, messages if messages is not None else base.messages)
    if store_size.users < 3 or store_size.messages < 1:
        raise UserError("--users must be at least 3 (accounts share with their neighbours) and --messages at least 1")
    suite_names = [s for s in suites.split(",") if s.strip()]
    paths = suite_paths(suite_names) if suite_names else []
    backup = None
    if data is not None:
        from ..admin.rehearse import load_backup
        from ..servers.families import DATA

        with console.status(f"reading the backup {escape_markup(str(data))}"):  # shown on a terminal only
            backup = load_backup(specs[0], data, older_store)  # every refusal here, before anything starts
    ensure_images(names)
    run_id = params_mod.run_id(("rehearse-" if backup else "upgrade-") + "-".join(n.replace(":", "") for n in names))
    out = reports / run_id
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    if via == "replication":
        _replicate(specs, store_size, duration, paths, reports, names, started)
    with build_progress() as bar_for:
        bar = bar_for(" -> ".join(names))
        path = run_path(specs, store_size, progress=bar, origin=backup)
    summary = {"kind": "upgrade", "run_id": run_id, "started": started}
    if backup is not None:
        summary["rehearsal"] = {"backup": str(data), "kind": backup.archive.kind, "store": backup.plan.store,
                                "settings": backup.plan.rows, "notes": path.hops[0].store_notes or backup.plan.notes}
        moved = [r["setting"] for r in backup.plan.rows if r["used"].startswith(DATA)]
        unused = [r["setting"] for r in backup.plan.rows if not r["used"]]
        console.print(f"backup: {len(moved)} folders and paths in the image's layout ({', '.join(moved)})"
                      + (f"; not used (files of your machine): {', '.join(unused)}" if unused else ""), highlight=False)
        for row in backup.plan.rows:
            if row["used"] and not row["used"].startswith(DATA):
                console.print(f"setting overridden: {escape_markup(row['setting'])}: {escape_markup(row['given'])} -> "
                              f"{escape_markup(row['used'])} ({escape_markup(row['why'])})", highlight=False)
        for note in summary["rehearsal"]["notes"]:
            console.print(f"note: {escape_markup(note)}", highlight=False)
    if len(specs) == 2:
        summary["result"] = path.hops[0].as_dict()
    else:
        summary["path"] = path.as_dict()
    if paths:
        summary["conformance"] = conformance_both(paths, [names[0], names[-1]], out / "conformance")
    summary["finished"] = datetime.now().astimezone().isoformat(timespec="seconds")
    write_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    write_atomic(out / "index.html", render_upgrade(summary))
    passed = path.passed if len(specs) > 2 else path.hops[0].passed
    Interrupt.written(0 if passed else 1)
    for hop in path.hops:
        if len(specs) > 2:
            console.print(f"[bold]{hop.from_} -> {hop.to}[/]: {'passed' if hop.passed else '[red]FAILED[/]'}")
        _print_hop(hop)
    if len(specs) > 2:
        if len(path.hops) < len(specs) - 1 or not path.end_to_end:
            console.print(f"[red]the path stopped at {escape_markup(path.hops[-1].to)}[/]: the hops after it did not run")
        else:
            whole = path.end_to_end
            console.print(f"end to end {names[0]} -> {names[-1]}: {len(whole['findings'])} findings, "
                          f"{len(whole['explained'])} expected differences")
            for f in whole["findings"][:20]:
                console.print(f"[red]finding end to end[/]: {escape_markup(f)}")
    if summary.get("conformance"):
        for c in summary["conformance"]["changes"]:
            console.print(f"conformance {c['kind']}: {c['test']} {c['baseline'] or '-'} -> {c['candidate'] or '-'}")
    console.print(f"verdict: {'[green]passed[/]' if passed else '[red]FAILED[/]'}; report: {out / 'index.html'}")
    raise typer.Exit(0 if passed else 1)


def _replicate(specs, store_size, duration: float, paths, reports: Path, names: list[str], started: str) -> None:
    """upgrade --via replication: run, write the report, print, exit with the verdict."""
    import json

    from ..admin.replicate import run_replication
    from ..admin.upgrade import conformance_both
    from ..report.model import write_atomic
    from ..report.upgrade_html import render_upgrade

    run_id = params_mod.run_id("replicate-" + "-".join(n.replace(":", "") for n in names))
    out = reports / run_id
    with build_progress() as bar_for:
        bar = bar_for(" -> ".join(names) + " by replication")
        result = run_replication(specs[0], specs[1], store_size, duration, progress=bar)
    summary = {"kind": "upgrade", "run_id": run_id, "started": started, "result": result.as_dict()}
    if paths:
        summary["conformance"] = conformance_both(paths, names, out / "conformance")
    summary["finished"] = datetime.now().astimezone().isoformat(timespec="seconds")
    write_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    write_atomic(out / "index.html", render_upgrade(summary))
    Interrupt.written(0 if result.passed else 1)
    t, lag, sw, d = result.traffic, result.lag, result.switch, result.deliveries
    if t:
        console.print(f"traffic: {t['deliveries']} deliveries, {t['flag_changes']} flag changes in {t['seconds']:.0f} s")
    if lag.get("probes"):
        console.print(f"replication lag under that traffic: p50 {lag['p50']:.2f} s, p95 {lag['p95']:.2f} s, "
                      f"max {lag['max']:.2f} s ({lag['probes']} probes, {lag['lost']} lost)")
    if sw.get("total") is not None:
        console.print(f"switch: drained in {sw['drain']:.2f} s, master stopped and replica serving in "
                      f"{sw['stop and promote']:.2f} s, {sw['total']:.2f} s in all")
    if d:
        mark = "[red]" if d["missing_count"] else ""
        console.print(f"{mark}deliveries acknowledged by {names[0]}: {d['acknowledged']}, on {names[1]}: "
                      f"{d['on the replica']}{'[/]' if mark else ''}")
    _print_hop(result)
    console.print(f"verdict: {'[green]passed[/]' if result.passed else '[red]FAILED[/]'}; report: {out / 'index.html'}")
    raise typer.Exit(0 if result.passed else 1)


def _print_hop(result) -> None:
    for s in result.steps:
        console.print(f"{'[green]ok[/]' if s.ok else '[red]FAILED[/]'} {escape_markup(s.name)} ({s.seconds:.1f} s)")
    console.print(f"store: {', '.join(f'{v} {k}' for k, v in result.counts.items())}")
    console.print(f"timings: {', '.join(f'{k} {v:.1f} s' for k, v in result.timings.items())}")
    if result.prerequisite:
        console.print(f"prerequisite: {escape_markup(result.prerequisite)}")
    for e in result.explained[:5]:
        console.print(f"expected: {escape_markup(e['difference'])}")
    if len(result.explained) > 5:
        console.print(f"expected: ... {len(result.explained) - 5} more (see the report)")
    for f in result.findings[:20]:
        console.print(f"[red]finding[/]: {escape_markup(f)}")
    for p in result.problems[:20]:
        console.print(f"[red]problem[/]: {escape_markup(p)}")
    for e in result.stale:
        console.print(f"[red]expected difference did not occur[/]: {e['kind']} {escape_markup(repr(e['value']))}")
    for name, health in result.server_health.items():
        mark = "[red]server log[/]" if not health["clean"] else "server log"
        console.print(f"{mark} {name}: {escape_markup(health['summary'])}", highlight=False)


@app.command("compare")
def compare(
    runs: Annotated[list[Path], typer.Argument(help="baseline run, then one or more candidate runs (reports/<run-id>)")],
    fail_on: Annotated[list[str], typer.Option(help="threshold, repeatable: p95+10%, rps-10%, failures+1, "
                                                    "saturation-10%, new-failures, lost, generator-bound, none (default: "
                                                    "new-failures for suite runs, lost for load runs)")] = [],
    out: Annotated[Path | None, typer.Option(help="folder for compare.html/.md/.json and junit.xml")] = None,
) -> None:
    """Hold candidates against a baseline; exit 1 when a --fail-on threshold is crossed."""
    from ..report import compare_out
    from ..report.compare import comparison, parse_threshold, read_run
    from ..report.model import write_atomic

    if len(runs) < 2:
        raise UserError("give a baseline run and at least one candidate run")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    thresholds = [parse_threshold(t) for t in fail_on]
    summaries = [read_run(r) for r in runs]
    result = comparison(summaries[0], summaries[1:], thresholds)
    target = out or default_reports() / params_mod.run_id("compare")
    params_mod.output_folder(target, "--out")
    import json

    write_atomic(target / "compare.json", json.dumps(result, indent=1) + "\n")
    write_atomic(target / "compare.md", compare_out.markdown(result))
    write_atomic(target / "junit.xml", compare_out.junit(result))
    write_atomic(target / "compare.html", compare_out.html(result, summaries))
    Interrupt.written(0 if result["passed"] else 1)
    _print_comparison(result)
    console.print(f"report: {target / 'compare.html'}")
    raise typer.Exit(0 if result["passed"] else 1)


def _print_comparison(result: dict) -> None:
    from rich.table import Table

    for cand in result["candidates"]:
        table = Table(title=f"{cand['label']} against {result['baseline']}")
        if result["kind"] == "load":
            for col in ("request", "metric", "baseline", "candidate", "change"):
                table.add_column(col, justify="left" if col in ("request", "metric") else "right")
            from ..report.compare_out import percent_change

            for d in cand["deltas"]:
                if d["metric"] in ("p95", "rps", "failures", "saturation"):
                    table.add_row(d["request"], d["metric"], f"{d['baseline']:g}", f"{d['candidate']:g}",
                                  percent_change(d["change"], d["metric"]))
        else:
            for col in ("check", "servers", "baseline", "candidate", "change"):
                table.add_column(col)
            for c in cand["changes"]:
                table.add_row(c["test"], f"{c['baseline_server']} -> {c['candidate_server']}",
                              c["baseline"] or "-", c["candidate"] or "-", c["kind"])
        console.print(table)
        if cand.get("note"):
            console.print(f"[yellow]warning[/]: {cand['note']}", markup=True)
        for v in cand["verdicts"]:
            mark = "[green]pass[/]" if v["passed"] else "[red]FAIL[/]"
            console.print(f"{mark} {v['check']}: {v['detail']}")
    for warning in result.get("warnings", []):
        console.print(f"[yellow]warning[/]: {warning}")
    console.print("verdict: " + ("[green]passed[/]" if result["passed"] else "[red]FAILED[/]"))


@app.command("report")
def report(runs: Annotated[list[Path] | None, typer.Argument(help="run folders (default: the newest run)")] = None,
           reports: Annotated[Path, typer.Option(help="where runs are (default ./reports)", envvar=REPORTS_ENV)] = Path("reports")) -> None:
    """Write (again) the HTML page of runs from their summary.json, and print where it is."""
    from ..report import html as run_html
    from ..report.compare import read_run
    from ..report.load_html import render_load
    from ..report.model import write_atomic

    if not runs:
        found = sorted((p for p in reports.glob("*/summary.json") if not p.parent.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime)
        if not found:
            raise UserError(f"no runs under {reports}")
        runs = [found[-1].parent]
    for path in runs:
        summary = read_run(path)
        folder = path if path.is_dir() else path.parent
        if summary["kind"] == "upgrade":
            from ..report.upgrade_html import render_upgrade

            page = render_upgrade(summary)
        else:
            page = render_load(summary) if summary["kind"] == "load" else run_html.render(summary)
        write_atomic(folder / "index.html", page)
        console.print(f"{summary['label']}: {folder / 'index.html'}")


@app.command("run")
def run(
    suites: Annotated[list[str] | None, typer.Argument(help="suite names (health, ...) or paths; default all")] = None,
    server: Annotated[list[str], typer.Option(help="catalogue server, repeatable")] = [],
    image: Annotated[str | None, typer.Option(help="your own image for --server cyrus:custom / dovecot:custom")] = None,
    catalogue: Annotated[Path | None, typer.Option(help="TOML file of your own servers")] = None,
    deviations: Annotated[Path | None, typer.Option(help=DEVIATIONS_HELP)] = None,
    target: Annotated[str | None, typer.Option(help=f"external server {TARGET_HELP}")] = None,
    insecure: Annotated[bool, typer.Option(help="accept a --target TLS certificate that does not verify")] = False,
    target_version: Annotated[str | None, typer.Option(help="--target's version, [FAMILY:]VERSION, where it "
                                                             "does not say itself")] = None,
    allow_destructive: Annotated[bool, typer.Option(help="let data-changing suites run on --target")] = False,
    read_only: Annotated[bool, typer.Option(help="only the checks that change nothing (a production server)")
                         ] = False,
    server_option: Annotated[list[str], typer.Option("--server-option", "-o",
                                                     help="server setting KEY=VALUE for started servers")] = [],
    workers: Annotated[int, typer.Option(help="parallel pytest workers (one server per worker); 0 = auto")] = 0,
    log_gate: Annotated[str, typer.Option(help="a crash, database error, assertion or sanitizer line in the "
                                               "server's log during a test: fail it (fail), only report it "
                                               "(report), or do not read the log (off)")] = "fail",
    reports: Annotated[Path, typer.Option(help=REPORTS_HELP, envvar=REPORTS_ENV)] = Path("reports"),
    pytest_args: Annotated[list[str], typer.Option("--pytest-arg", help="extra pytest argument, repeatable")] = [],
) -> None:
    """Run suites against servers; writes junit.xml, summary.json and index.html to reports/<run-id>/."""
    import pytest

    names = list(dict.fromkeys(server)) or ([] if target else [DEFAULT_SERVER])
    if target and names:
        if read_only:
            raise UserError(f"--read-only checks a --target and nothing else; --server {names[0]} would also start "
                            "and test a server here: give one or the other")
        console.print(f"also started and tested beside the --target: {', '.join(names)} (--server)")
    if image or catalogue:  # the user's own servers (docker is needed for them alone)
        from ..servers.contract import register_own

        register_own(names, image, catalogue)
    for name in names:
        lookup(name)
    params_mod.output_folder(reports, "--reports")
    params_mod.not_negative(workers, "--workers")
    paths = suite_paths(suites or [])
    from ..pytest_plugin.deviations import read

    known = read(deviations)  # a malformed list: one line (a UserError) before any test
    from ..pytest_plugin.log_gate import MODES

    if log_gate not in MODES:
        raise UserError(f"--log-gate {log_gate!r}: one of {', '.join(MODES)}")
    if target:
        from ..pytest_plugin.deviations import refuse_unknown_version
        from ..servers.target import connect_target

        # A wrong address or password, or a version the deviations need and nobody knows: one
        # clear line before any test.
        handle = connect_target(target, target_version, insecure)
        refuse_unknown_version(handle, known.deviations, [*known.check_noise, *known.log_noise])
        console.print(f"target: {handle.family_name} {handle.version} (version from {handle.version_source})")
    ensure_images(names)
    run_id = params_mod.run_id()
    out = reports / run_id
    from ..invocation import suite_args

    args = [*suite_args(paths),
            f"--junitxml={out / 'junit.xml'}", f"--imapwright-report={out}", f"--run-id={run_id}", "-rfEx"]
    args += [a for n in names for a in ("--server", n)]
    args += ["--image", image] if image else []
    args += ["--catalogue", str(catalogue.resolve())] if catalogue else []
    args += ["--deviations", str(deviations.resolve())] if deviations else []
    if target:
        args += ["--target", target]
    if target_version:
        args += ["--target-version", target_version]
    if insecure:
        args.append("--insecure")
    if read_only and allow_destructive:
        raise UserError("--read-only and --allow-destructive contradict each other; give one")
    if allow_destructive:
        args.append("--allow-destructive")
    if read_only:
        args.append("--read-only")
    args += ["--log-gate", log_gate]
    for key, value in params_mod.key_values(server_option, "--server-option").items():
        args += ["--server-option", f"{key}={value}"]
    count = workers or min(len(names) + bool(target), os.cpu_count() or 1)
    if count > 1:
        args += ["-n", str(count), "--dist", "loadgroup"]
    Interrupt.note(f"the report in {out} says which tests did not run")
    code = pytest.main(args + list(pytest_args), plugins=[])
    if code != pytest.ExitCode.INTERRUPTED:
        Interrupt.written(int(code))
    console.print(f"report: {out / 'index.html'}")
    if code == pytest.ExitCode.INTERRUPTED:
        console.print("[red]INTERRUPTED[/]: the report says which tests did not run")
        raise typer.Exit(130)  # like `load` and any program stopped by Ctrl-C
    raise typer.Exit(int(code))


