"""imapwright setup and paths: getting a machine ready, and where the installed tool keeps things."""

from __future__ import annotations

from typing import Annotated

import typer

from ..catalogue import DEFAULT_SERVER, lookup
from .app import app, console, default_reports, ensure_images


@app.command("setup")
def setup(
    names: Annotated[list[str] | None, typer.Argument(help="catalogue servers to build (default cyrus:3.6)")] = None,
    install_engine: Annotated[bool, typer.Option(help="as root: install (Debian's docker.io, debootstrap) and start "
                                                      "a docker engine where none answers")] = False,
) -> None:
    """Get this machine ready to start servers: a docker engine, then the named server images, with
    progress. Commands against a --target need none of it."""
    from ..servers import engine_setup

    servers = names or [DEFAULT_SERVER]
    for name in servers:
        lookup(name)
    say = lambda message: console.print(f"setup: {message}", markup=False)  # noqa: E731
    if install_engine:  # docker.io for the engine, debootstrap for local base images
        engine_setup.install(engine_setup.missing_packages(), say)
    if engine_setup.engine_answers():
        say("docker engine answers")
    elif install_engine:
        engine_setup.start_engine(say)
    else:
        from ..servers import engine

        engine.client()  # raises the one-line reason, with what to install
    ensure_images(servers, say_current=True)



@app.command("paths")
def paths() -> None:
    """Where the shipped suites, load scenarios, fixtures (copy deviations/ to edit them and pass
    --deviations) and docker contexts are, and where outputs and secrets go."""
    from ..resources import docker_dir, fixtures_dir, loadtests_dir, suites_dir
    from ..state import cache_dir, state_home

    for name, path in (("suites", suites_dir()), ("load scenarios", loadtests_dir()),
                       ("fixtures", fixtures_dir()), ("deviations", fixtures_dir() / "deviations"),
                       ("docker contexts", docker_dir()), ("reports", default_reports().resolve()),
                       ("state (passwords, CAs)", state_home()), ("cache", cache_dir())):
        typer.echo(f"{name + ':':<24}{path}")
