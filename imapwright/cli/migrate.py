"""imapwright migrate: plan, apply, verify, revert, forwards."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from .. import params as params_mod
from ..errors import UserError
from ..progress import Progress, console
from ..servers import log_gate
from .app import DEVIATIONS_HELP, Interrupt, TARGET_FORM, TARGET_HELP, choose_deviations, connect, migrate_app


VARIANT_HELP = "mbox variant of the source files: mboxo, mboxrd, mboxcl, mboxcl2"


def _check_variant(variant: str) -> None:
    from ..mailstore.mbox import VARIANTS

    if variant not in VARIANTS:
        raise UserError(f"unknown mbox variant {variant!r} (one of {', '.join(VARIANTS)})")


def _user_names(users_file: Path) -> list[str]:
    """The users of a user-list file; a bad line is an error here (a migration is all or nothing)."""
    from ..admin.addusers import read_user_list

    listed = read_user_list(users_file)
    if listed.skipped:
        raise UserError(f"{users_file}: {listed.skipped[0]}")
    return listed.users


def _migration_plan(source: Path, users_file: Path | None, variant: str):
    from ..admin.migrate import make_plan

    _check_variant(variant)
    return make_plan(source, _user_names(users_file) if users_file is not None else None, variant)


def _print_plan(plan) -> None:
    """One line per folder and per skipped file, tab-separated: easy to read and to grep."""
    for user in plan.users:
        for fp in user.folders:
            note = f"\t({fp.internal_data} FOLDER INTERNAL DATA message left out)" if fp.internal_data else ""
            bad = f"\t({len(fp.bad)} cannot be migrated)" if fp.bad else ""
            typer.echo(f"{user.user}\t{fp.folder.path.relative_to(user.root)}\t-> {fp.name}\t"
                       f"{len(fp.messages)} messages{note}{bad}")
        for skipped in user.skipped:
            typer.echo(f"{user.user}\t{skipped.path.relative_to(user.root)}\tskipped: {skipped.reason}")
    for problem in plan.problems:
        typer.echo(f"problem: {problem}")
    _print_ledger(plan.ledger())
    from ..admin.migrate import RISK_WORDS, delivery_risks

    for rule, count in delivery_risks(plan).items():
        typer.echo(f"messages\tthat {RISK_WORDS[rule]}\t{count}")
    typer.echo(f"{len(plan.users)} users, {plan.message_count} messages, {len(plan.problems)} problems")


def _print_method_effects(plan, method: str) -> None:
    """Before a run: what the method will do to these messages on the servers known to rewrite
    (methods.toml), and how to keep them as they are."""
    from ..admin.migrate import RISK_WORDS, delivery_risks, documented_rewrites

    risks = delivery_risks(plan)
    for entry in documented_rewrites(method):
        touched = {rule: risks[rule] for rule in entry.get("rules", []) if risks.get(rule)}
        if not touched:
            continue
        said = "; ".join(f"{n} messages {RISK_WORDS[rule]}" for rule, n in touched.items())
        typer.echo(f"note: --method {method} on {entry['family']}: {' '.join(entry['reason'].split())} "
                   f"[{entry['reference']}]. Here: {said}."
                   + (f" To keep them as they are: {entry['keep']}." if entry.get("keep") else ""))


def _print_ledger(ledger: dict) -> None:
    """The same accounting in plan, apply and verify: every file and message has a line."""
    for key, value in ledger.items():
        if isinstance(value, dict):
            value = ", ".join(f"{v} {k}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(value) or "-"
        typer.echo(f"ledger\t{key}\t{value}")


@migrate_app.command("plan")
def migrate_plan(
    source: Annotated[Path, typer.Argument(help="directory with one subdirectory of mail folders per user")],
    users: Annotated[Path | None, typer.Option(help="file of user names (default: every subdirectory)")] = None,
    variant: Annotated[str, typer.Option(help=VARIANT_HELP)] = "mboxrd",
) -> None:
    """Show which folder becomes which mailbox and what is skipped; reads everything, writes nothing."""
    plan = _migration_plan(source, users, variant)
    _print_plan(plan)
    if plan.problems:
        raise typer.Exit(1)


@migrate_app.command("apply")
def migrate_apply(
    source: Annotated[Path, typer.Argument(help="directory with one subdirectory of mail folders per user")],
    method: Annotated[str, typer.Option(help="append (IMAP), deliver (LMTP) or copy (spool files + repair)")] = "append",
    target: Annotated[str | None, typer.Option(help=TARGET_HELP)] = None,
    users: Annotated[Path | None, typer.Option(help="file of user names (default: every subdirectory)")] = None,
    variant: Annotated[str, typer.Option(help=VARIANT_HELP)] = "mboxrd",
    on_error: Annotated[str, typer.Option(help="a user with problems: skip-user (refused, nothing of theirs "
                                               "written), skip-message (the rest migrated), stop (nothing at all)")
                        ] = "skip-user",
    jobs: Annotated[int, typer.Option(help="users migrated at the same time, each in a session of its own "
                                           "(one session leaves the server idle half the time)")] = 1,
    report: Annotated[Path | None, typer.Option(help="write the ledger and every user's outcome as JSON")] = None,
    dry_run: Annotated[bool, typer.Option(help="print the plan, change nothing")] = False,
    deviations: Annotated[Path | None, typer.Option(help=DEVIATIONS_HELP)] = None,
) -> None:
    """Migrate every user's folders; existing mailboxes are never overwritten, a re-run adds only what is missing."""
    import json

    from ..admin.migrate import METHODS, ON_ERROR, apply_all
    from ..report.model import write_atomic

    if method not in METHODS:
        raise UserError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    if on_error not in ON_ERROR:
        raise UserError(f"--on-error {on_error!r}: one of {', '.join(ON_ERROR)}")
    if report is not None and report.is_dir():
        raise UserError(f"--report {report}: is a folder; give a file name")
    choose_deviations(deviations)
    params_mod.positive(jobs, "--jobs")
    plan = _migration_plan(source, users, variant)
    if dry_run:
        _print_plan(plan)
        _print_method_effects(plan, method)
        typer.echo(f"dry run: {plan.message_count} messages by {method}; nothing written")
        raise typer.Exit(1 if plan.problems else 0)
    if not target:
        raise UserError(f"give --target {TARGET_FORM} (or --dry-run)")
    if on_error == "stop":
        plan.check()
    server = connect(target)
    _print_method_effects(plan, method)
    Interrupt.note("a re-run of the same migration adds only what is missing")
    started = datetime.now(UTC)
    with Progress(console=console) as bar:
        task = bar.add_task(f"migrate ({method})", total=plan.message_count)
        batch = apply_all(server, plan, method, on_error, progress=lambda n: bar.advance(task, n),
                          say=lambda text: console.print(text, markup=False, highlight=False), jobs=jobs)
    for line in batch.failed:
        typer.echo(f"not migrated: {line}")
    _print_ledger(batch.ledger)
    # A crash or database error on the server while it took the mail fails the migration too.
    health = log_gate.server_health(server, started, "migration")
    typer.echo(f"server log\t{health['summary']}")
    for kind, line in health["lines"][:20]:
        typer.echo(f"server log\t[{kind}] {line}")
    if report is not None:
        write_atomic(report, json.dumps({"ledger": batch.ledger, "users": batch.users, "server_health": health},
                                        indent=1) + "\n")
    if batch.failed or not health["clean"]:
        raise typer.Exit(1)


@migrate_app.command("verify")
def migrate_verify(
    source: Annotated[Path, typer.Argument(help="directory with one subdirectory of mail folders per user")],
    target: Annotated[str | None, typer.Option(help=TARGET_HELP)] = None,
    users: Annotated[Path | None, typer.Option(help="file of user names (default: every subdirectory)")] = None,
    variant: Annotated[str, typer.Option(help=VARIANT_HELP)] = "mboxrd",
    method: Annotated[str | None, typer.Option(help="compare only what this method carries (flags, dates, headers)")] = None,
    accept: Annotated[list[str], typer.Option(help="a class of left-out source that is fine, repeatable: "
                                                   "skipped:hidden, skipped:binary, message:not-mail, ...")] = [],
) -> None:
    """Both directions, per folder: messages in the source not on the server and the reverse; what
    the plan could not migrate (skipped files, bad messages) counts too unless --accept names it;
    exit 1 on any."""
    from ..admin.migrate import CARRIES, EVERYTHING, EXPECTED_KINDS, dropped_class, not_migrated, verify_user

    if method is not None and method not in CARRIES:
        raise UserError(f"unknown method {method!r} (one of {', '.join(CARRIES)})")
    server = connect(target)
    plan = _migration_plan(source, users, variant)
    left_out = not_migrated(plan, set(accept))
    carries = CARRIES[method] if method else EVERYTHING
    count = len(left_out)
    for line in left_out:
        typer.echo(f"not migrated: {line}")
    expected = 0
    for user in plan.users:
        for difference in verify_user(server, user, carries, method):
            typer.echo(f"{user.user}: {difference}")
            if difference.kind in EXPECTED_KINDS:
                expected += 1
            elif difference.kind == "dropped" and dropped_class(difference.text.rsplit("[", 1)[-1].rstrip("]")) \
                    in accept:
                expected += 1
            else:
                count += 1
    _print_ledger({**plan.ledger(), "altered or dropped by the server, as documented": expected})
    typer.echo(f"{count} differences in {len(plan.users)} users")
    if count:
        raise typer.Exit(1)


@migrate_app.command("revert")
def migrate_revert(
    dest: Annotated[Path, typer.Argument(help="directory for DEST/USER/... mbox files")],
    users: Annotated[Path, typer.Option(help="file of user names")],
    target: Annotated[str | None, typer.Option(help=TARGET_HELP)] = None,
    variant: Annotated[str, typer.Option(help="mbox variant to write")] = "mboxrd",
) -> None:
    """Example 9-7: write users' mailboxes back to mbox files, each under lock, never half a file."""
    from ..admin.migrate import revert_user

    _check_variant(variant)
    names = _user_names(users)
    server = connect(target)
    for user in names:
        counts = revert_user(server, user, dest, variant)
        typer.echo(f"{user}: {sum(counts.values())} messages in {len(counts)} folders -> {dest / user}")


@migrate_app.command("forwards")
def migrate_forwards(
    source: Annotated[Path, typer.Argument(help="directory with one subdirectory per user holding .forward")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="aliases file to write (default: print)")] = None,
) -> None:
    """Example 9-8: users' .forward files as an aliases file; unreadable or odd entries are reported."""
    from ..admin.forwards import forwards

    params_mod.input_folder(source, "source")
    if output is not None and output.is_dir():
        raise UserError(f"--output {output}: is a folder; give a file name")
    result = forwards(source)
    for problem in result.problems:
        console.print(f"note: {problem}", markup=False)
    if output is None:
        typer.echo(result.aliases, nl=False)
    else:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(result.aliases)
        tmp.replace(output)
        typer.echo(f"{result.count} aliases -> {output}")


