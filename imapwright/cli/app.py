"""The command line's shared pieces: the typer apps, image builds, the --target connection,
KEY=VALUE options, suite paths."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import typer
from typer.core import TyperGroup
from rich.markup import escape as escape_markup

from ..catalogue import lookup
from ..errors import UserError
from ..progress import build_progress, console
from ..servers import target as _target

# Outputs go where the user is, never into the install tree.
REPORTS_ENV = "IMAPWRIGHT_REPORTS"
REPORTS_HELP = f"folder for <run-id>/ results (default ./reports; or {REPORTS_ENV})"
DEVIATIONS_HELP = ("folder of <family>.toml deviation lists instead of the shipped ones (`imapwright paths` says "
                   "where those are): their log_noise entries are what the server log gate lets pass")


def choose_deviations(folder: Path | None) -> None:
    """A command's --deviations: every list checked now (a malformed one: one line, nothing run), and
    its [[log_noise]] used by the run's log gate (servers/log_gate.py)."""
    if folder is None:
        return
    from ..pytest_plugin.deviations import read
    from ..servers import log_gate

    log_gate.use_deviations(folder, read(folder).log_noise)


class Interrupt:
    """What a Ctrl-C says and does, set by the command as it goes: what a re-run of it does, and
    the exit status once its results are written (a late Ctrl-C then changes neither the report
    nor the status that agrees with it)."""

    rerun = ""
    final: int | None = None

    @classmethod
    def note(cls, text: str) -> None:
        cls.rerun = text

    @classmethod
    def written(cls, code: int) -> int:
        cls.final = code
        return code


def default_reports() -> Path:
    return Path(os.environ.get(REPORTS_ENV) or "reports")


class _Group(TyperGroup):
    """Command lists show each command's first paragraph as one line of prose: Typer's rich help
    keeps a docstring's own line breaks there (mid-sentence breaks in a narrow column)."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None and not command.short_help and command.help:
            command.short_help = " ".join(inspect.cleandoc(command.help).split("\n\n")[0].split())
        return command


app = typer.Typer(add_completion=False, no_args_is_help=False, cls=_Group,
                  help="Conformance and load tests for IMAP mail stores (Cyrus, Dovecot) on real servers.")
servers_app = typer.Typer(no_args_is_help=False, cls=_Group, help="Server images and containers.")
app.add_typer(servers_app, name="servers")
admin_app = typer.Typer(no_args_is_help=False, cls=_Group, help="The book's administration workflows.")
app.add_typer(admin_app, name="admin")
migrate_app = typer.Typer(no_args_is_help=False, cls=_Group, help="Migration from Berkeley mbox and Maildir (the book's toolkit).")
app.add_typer(migrate_app, name="migrate")


def ensure_images(names: list[str], force: bool = False, say_current: bool = False) -> None:
    """Build missing or outdated images side by side (two cores: docker builds are mostly downloads)."""
    if not names:
        return  # nothing to start here (a --target run): no engine needed
    from concurrent.futures import ThreadPoolExecutor

    from ..servers import engine
    from ..servers.images import ensure_image, find_image, is_current

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


def dry_run_or_need_target(steps: list[str], dry_run: bool, target: str | None, form: str) -> bool:
    """True when this was a dry run (the steps printed); otherwise a target must have been given."""
    if dry_run:
        for step in steps:
            typer.echo(step)
        return True
    if not target:
        raise UserError(f"give --target {form} (or --dry-run)")
    return False



TARGET_FORM = _target.TARGET_FORM  # errors print it as it is
TARGET_HELP = escape_markup(_target.TARGET_HELP)  # Typer's help is rich markup: "[s]" would vanish


def connect(target: str | None, insecure: bool = False):
    """The --target server, checked (address, password, certificate) before any work starts."""
    if not target:
        raise UserError(f"give --target {TARGET_FORM}")
    from ..servers.target import connect_target

    return connect_target(target, insecure=insecure)


def suite_paths(suites: list[str]) -> list[str]:
    """Shipped suites by name ("health", "acl/test_rights.py"), or the user's own test files and
    folders by path (relative to the current directory)."""
    from ..resources import suites_dir

    shipped = suites_dir()
    paths = []
    for suite in suites or [str(shipped)]:
        path = Path(suite)
        if not path.exists():
            path = shipped / suite
        if not path.exists():
            known = ", ".join(sorted(p.name for p in shipped.iterdir() if p.is_dir() and p.name[0] not in "_."))
            raise UserError(f"no suite {suite!r} (neither a path here nor a shipped suite); suites: {known}")
        paths.append(str(path.resolve()))
    return paths


