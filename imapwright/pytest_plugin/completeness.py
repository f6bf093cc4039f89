"""Whether a run ran everything it collected: an interrupted, crashed or stopped run says so in every
output. At the session's end a run that is not complete gets one error test case,
`imapwright::run_incomplete`, fed to every reporter (terminal, junit.xml, the run report), naming
why it stopped and how many tests did not run; the status goes to the run report's summary."""

from __future__ import annotations

import pytest
from _pytest.reports import TestReport

INCOMPLETE_NODEID = "imapwright::run_incomplete"
STATUS = pytest.StashKey[dict]()

# pytest's exit statuses that mean the run did not end by itself.
_STATUS_BY_EXIT = {pytest.ExitCode.INTERRUPTED: "interrupted", pytest.ExitCode.INTERNAL_ERROR: "crashed"}


class Completeness:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.collected: int | None = None
        self.finished: set[str] = set()
        self.interrupt = ""

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput") and session.config.pluginmanager.has_plugin("dsession"):
            return  # the controller of pytest-xdist collects nothing; the workers say what they hold
        self.collected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        # Every worker collects the whole run (the same ids): the run is that many tests.
        self.collected = len(ids)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" and report.nodeid != INCOMPLETE_NODEID:
            self.finished.add(report.nodeid)

    def pytest_keyboard_interrupt(self, excinfo) -> None:
        text = str(excinfo.value).strip()
        self.interrupt = text if text.startswith("signal") else "Ctrl-C (SIGINT)"

    @pytest.hookimpl(tryfirst=True)  # before junitxml and the run report write their files
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        collected = self.collected if self.collected is not None else len(self.finished)
        not_run = max(0, collected - len(self.finished))
        status = _STATUS_BY_EXIT.get(exitstatus)
        if status is None and not_run and (session.shouldstop or session.shouldfail):
            status = "stopped early"
        if status is None and exitstatus == pytest.ExitCode.USAGE_ERROR:
            status = "refused"
        why = {"interrupted": f"interrupted by {self.interrupt or 'a signal'}",
               "crashed": "crashed (internal error; see the terminal output)",
               "stopped early": f"stopped early: {session.shouldstop or session.shouldfail}",
               "refused": "refused (usage error)"}.get(status or "")
        info = {"status": status or "complete", "collected": collected, "finished": len(self.finished),
                "not_run": not_run, "reason": why or ""}
        self.config.stash[STATUS] = info
        if status is None:
            return
        message = f"run {why}: {len(self.finished)} of {collected} tests ran, {not_run} did not"
        hook = self.config.hook
        for when, outcome in (("setup", "failed"), ("teardown", "passed")):
            hook.pytest_runtest_logreport(report=TestReport(
                INCOMPLETE_NODEID, ("imapwright", None, "run_incomplete"), {}, outcome,
                message if outcome == "failed" else None, when,
                user_properties=[("run_status", status), ("not_run", str(not_run))]))


def status(config: pytest.Config) -> dict:
    return config.stash.get(STATUS, {"status": "complete", "not_run": 0, "reason": ""})
