"""imapwright admin: the book's workflows (addusers, rename-account, checkpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import params as params_mod
from ..errors import UserError
from ..progress import Progress, console
from .app import TARGET_HELP, admin_app, dry_run_or_need_target


@admin_app.command("addusers")
def admin_addusers(
    file: Annotated[Path, typer.Argument(help="user names, one a line (# comments, blank lines allowed)")],
    target: Annotated[str | None, typer.Option(help=TARGET_HELP)] = None,
    quota: Annotated[int, typer.Option(help="STORAGE quota in KB for each account")] = 15360,
    folders: Annotated[str, typer.Option(help="default folders, comma-separated")] = "drafts,sent-mail",
    dry_run: Annotated[bool, typer.Option(help="print what would be done, change nothing")] = False,
) -> None:
    """Example 9-1: create accounts, their default folders and a STORAGE quota from a file."""
    
    from ..admin.addusers import addusers, commands_for, read_user_list

    params_mod.not_negative(quota, "--quota")
    listed = read_user_list(file)
    folder_list = tuple(f for f in (x.strip() for x in folders.split(",")) if f)
    for problem in listed.skipped:
        console.print(f"skipped {problem}")
    if dry_run:
        # No server to ask: the standard namespace's account names, as Cyrus and Dovecot give them.
        for user in listed.users:
            for command in commands_for(f"user.{user}", quota, folder_list):
                typer.echo(command)
        typer.echo(f"dry run: {len(listed.users)} users, {len(listed.skipped)} lines skipped")
        return
    if not target:
        raise UserError("give --target imap://ADMIN@HOST:PORT (or --dry-run)")
    from ..servers.target import connect_target

    handle = connect_target(target)  # checks address and password first
    if handle.accounts_in_userdb:
        # Dovecot: an account is a userdb entry; CREATE user.NAME cannot make one.
        if "exec" not in handle.features:
            raise UserError(f"{handle.family_name} keeps accounts in its user database, which imapwright reaches "
                            "only through an exec channel: add ?exec=docker:NAME to --target")
        made = {u for u in listed.users if handle.ensure_account(u)}
        if made:
            console.print(f"{len(made)} accounts added to the user database with random passwords "
                          "(the admin's master login works; set users' own passwords there)", markup=False)
    in_userdb = handle.accounts_in_userdb  # quotas too are userdb fields there
    with Progress(console=console) as bar:
        task = bar.add_task("addusers", total=len(listed.users))
        result = addusers(handle.dialer(), handle.admin_user, handle.admin_password,
                          listed.users, mailbox_of=handle.user_mailbox, quota_kb=None if in_userdb else quota,
                          folders=folder_list, progress=lambda n: bar.advance(task, n))
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
    target: Annotated[str | None, typer.Option(help=TARGET_HELP + " (exec= is needed)")] = None,
    workaround: Annotated[bool, typer.Option(help="the book's Example 9-2 instead of the server's RENAME")] = False,
    dry_run: Annotated[bool, typer.Option(help="print the steps, change nothing")] = False,
) -> None:
    """Rename an account: the server's RENAME (Cyrus: allowusermoves) or the book's workaround."""
    from ..admin import rename_account
    from ..servers.target import connect_target

    steps = ([f"RENAME user.{old} user.{new}"] if not workaround else
             [f"CREATE user.{new} and each folder of user.{old}, with their ACLs", "MOVE every message",
              f"DELETE user.{old}", f"reconstruct -r user.{new}", f"SETQUOTA user.{new} as user.{old} had"])
    if dry_run_or_need_target(steps, dry_run, target, "imap://ADMIN@HOST:PORT"):
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
    target: Annotated[str | None, typer.Option(help=TARGET_HELP + " (exec= is needed)")] = None,
    keep: Annotated[int, typer.Option(help="copies kept in the rotation")] = 60,
    restore: Annotated[int | None, typer.Option(help="restore copy N instead of taking one (destructive)")] = None,
    rebuild: Annotated[bool, typer.Option(help="no copy left: rebuild the list from the mailbox headers")] = False,
    allow_destructive: Annotated[bool, typer.Option(help="needed with --restore and --rebuild")] = False,
    dry_run: Annotated[bool, typer.Option(help="print the steps, change nothing")] = False,
) -> None:
    """Example 9-5: checkpoint the Cyrus mailbox list (rotation of compressed dumps), or restore one."""
    from ..admin import checkpoint as cp
    from ..servers.families import FAMILIES

    if restore is not None and rebuild:
        raise UserError("give --restore N or --rebuild, not both")
    params_mod.positive(keep, "--keep")
    if restore is not None:
        params_mod.not_negative(restore, "--restore")
    copy = directory / f"{cp.PREFIX}.{restore}.gz" if restore is not None else None
    if copy is not None and not copy.is_file():
        raise UserError(f"no checkpoint {copy}")
    # The only family with a mailbox list of its own says what each action does (no server yet).
    family_list = FAMILIES["cyrus"].mailbox_list()
    steps = (family_list.steps("restore", str(copy)) if copy else family_list.steps("rebuild") if rebuild else
             [f"{family_list.steps('checkpoint', f'{directory}/{cp.PREFIX}.0.gz')[0]} (older copies shifted, {keep} kept)"])
    if dry_run_or_need_target(steps, dry_run, target, "imap://ADMIN@HOST:PORT?exec=docker:NAME (or ssh:USER@HOST)"):
        return
    if (copy or rebuild) and not allow_destructive:
        raise UserError("replacing the live mailbox list is destructive: add --allow-destructive")
    from ..servers.target import connect_target

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


