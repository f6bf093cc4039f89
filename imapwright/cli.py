"""The `imapwright` command: servers (list, build, start, stop, prune) and run (suites -> reports/)."""

from __future__ import annotations

import os
import secrets
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from .catalogue import CATALOGUE, DEFAULT_SERVER, lookup
from . import params as params_mod
from .errors import UserError
from .progress import Progress, build_progress, console

ROOT = Path(__file__).resolve().parent.parent
app = typer.Typer(add_completion=False, no_args_is_help=False, help=__doc__)
servers_app = typer.Typer(no_args_is_help=False, help="Server images and containers.")
app.add_typer(servers_app, name="servers")
admin_app = typer.Typer(no_args_is_help=False, help="The book's administration workflows.")
app.add_typer(admin_app, name="admin")
migrate_app = typer.Typer(no_args_is_help=False, help="Migration from Berkeley mbox and Maildir (the book's toolkit).")
app.add_typer(migrate_app, name="migrate")


def _ensure_images(names: list[str], force: bool = False, say_current: bool = False) -> None:
    """Build missing or outdated images side by side (two cores: docker builds are mostly downloads)."""
    from concurrent.futures import ThreadPoolExecutor

    from .servers import engine
    from .servers.images import ensure_image, find_image, is_current

    todo = [lookup(n) for n in names if force or not is_current(lookup(n))]
    if say_current:
        for name in sorted(set(names) - {spec.name for spec in todo}):
            version = find_image(lookup(name)).labels.get(engine.LABEL_VERSION, "?")
            console.print(f"{name}: up to date (server {version})", markup=False)
    if not todo:
        return
    with build_progress() as bar_for, ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(ensure_image, spec, bar_for(spec.name), force) for spec in todo]
        errors = []
        for future in futures:
            try:
                future.result()
            except UserError as exc:
                errors.append(str(exc))
    if errors:
        raise UserError("; ".join(errors))


@servers_app.command("list")
def servers_list() -> None:
    """The catalogue, with each image's state and the version its server reports."""
    from .servers import engine, ownership
    from .servers.images import find_image

    engine.client()
    for name, spec in CATALOGUE.items():
        image = find_image(spec)
        state = f"built, server {image.labels.get(engine.LABEL_VERSION, '?')}" if image else "not built"
        running = engine.find([f"{engine.LABEL_SERVER}={name}"], ("container",))
        started = sum(ownership.is_detached(c) for c in running)
        extra = (f", {started} started by `servers start`" if started else "") + (
            f", {len(running) - started} in runs" if len(running) > started else "")
        default = " (default)" if name == DEFAULT_SERVER else ""
        typer.echo(f"{name:<12} Debian {spec.release:<9} {state}{extra}{default}")


@servers_app.command("build")
def servers_build(names: Annotated[list[str], typer.Argument(help="catalogue names, e.g. cyrus:3.6")],
                  force: Annotated[bool, typer.Option(help="rebuild even if the image is up to date")] = False
                  ) -> None:
    """Build server images (and their Debian base where needed), with progress."""
    for name in names:
        lookup(name)
    _ensure_images(names, force, say_current=True)


@servers_app.command("start")
def servers_start(
    name: Annotated[str, typer.Argument(help="catalogue name")] = DEFAULT_SERVER,
    imap_port: Annotated[int, typer.Option(help="IMAP port on 127.0.0.1 (default: a free one)")] = 0,
    lmtp_port: Annotated[int, typer.Option(help="LMTP port on 127.0.0.1 (default: a free one)")] = 0,
    option: Annotated[list[str], typer.Option("--option", "-o", help="server setting KEY=VALUE, repeatable")] = [],
    password_file: Annotated[Path | None, typer.Option(help="where to write the admin password")] = None,
) -> None:
    """Start a server that keeps running until `servers stop`; prints how to reach it."""
    from .servers.managed import start_server

    spec = lookup(name)
    options = {}
    for item in option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = value.strip()
    from .servers.ports import check_free

    for port in (imap_port, lmtp_port):
        if port:
            check_free(port)  # before a possibly long image build
    _ensure_images([name])
    server = start_server(spec, options, imap_port=imap_port or None, lmtp_port=lmtp_port or None, detached=True)
    secret = password_file or Path(f"imapwright-{spec.family}-{spec.version}.secret")
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(server.admin_password + "\n")
    typer.echo(f"{server.describe()} container={server.container.name}")
    typer.echo(f"admin {server.admin_user}, password in {secret} (mode 600)")
    typer.echo(f"target: --target 'imap://{server.admin_user}@{server.imap}?lmtp={server.lmtp}"
               f"&exec=docker:{server.container.name}'  (IMAPWRIGHT_TARGET_PASSWORD=$(cat {secret}))")


@servers_app.command("stop")
def servers_stop(names: Annotated[list[str] | None, typer.Argument(help="catalogue names or container names")] = None,
                 all_: Annotated[bool, typer.Option("--all", help="every server started by `servers start`")] = False,
                 force: Annotated[bool, typer.Option(help="also a running imapwright run's server of that name")] = False
                 ) -> None:
    """Stop servers started with `servers start` and remove their data volumes."""
    from .servers.managed import stop_containers

    if not names and not all_:
        raise UserError("name a server (e.g. cyrus:3.6) or pass --all")
    removed = stop_containers(None if all_ else names, force)
    for name in removed:
        typer.echo(f"stopped {name}")
    typer.echo(f"stopped {len(removed)} server(s)")


@servers_app.command("prune")
def servers_prune(detached: Annotated[bool, typer.Option(help="also the servers of `servers start`")] = False) -> None:
    """Remove what runs that died left behind (a running run's servers are never touched)."""
    from .servers.managed import prune

    containers, volumes = prune(detached)
    typer.echo(f"removed {containers} container(s) and {volumes} volume(s)")


def _dry_run_or_need_target(steps: list[str], dry_run: bool, target: str | None, form: str) -> bool:
    """True when this was a dry run (the steps printed); otherwise a target must have been given."""
    if dry_run:
        for step in steps:
            typer.echo(step)
        return True
    if not target:
        raise UserError(f"give --target {form} (or --dry-run)")
    return False


@admin_app.command("addusers")
def admin_addusers(
    file: Annotated[Path, typer.Argument(help="user names, one a line (# comments, blank lines allowed)")],
    target: Annotated[str | None, typer.Option(help="imap://ADMIN@HOST:PORT; password from IMAPWRIGHT_TARGET_PASSWORD")] = None,
    quota: Annotated[int, typer.Option(help="STORAGE quota in KB for each account")] = 15360,
    folders: Annotated[str, typer.Option(help="default folders, comma-separated")] = "drafts,sent-mail",
    dry_run: Annotated[bool, typer.Option(help="print what would be done, change nothing")] = False,
) -> None:
    """Example 9-1: create accounts, their default folders and a STORAGE quota from a file."""
    
    from .admin.addusers import addusers, commands_for, read_user_list

    params_mod.not_negative(quota, "--quota")
    listed = read_user_list(file)
    folder_list = tuple(f for f in (x.strip() for x in folders.split(",")) if f)
    for problem in listed.skipped:
        console.print(f"skipped {problem}")
    if dry_run:
        for user in listed.users:
            for command in commands_for(user, quota, folder_list):
                typer.echo(command)
        typer.echo(f"dry run: {len(listed.users)} users, {len(listed.skipped)} lines skipped")
        return
    if not target:
        raise UserError("give --target imap://ADMIN@HOST:PORT (or --dry-run)")
    from .servers.target import connect_target

    handle = connect_target(target)  # checks address and password first
    if handle.family.accounts_in_userdb:
        # Dovecot: an account is a userdb entry; CREATE user.NAME cannot make one.
        if "exec" not in handle.features:
            raise UserError(f"{handle.family.name} keeps accounts in its user database, which imapwright reaches "
                            "only through an exec channel: add ?exec=docker:NAME to --target")
        made = {u for u in listed.users if handle.family.ensure_account(handle, u)}
        if made:
            console.print(f"{len(made)} accounts added to the user database with random passwords "
                          "(the admin's master login works; set users' own passwords there)", markup=False)
    in_userdb = handle.family.accounts_in_userdb  # quotas too are userdb fields there
    with Progress(console=console) as bar:
        task = bar.add_task("addusers", total=len(listed.users))
        result = addusers(handle.imap.host, handle.imap.port, handle.admin_user, handle.admin_password,
                          listed.users, None if in_userdb else quota, folder_list,
                          progress=lambda n: bar.advance(task, n))
    if in_userdb:  # the account was made in the userdb; CREATE then found its INBOX there
        result.created += [u for u in result.existing if u in made]
        result.existing = [u for u in result.existing if u not in made]
    if in_userdb and quota:
        for user in result.created:
            handle.set_quota(handle.user_mailbox(user), quota, settle=user == result.created[-1])
    for user, reason in result.failed.items():
        console.print(f"failed {user}: {reason}")
    typer.echo(result.summary(len(listed.skipped)))
    if result.failed:
        raise typer.Exit(1)


@admin_app.command("rename-account")
def admin_rename_account(
    old: Annotated[str, typer.Argument(help="current user name")],
    new: Annotated[str, typer.Argument(help="new user name")],
    target: Annotated[str | None, typer.Option(help="imap://ADMIN@HOST:PORT?exec=docker:NAME; password from "
                                                    "IMAPWRIGHT_TARGET_PASSWORD")] = None,
    workaround: Annotated[bool, typer.Option(help="the book's Example 9-2 instead of the server's RENAME")] = False,
    dry_run: Annotated[bool, typer.Option(help="print the steps, change nothing")] = False,
) -> None:
    """Rename an account: the server's RENAME (Cyrus: allowusermoves) or the book's workaround."""
    from .admin import rename_account
    from .servers.target import connect_target

    steps = ([f"RENAME user.{old} user.{new}"] if not workaround else
             [f"CREATE user.{new} and each folder of user.{old}, with their ACLs", "MOVE every message",
              f"DELETE user.{old}", f"reconstruct -r user.{new}", f"SETQUOTA user.{new} as user.{old} had"])
    if _dry_run_or_need_target(steps, dry_run, target, "imap://ADMIN@HOST:PORT"):
        return
    server = connect_target(target)
    if workaround and "exec" not in server.features:
        raise UserError("the workaround runs reconstruct: give the target an exec channel (?exec=docker:NAME)")
    try:
        if workaround:
            rename_account.workaround(server, old, new, say=typer.echo)
        else:
            rename_account.native(server, old, new)
    except rename_account.RenameError as exc:
        raise UserError(str(exc)) from None
    typer.echo(f"renamed user.{old} to user.{new}")


@admin_app.command("checkpoint")
def admin_checkpoint(
    directory: Annotated[Path, typer.Argument(help="where mailboxes.N.gz are kept (N=0 newest)")],
    target: Annotated[str | None, typer.Option(help="imap://ADMIN@HOST:PORT?exec=docker:NAME; password from "
                                                    "IMAPWRIGHT_TARGET_PASSWORD")] = None,
    keep: Annotated[int, typer.Option(help="copies kept in the rotation")] = 60,
    restore: Annotated[int | None, typer.Option(help="restore copy N instead of taking one (destructive)")] = None,
    rebuild: Annotated[bool, typer.Option(help="no copy left: rebuild the list from the mailbox headers")] = False,
    allow_destructive: Annotated[bool, typer.Option(help="needed with --restore and --rebuild")] = False,
    dry_run: Annotated[bool, typer.Option(help="print the steps, change nothing")] = False,
) -> None:
    """Example 9-5: checkpoint the Cyrus mailbox list (rotation of compressed dumps), or restore one."""
    from .admin import checkpoint as cp

    if restore is not None and rebuild:
        raise UserError("give --restore N or --rebuild, not both")
    params_mod.positive(keep, "--keep")
    if restore is not None:
        params_mod.not_negative(restore, "--restore")
    copy = directory / f"{cp.PREFIX}.{restore}.gz" if restore is not None else None
    if copy is not None and not copy.is_file():
        raise UserError(f"no checkpoint {copy}")
    steps = (["set the live mailboxes.db aside", f"ctl_mboxlist -u < {copy}", "restart", "quota -f"] if copy else
             ["set the live mailboxes.db aside", "reconstruct -P every cyrus.header on every partition", "restart",
              "quota -f"] if rebuild else
             [f"ctl_mboxlist -d | gzip > {directory}/{cp.PREFIX}.0.gz (older copies shifted, {keep} kept)"])
    if _dry_run_or_need_target(steps, dry_run, target, "imap://ADMIN@HOST:PORT?exec=docker:NAME"):
        return
    if (copy or rebuild) and not allow_destructive:
        raise UserError("replacing the live mailbox list is destructive: add --allow-destructive")
    from .servers.target import connect_target

    server = connect_target(target)
    if (copy or rebuild) and "restart" not in server.features:
        console.print("after this, restart the server: running processes keep the old list open")
    if copy:
        typer.echo(cp.restore(server, copy).rstrip())
        typer.echo(f"restored {copy}")
    elif rebuild:
        typer.echo(cp.rebuild(server).rstrip())
    else:
        typer.echo(f"checkpoint {cp.checkpoint(server, directory, keep)}")


TARGET_FORM = "imap://ADMIN@HOST:PORT[?lmtp=HOST:PORT&exec=docker:NAME]"
TARGET_HELP = f"{TARGET_FORM}; password from IMAPWRIGHT_TARGET_PASSWORD"
VARIANT_HELP = "mbox variant of the source files: mboxo, mboxrd, mboxcl, mboxcl2"


def _check_variant(variant: str) -> None:
    from .mailstore.mbox import VARIANTS

    if variant not in VARIANTS:
        raise UserError(f"unknown mbox variant {variant!r} (one of {', '.join(VARIANTS)})")


def _user_names(users_file: Path) -> list[str]:
    """The users of a user-list file; a bad line is an error here (a migration is all or nothing)."""
    from .admin.addusers import read_user_list

    listed = read_user_list(users_file)
    if listed.skipped:
        raise UserError(f"{users_file}: {listed.skipped[0]}")
    return listed.users


def _connect(target: str | None):
    """The --target server, checked (address, password) before any work starts."""
    if not target:
        raise UserError(f"give --target {TARGET_FORM}")
    from .servers.target import connect_target

    return connect_target(target)


def _migration_plan(source: Path, users_file: Path | None, variant: str):
    from .admin.migrate import make_plan

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
    typer.echo(f"{len(plan.users)} users, {plan.message_count} messages, {len(plan.problems)} problems")


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
    report: Annotated[Path | None, typer.Option(help="write the ledger and every user's outcome as JSON")] = None,
    dry_run: Annotated[bool, typer.Option(help="print the plan, change nothing")] = False,
) -> None:
    """Migrate every user's folders; existing mailboxes are never overwritten, a re-run adds only what is missing."""
    import json

    from .admin.migrate import METHODS, ON_ERROR, apply_all
    from .report.model import write_atomic

    if method not in METHODS:
        raise UserError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    if on_error not in ON_ERROR:
        raise UserError(f"--on-error {on_error!r}: one of {', '.join(ON_ERROR)}")
    if report is not None and report.is_dir():
        raise UserError(f"--report {report}: is a folder; give a file name")
    plan = _migration_plan(source, users, variant)
    if dry_run:
        _print_plan(plan)
        typer.echo(f"dry run: {plan.message_count} messages by {method}; nothing written")
        raise typer.Exit(1 if plan.problems else 0)
    if not target:
        raise UserError(f"give --target {TARGET_FORM} (or --dry-run)")
    if on_error == "stop":
        plan.check()
    server = _connect(target)
    with Progress(console=console) as bar:
        task = bar.add_task(f"migrate ({method})", total=plan.message_count)
        batch = apply_all(server, plan, method, on_error, progress=lambda n: bar.advance(task, n),
                          say=lambda text: console.print(text, markup=False, highlight=False))
    for line in batch.failed:
        typer.echo(f"not migrated: {line}")
    _print_ledger(batch.ledger)
    if report is not None:
        write_atomic(report, json.dumps({"ledger": batch.ledger, "users": batch.users}, indent=1) + "\n")
    if batch.failed:
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
    from .admin.migrate import CARRIES, EVERYTHING, EXPECTED_KINDS, dropped_class, not_migrated, verify_user

    if method is not None and method not in CARRIES:
        raise UserError(f"unknown method {method!r} (one of {', '.join(CARRIES)})")
    server = _connect(target)
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
    from .admin.migrate import revert_user

    _check_variant(variant)
    names = _user_names(users)
    server = _connect(target)
    for user in names:
        counts = revert_user(server, user, dest, variant)
        typer.echo(f"{user}: {sum(counts.values())} messages in {len(counts)} folders -> {dest / user}")


@migrate_app.command("forwards")
def migrate_forwards(
    source: Annotated[Path, typer.Argument(help="directory with one subdirectory per user holding .forward")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="aliases file to write (default: print)")] = None,
) -> None:
    """Example 9-8: users' .forward files as an aliases file; unreadable or odd entries are reported."""
    from .admin.forwards import forwards

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


def _key_values(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


@app.command("load")
def load(
    scenario: Annotated[str, typer.Argument(help="delivery, mixed, admin-churn, large-list, capacity")],
    server: Annotated[str, typer.Option(help="catalogue server to start for the run")] = DEFAULT_SERVER,
    target: Annotated[str | None, typer.Option(help=f"external server instead: {TARGET_FORM}")] = None,
    allow_destructive: Annotated[bool, typer.Option(help="let the run create accounts and mail on --target")] = False,
    users: Annotated[int, typer.Option(help="concurrent Locust users (capacity: the most it steps up to)")] = 10,
    spawn_rate: Annotated[float, typer.Option(help="users started per second")] = 10,
    duration: Annotated[str, typer.Option(help="run time: seconds, or 30s, 5m, 1h30m (every run is bounded)")] = "30",
    max_requests: Annotated[int, typer.Option(help="also stop after this many requests (0: time only)")] = 0,
    population: Annotated[int, typer.Option(help="mailbox accounts the load goes to")] = 20,
    prefix: Annotated[str, typer.Option(help="population account names: PREFIX00000, PREFIX00001, ...")] = "load",
    workers: Annotated[int, typer.Option(help="Locust worker processes on this machine (0: one process)")] = 0,
    mailboxes: Annotated[int, typer.Option(help="large-list: mailbox-list entries to seed first")] = 0,
    mboxlist_db: Annotated[str | None, typer.Option(help="large-list on Cyrus: flat, skiplist or twoskip")] = None,
    mix: Annotated[str | None, typer.Option(help="mixed: imaptest-like state weights, e.g. select=100,fetch=50")] = None,
    size: Annotated[int | None, typer.Option(help="fixed message size in bytes (default: a realistic mix)")] = None,
    step_users: Annotated[int, typer.Option(help="capacity: users added per step")] = 5,
    step_seconds: Annotated[float, typer.Option(help="capacity: seconds per step")] = 10,
    p95_ms: Annotated[float, typer.Option(help="capacity: p95 latency threshold")] = 500,
    max_failure_ratio: Annotated[float, typer.Option(help="capacity: failure ratio threshold")] = 0.01,
    option: Annotated[list[str], typer.Option("--option", help="scenario knob KEY=VALUE (IMAPWRIGHT_LOAD_OPT_KEY)")] = [],
    server_option: Annotated[list[str], typer.Option("--server-option", "-o", help="server setting KEY=VALUE")] = [],
    reports: Annotated[Path, typer.Option(help="folder for reports/<run-id>/")] = ROOT / "reports",
) -> None:
    """Run a Locust load scenario headless, check the server after it, write reports/<run-id>/."""
    from .load.runner import LoadParams, run_load

    seconds = params_mod.duration(duration)
    params_mod.positive(spawn_rate, "--spawn-rate")
    params_mod.output_folder(reports, "--reports")
    if scenario == "capacity":
        params_mod.positive(step_users, "--step-users")
        params_mod.duration(str(step_seconds), "--step-seconds")
        params_mod.positive(p95_ms, "--p95-ms")
        if not 0 <= max_failure_ratio <= 1:
            raise UserError(f"--max-failure-ratio {max_failure_ratio:g}: between 0 and 1")
    knobs = _key_values(option, "--option")
    if mix is not None:
        from .load.mixes import check_mix

        knobs["mix"] = check_mix(mix)
    if size is not None:
        if size < 100:
            raise UserError("--size must be at least 100 bytes")
        knobs["size"] = str(size)
    if scenario == "capacity":
        knobs = {"step_users": str(step_users), "step_seconds": str(step_seconds), "max_users": str(users),
                 "p95_ms": str(p95_ms), "max_failure_ratio": str(max_failure_ratio), **knobs}
    params = LoadParams(scenario, users=users, spawn_rate=spawn_rate, duration=seconds, population=population,
                        workers=workers, mailboxes=mailboxes, prefix=prefix, max_requests=max_requests,
                        options=knobs)
    params.check()
    settings = _key_values(server_option, "--server-option")
    if mboxlist_db:
        if mboxlist_db not in ("flat", "skiplist", "twoskip"):
            raise UserError(f"--mboxlist-db {mboxlist_db!r}: one of flat, skiplist, twoskip")
        settings["mboxlist_db"] = mboxlist_db
    if target:
        if not allow_destructive:
            raise UserError("load creates accounts and mail; on a server the harness did not start, "
                            "say so with --allow-destructive")
        if settings:
            raise UserError("--mboxlist-db/--server-option apply to servers the harness starts, not --target")
        handle = _connect(target)
        info = {"name": handle.name, "family": handle.family.name, "version": handle.version, "target": True}
        out, summary = run_load(handle, params, reports, info)
    else:
        from .servers.managed import start_server

        spec = lookup(server)
        _ensure_images([server])
        with console.status(f"starting {server}"):
            handle = start_server(spec, settings)
        try:
            info = {"name": spec.name, "family": spec.family, "version": handle.version, "options": settings}
            out, summary = run_load(handle, params, reports, info)
        finally:
            with console.status(f"stopping {server}"):
                handle.stop()
    _print_load_summary(summary)
    console.print(f"report: {out / 'index.html'}")
    raise typer.Exit(0 if summary["passed"] else 1)


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
    led = summary["checks"]["ledger"]
    verdict = "[green]passed[/]" if summary["checks"]["passed"] else "[red]FAILED[/]"
    console.print(f"server check {verdict}: {led['acknowledged']} acknowledged, {led['removed']} removed, "
                  f"{led['on_server']} on the server, {led['missing_count']} missing, {led['extra_count']} "
                  f"unacknowledged, {summary['checks']['consistency_count']} consistency problems")
    stat = summary["checks"].get("statistics")
    if stat and not stat["agree"]:
        console.print(f"[red]statistics incomplete[/]: Locust counted {stat['reported']} deliveries and APPENDs, "
                      f"the ledger {stat['ledger']}")
    for exc in summary["exceptions"]:
        console.print(f"[red]exception in scenario code[/] ({exc['count']}x): {exc['message']}")
    if summary.get("capacity"):
        console.print(f"capacity: {summary['capacity']['saturation']['reason']}")


@app.command("upgrade")
def upgrade(
    from_: Annotated[str, typer.Argument(metavar="FROM", help="catalogue server holding the store first, e.g. cyrus:3.6")],
    to: Annotated[str, typer.Argument(help="catalogue server it is upgraded to in place, e.g. cyrus:3.10")],
    size: Annotated[str, typer.Option(help="store size: ci (12 accounts) or full (300 accounts)")] = "full",
    users: Annotated[int | None, typer.Option(help="accounts (overrides --size)")] = None,
    messages: Annotated[int | None, typer.Option(help="messages per account (overrides --size)")] = None,
    suites: Annotated[str, typer.Option(help="conformance suites to run on both versions, comma-separated ('' for none)")] = "health",
    reports: Annotated[Path, typer.Option(help="folder for reports/<run-id>/")] = ROOT / "reports",
) -> None:
    """Populate a store on FROM, upgrade it in place to TO with the documented steps, compare."""
    import json

    from .admin.store import StoreSize
    from .admin.upgrade import find_pair, run_upgrade
    from .report.model import write_atomic
    from .report.upgrade_html import render_upgrade

    from_spec, to_spec = lookup(from_), lookup(to)
    find_pair(from_, to)
    params_mod.output_folder(reports, "--reports")
    if size not in ("ci", "full"):
        raise UserError(f"--size {size!r}: ci or full")
    base = StoreSize.named(size)
    store_size = StoreSize(users if users is not None else base.users, messages if messages is not None else base.messages)
    if store_size.users < 3 or store_size.messages < 1:
        raise UserError("--users must be at least 3 (accounts share with their neighbours) and --messages at least 1")
    suite_names = [s for s in suites.split(",") if s.strip()]
    paths = _suite_paths(suite_names) if suite_names else []
    _ensure_images([from_, to])
    run_id = f"upgrade-{from_.replace(':', '')}-{to.replace(':', '')}-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    out = reports / run_id
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    with build_progress() as bar_for:
        bar = bar_for(f"{from_}->{to}")
        result = run_upgrade(from_spec, to_spec, store_size, progress=bar)
    summary = {"kind": "upgrade", "run_id": run_id, "started": started, "result": result.as_dict()}
    if paths:
        summary["conformance"] = _conformance_both(paths, [from_, to], out / "conformance")
    summary["finished"] = datetime.now().astimezone().isoformat(timespec="seconds")
    write_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    write_atomic(out / "index.html", render_upgrade(summary))
    for s in result.steps:
        console.print(f"{'[green]ok[/]' if s.ok else '[red]FAILED[/]'} {s.name} ({s.seconds:.1f} s)")
    console.print(f"store: {', '.join(f'{v} {k}' for k, v in result.counts.items())}")
    console.print(f"timings: {', '.join(f'{k} {v:.1f} s' for k, v in result.timings.items())}")
    for e in result.explained[:5]:
        console.print(f"expected: {e['difference']}")
    if len(result.explained) > 5:
        console.print(f"expected: ... {len(result.explained) - 5} more (see the report)")
    for f in result.findings[:20]:
        console.print(f"[red]finding[/]: {f}")
    for p in result.problems[:20]:
        console.print(f"[red]problem[/]: {p}")
    for e in result.stale:
        console.print(f"[red]expected difference did not occur[/]: {e['kind']} {e['value']!r}")
    if summary.get("conformance"):
        for c in summary["conformance"]["changes"]:
            console.print(f"conformance {c['kind']}: {c['test']} {c['baseline'] or '-'} -> {c['candidate'] or '-'}")
    console.print(f"verdict: {'[green]passed[/]' if result.passed else '[red]FAILED[/]'}; report: {out / 'index.html'}")
    raise typer.Exit(0 if result.passed else 1)


def _conformance_both(paths: list[str], servers: list[str], out: Path) -> dict:
    """Run the suites against both versions side by side (one pytest run, one worker each)."""
    import subprocess
    from dataclasses import asdict

    from .report.compare import conformance_changes, read_run

    args = [sys.executable, "-m", "pytest", *paths, "--rootdir", str(ROOT), f"--imapwright-report={out}",
            "-q", "-p", "no:cacheprovider", "-n", str(len(servers)), "--dist", "loadgroup"]
    for name in servers:
        args += ["--server", name]
    subprocess.run(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    run = read_run(out)
    split = [{**run, "checks": [c for c in run["checks"] if c["server"] == name],
              "per_server": {name: run["per_server"].get(name, {})}} for name in servers]
    _pairs, changes = conformance_changes(split[0], split[1])
    return {"runs": [run], "changes": [{**asdict(c), "kind": c.kind} for c in changes]}


@app.command("compare")
def compare(
    runs: Annotated[list[Path], typer.Argument(help="baseline run, then one or more candidate runs (reports/<run-id>)")],
    fail_on: Annotated[list[str], typer.Option(help="threshold, repeatable: p95+10%, rps-10%, failures+1, "
                                                    "saturation-10%, new-failures, lost, none (default: "
                                                    "new-failures for suite runs, lost for load runs)")] = [],
    out: Annotated[Path | None, typer.Option(help="folder for compare.html/.md/.json and junit.xml")] = None,
) -> None:
    """Hold candidates against a baseline; exit 1 when a --fail-on threshold is crossed."""
    from .report import compare_out
    from .report.compare import comparison, parse_threshold, read_run
    from .report.model import write_atomic

    if len(runs) < 2:
        raise UserError("give a baseline run and at least one candidate run")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    thresholds = [parse_threshold(t) for t in fail_on]
    summaries = [read_run(r) for r in runs]
    result = comparison(summaries[0], summaries[1:], thresholds)
    target = out or ROOT / "reports" / f"compare-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    import json

    write_atomic(target / "compare.json", json.dumps(result, indent=1) + "\n")
    write_atomic(target / "compare.md", compare_out.markdown(result))
    write_atomic(target / "junit.xml", compare_out.junit(result))
    write_atomic(target / "compare.html", compare_out.html(result, summaries))
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
            from .report.compare_out import percent_change

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
           reports: Annotated[Path, typer.Option(help="where runs are")] = ROOT / "reports") -> None:
    """Write (again) the HTML page of runs from their summary.json, and print where it is."""
    from .report import html as run_html
    from .report.compare import read_run
    from .report.load_html import render_load
    from .report.model import write_atomic

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
            from .report.upgrade_html import render_upgrade

            page = render_upgrade(summary)
        else:
            page = render_load(summary) if summary["kind"] == "load" else run_html.render(summary)
        write_atomic(folder / "index.html", page)
        console.print(f"{summary['label']}: {folder / 'index.html'}")


def _suite_paths(suites: list[str]) -> list[str]:
    paths = []
    for suite in suites or ["suites"]:
        path = Path(suite)
        if not path.exists():
            path = ROOT / "suites" / suite
        if not path.exists():
            known = ", ".join(sorted(p.name for p in (ROOT / "suites").iterdir() if p.is_dir() and p.name[0] != "_"))
            raise UserError(f"no suite {suite!r}; suites: {known}")
        paths.append(str(path))
    return paths


@app.command("run")
def run(
    suites: Annotated[list[str] | None, typer.Argument(help="suite names (health, ...) or paths; default all")] = None,
    server: Annotated[list[str], typer.Option(help="catalogue server, repeatable")] = [],
    target: Annotated[str | None, typer.Option(help="external server imap://ADMIN@HOST:PORT[?lmtp=..&exec=..]")] = None,
    target_version: Annotated[str | None, typer.Option(help="--target's version, [FAMILY:]VERSION, where it "
                                                             "does not say itself")] = None,
    allow_destructive: Annotated[bool, typer.Option(help="let data-changing suites run on --target")] = False,
    server_option: Annotated[list[str], typer.Option("--server-option", "-o",
                                                     help="server setting KEY=VALUE for started servers")] = [],
    workers: Annotated[int, typer.Option(help="parallel pytest workers (one server per worker); 0 = auto")] = 0,
    reports: Annotated[Path, typer.Option(help="folder for reports/<run-id>/")] = ROOT / "reports",
    pytest_args: Annotated[list[str], typer.Option("--pytest-arg", help="extra pytest argument, repeatable")] = [],
) -> None:
    """Run suites against servers; writes junit.xml, summary.json and index.html to reports/<run-id>/."""
    import pytest

    names = list(dict.fromkeys(server)) or ([] if target else [DEFAULT_SERVER])
    for name in names:
        lookup(name)
    params_mod.output_folder(reports, "--reports")
    params_mod.not_negative(workers, "--workers")
    paths = _suite_paths(suites or [])
    if target:
        from .pytest_plugin.deviations import load_all, refuse_unknown_version
        from .servers.target import connect_target

        # A wrong address or password, or a version the deviations need and nobody knows: one
        # clear line before any test.
        handle = connect_target(target, target_version)
        refuse_unknown_version(handle, *load_all())
        console.print(f"target: {handle.family.name} {handle.version} (version from {handle.version_source})")
    _ensure_images(names)
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    out = reports / run_id
    args = [*paths, "--rootdir", str(ROOT),
            f"--junitxml={out / 'junit.xml'}", f"--imapwright-report={out}", f"--run-id={run_id}", "-rfEx"]
    args += [a for n in names for a in ("--server", n)]
    if target:
        args += ["--target", target]
    if target_version:
        args += ["--target-version", target_version]
    if allow_destructive:
        args.append("--allow-destructive")
    for item in server_option:
        if "=" not in item:
            raise UserError(f"--server-option {item!r}: expected KEY=VALUE")
        args += ["--server-option", item]
    count = workers or min(len(names) + bool(target), os.cpu_count() or 1)
    if count > 1:
        args += ["-n", str(count), "--dist", "loadgroup"]
    code = pytest.main(args + list(pytest_args), plugins=[])
    console.print(f"report: {out / 'index.html'}")
    if code == pytest.ExitCode.INTERRUPTED:
        console.print("[red]INTERRUPTED[/]: the report says which tests did not run")
        raise typer.Exit(130)  # like `load` and any program stopped by Ctrl-C
    raise typer.Exit(int(code))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"imapwright {version('imapwright')}")
        raise typer.Exit(0)


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                                   help="print the version and exit")] = False) -> None:
    """Conformance and load tests for IMAP mail stores (Cyrus, Dovecot) on real servers."""


def main() -> None:
    from .usage import ABORT, EXIT, one_line

    # SIGTERM ends a run like Ctrl-C does, so containers are removed either way.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt("SIGTERM")))
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except UserError as exc:
        print(f"imapwright: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        from .servers.managed import stop_all

        stop_all()
        print("imapwright: interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors of click/typer come through here with standalone_mode=False
        message = one_line(exc)
        if message is not None:
            print(f"imapwright: error: {message}", file=sys.stderr)
            sys.exit(2)
        if ABORT and isinstance(exc, ABORT):
            sys.exit(130)
        if EXIT and isinstance(exc, EXIT):
            sys.exit(getattr(exc, "exit_code", 0))
        raise


if __name__ == "__main__":
    main()
