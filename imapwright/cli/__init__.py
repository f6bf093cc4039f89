"""The `imapwright` command: servers (list, build, start, stop, prune) and run (suites -> reports/)."""

from __future__ import annotations

import faulthandler
import signal
import sys
from typing import Annotated

import typer

from ..errors import UserError
from . import admin, install, load, migrate, runs, servers, snapshot  # noqa: F401  (each registers its commands)
from .app import Interrupt, app


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"imapwright {version('imapwright')}")
        raise typer.Exit(0)


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                                   help="print the version and exit")] = False) -> None:
    """Conformance and load tests for IMAP mail stores (Cyrus, Dovecot) on real servers."""


def _interrupted() -> None:
    stopped = 0
    try:
        from ..servers.managed import _live, stop_all
    except ImportError:
        pass  # no docker package: this command started no server
    else:
        stopped = len(_live)
        stop_all()
    if Interrupt.final is not None:  # the results were written: their verdict and the exit status stand
        print(f"imapwright: interrupted after the results were written; exit status {Interrupt.final} as they say",
              file=sys.stderr)
        sys.exit(Interrupt.final)
    said = ["interrupted"] + ([f"the {stopped} server(s) this command started are stopped"] if stopped else [])
    said += [Interrupt.rerun] if Interrupt.rerun else []
    print(f"imapwright: {'; '.join(said)}", file=sys.stderr)
    sys.exit(130)


def main() -> None:
    from ..state import keep_bytecode_out_of_the_install
    from ..usage import ABORT, EXIT, one_line

    keep_bytecode_out_of_the_install()

    # A run that seems stuck: `kill -USR1 PID` prints where each thread is, and goes on.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # SIGTERM ends a run like Ctrl-C does, so containers are removed either way.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt("SIGTERM")))
    try:
        code = app(standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into Exit(130), returned without standalone mode
            _interrupted()
        sys.exit(code if isinstance(code, int) else 0)
    except UserError as exc:
        print(f"imapwright: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "docker":
            raise
        print(f"imapwright: error: this command starts or builds servers and needs the docker Python package "
              f"({exc}): pip install docker; commands against a --target work without it", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # usage errors of click/typer come through here with standalone_mode=False
        message = one_line(exc)
        if message is not None:
            print(f"imapwright: error: {message}", file=sys.stderr)
            sys.exit(2)
        if ABORT and isinstance(exc, ABORT):  # click turns Ctrl-C (and our SIGTERM) into Abort
            _interrupted()
        if EXIT and isinstance(exc, EXIT):
            if getattr(exc, "exit_code", 0) == 130:
                _interrupted()
            sys.exit(getattr(exc, "exit_code", 0))
        raise


if __name__ == "__main__":
    main()
