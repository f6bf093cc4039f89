"""Rich progress displays for long work (image builds, seeding, load runs). Without a terminal
(CI logs) a live bar shows nothing until the end, so each bar also prints a plain line at least
every LINE_EVERY seconds and when it finishes."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import rich.progress
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
LINE_EVERY = 10.0  # seconds between plain progress lines when stderr is not a terminal


class Progress(rich.progress.Progress):
    """rich's Progress, plus plain lines for logs when the console is not a terminal."""

    def start(self) -> None:
        super().start()
        self._lines_stop = threading.Event()
        self._started_at = time.monotonic()
        if not self.console.is_terminal:
            self._liner = threading.Thread(target=self._print_lines, name="progress-lines", daemon=True)
            self._liner.start()

    def stop(self) -> None:
        stop = getattr(self, "_lines_stop", None)
        if stop is not None and not stop.is_set():
            stop.set()
            if not self.console.is_terminal:
                self._line()
        super().stop()

    def _print_lines(self) -> None:
        while not self._lines_stop.wait(LINE_EVERY):
            self._line()

    def _line(self) -> None:
        elapsed = time.monotonic() - self._started_at
        for task in self.tasks:
            title = task.fields.get("title", "")
            count = (f" {task.completed:.0f}/{task.total:.0f}" if task.total else "")
            note = task.fields.get("note", "")
            text = " ".join(p for p in (str(title), str(task.description), note) if p)
            self.console.print(f"[{elapsed:5.0f} s] {text}{count}", markup=False, highlight=False)


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
