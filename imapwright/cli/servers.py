"""imapwright servers: list, build, start, stop, prune."""

from __future__ import annotations

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
    password_file: Annotated[Path | None, typer.Option(help="where to write the admin password (default: "
                                                           "the state directory, $XDG_STATE_HOME/imapwright)")] = None,
) -> None:
    """Start a server that keeps running until `servers stop`; prints how to reach it (IMAP, IMAPS with
    its CA, LMTP, ManageSieve) and where its admin password is."""
    import datetime

    from ..servers import tls
    from ..servers.contract import register_own
    from ..servers.managed import start_server
    from ..servers.ports import check_free
    from ..servers.target import format_target
    from ..state import state_dir, write_secret

    register_own([name], image, catalogue)
    spec = lookup(name)
    options = params_mod.key_values(option, "--option")
    # Everything that can be refused is refused before the server starts (and a long image build).
    for port in (imap_port, lmtp_port):
        if port:
            check_free(port)
    if password_file is not None:
        params_mod.output_file(password_file, "--password-file")
    state_dir("servers")
    tls.run_ca(valid=datetime.timedelta(days=365))  # the server outlives this process; so must its certificate
    ensure_images([name])
    server = start_server(spec, options, imap_port=imap_port or None, lmtp_port=lmtp_port or None, detached=True)
    container = server.container.name
    try:
        folder = state_dir("servers", container)
        secret = write_secret(password_file or folder / "admin-password", server.admin_password + "\n")
        ca_file = None
        if server.imaps is not None:
            ca_file = folder / "ca.pem"
            ca_file.write_bytes(tls.run_ca().ca_file.read_bytes())
    except (OSError, UserError) as exc:
        server.stop()  # a server whose password is lost is of no use: not left running
        reason = exc if isinstance(exc, UserError) else (exc.strerror or exc)
        raise UserError(f"could not save the admin password ({reason}); the server was stopped") from None
    sieve = server.sieve if "sieve" in server.features else None
    exec_ = f"docker:{container}"
    typer.echo(f"{server.describe()} container={container}")
    typer.echo(f"admin {server.admin_user}, password in {secret} (mode 600)")
    if server.imaps is not None:
        typer.echo(f"imaps: {server.imaps}, certificate issued by the CA in {ca_file} "
                   f"(verify with SSL_CERT_FILE={ca_file})")
    if sieve:
        typer.echo(f"managesieve: {sieve}")
    password = f"IMAPWRIGHT_TARGET_PASSWORD=$(cat {secret})"
    typer.echo(f"target: --target '{format_target(server.admin_user, server.imap, '', server.lmtp, sieve, exec_)}'"
               f"  ({password})")
    if server.imaps is not None:
        typer.echo(f"target over TLS: --target "
                   f"'{format_target(server.admin_user, server.imaps, 'imaps', server.lmtp, sieve, exec_)}'"
                   f"  ({password} SSL_CERT_FILE={ca_file})")


@servers_app.command("stop")
def servers_stop(names: Annotated[list[str] | None, typer.Argument(help="catalogue names or container names")] = None,
                 all_: Annotated[bool, typer.Option("--all", help="every server started by `servers start`")] = False,
                 force: Annotated[bool, typer.Option(help="also a running imapwright run's server of that name")] = False
                 ) -> None:
    """Stop servers started with `servers start` and remove their data volumes."""
    from ..servers.managed import stop_containers

    if not names and not all_:
        raise UserError("name a server (e.g. cyrus:3.6) or pass --all")
    import shutil

    from ..state import state_home

    removed = stop_containers(None if all_ else names, force)
    for name in removed:
        shutil.rmtree(state_home() / "servers" / name, ignore_errors=True)  # its password and CA
        typer.echo(f"stopped {name}")
    typer.echo(f"stopped {len(removed)} server(s)")


@servers_app.command("prune")
def servers_prune(detached: Annotated[bool, typer.Option(help="also the servers of `servers start`")] = False) -> None:
    """Remove what runs that died left behind (a running run's servers are never touched)."""
    from ..servers.managed import prune

    containers, volumes = prune(detached)
    typer.echo(f"removed {containers} container(s) and {volumes} volume(s)")


