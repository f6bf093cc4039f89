"""Rich progress displays for long work (image builds)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


@contextlib.contextmanager
def build_progress(title: str) -> Iterator:
    """Yield a callback(message, step, total) that moves one bar through the Dockerfile's steps."""
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[title]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("", total=None, title=title)

        def update(message: str, step: int | None, total: int | None) -> None:
            if step is not None and total is not None:
                bar.update(task, completed=step, total=total, description=message[-60:])
            else:
                bar.update(task, description=message[-60:])

        yield update
