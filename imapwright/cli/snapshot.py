"""imapwright snapshot and diff: a real server's store before and after its upgrade, read-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .. import params as params_mod
from ..errors import UserError
from ..progress import Progress, console
from .app import TARGET_HELP, Interrupt, app, connect, default_reports


@app.command("snapshot")
def snapshot(
    target: Annotated[str | None, typer.Option(help=TARGET_HELP)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSON file to write (default "
                                                "reports/snapshot-<id>.json; give one to resume a cut-short run)")] = None,
    users: Annotated[Path | None, typer.Option(help="file of user names to read")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every account the server lists")] = False,
    skip_missing: Annotated[bool, typer.Option(help="record listed accounts the admin cannot act as (no such "
                                                     "account) as missing instead of stopping")] = False,
) -> None:
    """Read every account's folders, ACLs, quotas, subscriptions, messages (digests, flags, dates,
    UIDs), sharers' views and Sieve scripts, as the admin acting for each user; never writes to the
    server. A run cut short resumes from OUTPUT.partial."""
    from ..admin.addusers import read_user_list
    from ..report.model import write_atomic
    from ..stores.snapshot import server_snapshot

    if (users is None) == (not all_):
        raise UserError("give --users FILE or --all")
    if output is not None:
        params_mod.output_file(output, "--output")  # one line before any work, not a traceback after it
    else:
        output = default_reports() / f"{params_mod.run_id('snapshot')}.json"
        params_mod.output_folder(output.parent, "--reports")
    names = None
    if users is not None:
        listed = read_user_list(users)
        if listed.skipped:
            raise UserError(f"{users}: {listed.skipped[0]}")
        names = listed.users
    partial = output.with_name(output.name + ".partial")
    Interrupt.note(f"a re-run with -o {output} resumes from {partial.name}")
    server = connect(target)
    names = names if names is not None else server.list_users()
    output.parent.mkdir(parents=True, exist_ok=True)
    with Progress(console=console) as bar:
        task = bar.add_task("snapshot", total=len(names))
        taken, missing = server_snapshot(server, names, partial, progress=lambda n: bar.advance(task, n),
                                         skip_missing=skip_missing)
    document = {"kind": "snapshot", "server": {"family": server.family_name, "version": server.version,
                                               "imap": str(server.imap)}, "accounts": taken, "missing": missing}
    write_atomic(output, json.dumps(document, indent=1, sort_keys=True) + "\n")
    Interrupt.written(0)
    partial.unlink(missing_ok=True)
    messages = sum(len(f["messages"]) for a in taken.values() for f in a["folders"].values())
    if missing:
        typer.echo(f"missing (the admin cannot act as them): {', '.join(missing)}")
    typer.echo(f"{len(taken)} accounts, {messages} messages -> {output}")


@app.command("diff")
def diff(
    before: Annotated[Path, typer.Argument(help="snapshot taken before")],
    after: Annotated[Path, typer.Argument(help="snapshot taken after")],
    expect: Annotated[str | None, typer.Option(help="expected differences of an upgrade pair, FROM->TO "
                                                    "(fixtures/upgrade/pairs.toml), e.g. dovecot:2.3->dovecot:2.4")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for diff.json and diff.html")] = None,
) -> None:
    """What changed between two snapshots, classified with the upgrade's expected differences;
    exit 1 on any difference nothing explains."""
    from ..admin.upgrade import classify, find_pair
    from ..report.diff_html import render_diff
    from ..report.model import write_atomic

    expected = ()
    if expect:
        from_, sep, to = expect.partition("->")
        if not sep:
            raise UserError(f"--expect {expect!r}: expected FROM->TO, e.g. cyrus:3.6->cyrus:3.10")
        expected = find_pair(from_.strip(), to.strip()).expected
    if out is not None:
        params_mod.output_folder(out, "--out")
    a, b = (_read_snapshot(p) for p in (before, after))
    result = classify(a["accounts"], b["accounts"], expected)
    document = {"kind": "diff", "before": str(before), "after": str(after), "expect": expect,
                "servers": [a.get("server"), b.get("server")], "findings": result.findings,
                "explained": result.explained, "stale": result.stale, "passed": not result.findings}
    folder = out or default_reports() / params_mod.run_id("diff")
    params_mod.output_folder(folder, "--out")
    write_atomic(folder / "diff.json", json.dumps(document, indent=1) + "\n")
    write_atomic(folder / "diff.html", render_diff(document))
    Interrupt.written(1 if result.findings else 0)
    for e in result.explained:
        typer.echo(f"expected: {e['difference']} ({e['reason']})")
    for f in result.findings:
        typer.echo(f"difference: {f}")
    for s in result.stale:
        typer.echo(f"expected difference did not occur: {s['kind']} {s['value']!r}")
    typer.echo(f"{len(result.findings)} unexplained differences, {len(result.explained)} expected; "
               f"report: {folder / 'diff.html'}")
    if result.findings:
        raise typer.Exit(1)


def _read_snapshot(path: Path) -> dict:
    from ..report.model import read_json

    data = read_json(path, "no such snapshot", "a snapshot")
    if not isinstance(data, dict) or data.get("kind") != "snapshot" or not isinstance(data.get("accounts"), dict):
        raise UserError(f"{path}: not a snapshot written by `imapwright snapshot`")
    return data
