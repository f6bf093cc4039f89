"""imapwright servers: list, build, start, stop, prune."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .. import params as params_mod

from ..catalogue import CATALOGUE, DEFAULT_SERVER, lookup
from ..errors import UserError
from .app import console, ensure_images, servers_app


@servers_app.command("list")
def servers_list() -> None:
    """The catalogue, with each image's state and the version its server reports."""
    from ..servers import engine, ownership
    from ..servers.images import find_image

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
                  force: Annotated[bool, typer.Option(help="rebuild even if the image is up to date")] = False,
                  debs: Annotated[Path | None, typer.Option(help="folder of your own .deb files, installed over "
                                                                 "the catalogue image's (a packager's candidate)")] = None,
                  ) -> None:
    """Build server images (and their Debian base where needed), with progress."""
    for name in names:
        lookup(name)
    if debs is None:
        ensure_images(names, force, say_current=True)
        return
    from ..servers.images import build_with_debs

    if len(names) != 1:
        raise UserError("--debs builds one server's variant: name one catalogue server")
    spec = lookup(names[0])
    if spec.is_own:
        raise UserError(f"--debs: {spec.name} is not a catalogue server")
    ensure_images(names)
    image = build_with_debs(spec, debs, lambda message, *_: console.print(f"[dim]{message}[/dim]"))
    family = spec.family
    typer.echo(f"built {image.tags[0]} {image.id} (server {image.labels.get('imapwright.server-version', '?')}) "
               f"with {image.labels['imapwright.debs']}")
    if image.labels.get("imapwright.debs-left-out"):
        typer.echo(f"left out (not installed in {spec.name}): {image.labels['imapwright.debs-left-out']}")
    typer.echo(f"use: --server {family}:custom --image {image.tags[0]}")


@servers_app.command("start")
def servers_start(
    name: Annotated[str, typer.Argument(help="catalogue name")] = DEFAULT_SERVER,
    image: Annotated[str | None, typer.Option(help="your own image, for NAME cyrus:custom or dovecot:custom")] = None,
    catalogue: Annotated[Path | None, typer.Option(help="TOML file of your own servers")] = None,
    imap_port: Annotated[int, typer.Option(help="IMAP port on 127.0.0.1 (default: a free one)")] = 0,
    lmtp_port: Annotated[int, typer.Option(help="LMTP port on 127.0.0.1 (default: a free one)")] = 0,
    option: Annotated[list[str], typer.Option("--option", "-o", help="server setting KEY=VALUE, repeatable")] = [],
    password_file: Annotated[Path | None, typer.Option(help="where to write the admin password")] = None,
) -> None:
    """Start a server that keeps running until `servers stop`; prints how to reach it."""
    from ..servers.contract import register_own
    from ..servers.managed import start_server

    register_own([name], image, catalogue)
    spec = lookup(name)
    options = params_mod.key_values(option, "--option")
    from ..servers.ports import check_free

    for port in (imap_port, lmtp_port):
        if port:
            check_free(port)  # before a possibly long image build
    ensure_images([name])
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
    from ..servers.managed import stop_containers

    if not names and not all_:
        raise UserError("name a server (e.g. cyrus:3.6) or pass --all")
    removed = stop_containers(None if all_ else names, force)
    for name in removed:
        typer.echo(f"stopped {name}")
    typer.echo(f"stopped {len(removed)} server(s)")


@servers_app.command("prune")
def servers_prune(detached: Annotated[bool, typer.Option(help="also the servers of `servers start`")] = False) -> None:
    """Remove what runs that died left behind (a running run's servers are never touched)."""
    from ..servers.managed import prune

    containers, volumes = prune(detached)
    typer.echo(f"removed {containers} container(s) and {volumes} volume(s)")


