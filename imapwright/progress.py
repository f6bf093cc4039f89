"""Rich progress displays for long work (image builds)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


@contextlib.contextmanager
def build_progress() -> Iterator:
    """Yield `bar_for(title)`, which adds a bar and returns its callback(message, step, total).

    Each bar moves through one image's Dockerfile steps; several builds can run side by side.
    """
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[title]:<12}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False) as bar:

        def bar_for(title: str):
            task = bar.add_task("", total=None, title=title)

            def update(message: str, step: int | None, total: int | None) -> None:
                text = message.removeprefix(f"{title}: ")[-60:]
                if step is not None and total is not None:
                    bar.update(task, completed=step, total=total, description=text)
                else:
                    bar.update(task, description=text)
            return update

        yield bar_for
