"""Progress without a terminal (CI logs): a plain line at least every LINE_EVERY seconds."""

import io
import time

from rich.console import Console

from imapwright import progress


def test_progress_prints_lines_when_not_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY", 0.1)
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    with progress.Progress(console=console) as bar:
        task = bar.add_task("seeding", total=10)
        for _ in range(5):
            bar.advance(task)
            time.sleep(0.1)
    lines = [line for line in out.getvalue().splitlines() if "seeding" in line and "/10" in line]
    assert len(lines) >= 4, out.getvalue()
    assert lines[-1].endswith("seeding 5/10")


def test_progress_on_a_terminal_prints_no_extra_lines(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY", 0.05)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with progress.Progress(console=console) as bar:
        bar.add_task("seeding", total=10)
        time.sleep(0.2)
    assert "[    0 s]" not in out.getvalue()
