"""pytest side of the run report: collects every check (on the xdist controller too), writes at the end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collections.abc import Callable

from . import html
from .model import CheckRecord, record_from_report, summarize, write_atomic, write_json


class ReportWriter:
    def __init__(self, directory: Path, run_id: str, status: Callable[[pytest.Config], dict],
                 extra: Callable[[], dict] | None = None):
        self.directory = directory
        self.status = status  # whether the session ran whole (pytest_plugin/completeness.py)
        self.extra = extra or dict  # more the summary should say (other plugins' findings)
        self.run_id = run_id
        self.records: list[CheckRecord] = []
        self.versions: dict[str, str] = {}
        self.started = datetime.now(UTC).isoformat(timespec="seconds")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if props.get("server") and props.get("server_version"):
            build = f", image {props['server_build']}" if props.get("server_build") else ""
            self.versions[props["server"]] = (f"{props.get('server_family', '')} {props['server_version']} "
                                              f"(version from {props.get('version_source', '?')}{build})").strip()
        record = record_from_report(report)
        if record is not None:
            self.records.append(record)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        summary = summarize(self.records, self.run_id, self.versions, self.started,
                            datetime.now(UTC).isoformat(timespec="seconds"), int(exitstatus),
                            self.status(session.config))
        summary.update(self.extra())
        write_json(self.directory / "summary.json", summary)
        write_atomic(self.directory / "index.html", html.render(summary))
