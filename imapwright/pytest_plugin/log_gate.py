"""The log gate around each test: after the call (and the consistency check) and again after
teardown, the server's new log lines are judged (servers/log_gate.py); a crash, a database error,
a failed assertion or a sanitizer report fails the test whose window holds it.

A line syslog writes after the call's read is read after teardown: then it fails the test as a
teardown error, unless the call already failed (the test is red, or a listed deviation, already).
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ..catalogue import version_tuple
from ..servers import log_gate
from ..servers.handle import ServerHandle

HEALTH = pytest.StashKey[log_gate.Judgement]()
CALL_FAILED = pytest.StashKey[bool]()
MODES = ("fail", "report", "off")


class Watches:
    """One LogWatch per server handle for the session (a handle outlives many tests)."""

    def __init__(self):
        self._by_id: dict[int, tuple[ServerHandle, log_gate.LogWatch]] = {}

    def get(self, handle: ServerHandle, started: datetime) -> log_gate.LogWatch:
        known = self._by_id.get(id(handle))
        if known is None or known[0] is not handle:
            # A server the harness started is read from its first line (its start-up is checked
            # too); a user's server only from this test on.
            watch = log_gate.LogWatch(handle, None if handle.owned else started)
            self._by_id[id(handle)] = known = (handle, watch)
        return known[1]

    def peek(self, handle: ServerHandle) -> log_gate.LogWatch | None:
        known = self._by_id.get(id(handle))
        return known[1] if known is not None and known[0] is handle else None


def provoked(item: pytest.Item) -> dict[str, str]:
    """Classes of line the test provokes on purpose (`@pytest.mark.provokes("error", reason=...)`)."""
    out = {}
    for mark in item.iter_markers("provokes"):
        reason = mark.kwargs.get("reason", "")
        for kind in mark.args:
            if kind not in log_gate.CLASSES:
                raise pytest.UsageError(f"{item.nodeid}: provokes({kind!r}): known classes are "
                                        f"{', '.join(log_gate.CLASSES)}")
            out[kind] = reason or "provoked by the test"
    return out


def servers_of(item: pytest.Item) -> list[ServerHandle]:
    found = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, ServerHandle) and "logs" in value.features and all(value is not f for f in found):
            found.append(value)
    return found


def before_stop(state, handle: ServerHandle, started: datetime) -> None:
    """A server the test's fixture is about to remove: its last lines are read now, for the read
    after teardown (which would find the container gone)."""
    if state.log_gate == "off" or not isinstance(handle, ServerHandle) or "logs" not in handle.features:
        return
    try:
        state.log_watches.get(handle, started).close()
    except Exception:  # noqa: BLE001 - said by the read after teardown (log unreadable)
        pass


def check(item: pytest.Item, state, test_id: str, phase: str, started: datetime) -> log_gate.Judgement | None:
    """Read and judge the new lines of every server the test used; None when nothing was read."""
    handles = servers_of(item)
    if state.log_gate == "off" or not handles:
        return None
    judged = log_gate.Judgement()
    for handle in handles:
        try:
            watch = state.log_watches.get(handle, started)
            if phase == "call":  # syslog is asynchronous: what the test made the server log, written
                watch.sync()
            lines = watch.new_lines()
        except Exception:  # noqa: BLE001 - a stopped private server, an unreadable log: said in the report
            item.user_properties.append(("server_health_unread", f"{handle.name}: log unreadable after {phase}"))
            continue
        judged.extend(log_gate.judge(handle.family_name, handle.version_tuple, lines, state.log_noise, "test",
                                     test_id, provoked(item)))
    total = item.stash.get(HEALTH, None)
    if total is None:
        item.stash[HEALTH] = total = log_gate.Judgement()
    total.extend(judged)
    return judged


def record(item: pytest.Item) -> None:
    """The junit.xml properties: `server_health` (clean, or the classes and the first line) and
    the failing lines as JSON for the run report."""
    judged = item.stash.get(HEALTH, None)
    if judged is None:
        return
    item.user_properties[:] = [(k, v) for k, v in item.user_properties
                               if k not in ("server_health", "server_health_lines")]
    item.user_properties.append(("server_health", judged.summary()))
    if judged.failing:
        item.user_properties.append(("server_health_lines", json.dumps([[f.kind, f.line.raw] for f in judged.failing])))
    for finding, entry in judged.listed:
        used = ("log_noise_used", entry.key)
        if used not in item.user_properties:
            item.user_properties.append(used)


def after_call(item: pytest.Item, state, test_id: str, started: datetime, passed: bool) -> None:
    item.stash[CALL_FAILED] = not passed
    judged = check(item, state, test_id, "call", started)
    record(item)
    if judged is not None and not judged.clean and passed and state.log_gate == "fail":
        before = [f for f in judged.failing if f.line.time < started]
        what = "during the test" + (f" ({len(before)} logged before it began: the server's start or an "
                                    "earlier test's end)" if before else "")
        raise AssertionError(judged.message(what))


def after_teardown(item: pytest.Item, state, test_id: str, started: datetime) -> None:
    if CALL_FAILED not in item.stash:  # skipped or failed in setup: the lines wait for a test that ran
        return
    judged = check(item, state, test_id, "teardown", started)
    record(item)
    if judged is not None and not judged.clean and not item.stash.get(CALL_FAILED, True) \
            and state.log_gate == "fail":
        raise AssertionError(judged.message("at the test's end (written after the call was checked)"))


class NoiseUse:
    """On the controller: which [[log_noise]] entries hid a line in this run, and which were in
    scope of tests that ran yet hid nothing (the server may no longer log it: the list stays true
    only if someone looks)."""

    def __init__(self, noise: list[log_gate.LogNoise]):
        self.noise = noise
        self.used: set[str] = set()
        self.in_scope: set[str] = set()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":  # its properties are the test's last word
            return
        props = dict(report.user_properties)
        if "server_health" not in props or not props.get("server_family"):
            return  # the gate did not read this test's window
        self.used.update(v for k, v in report.user_properties if k == "log_noise_used")
        version = version_tuple(str(props.get("server_version", "")))
        for entry in self.noise:
            if not entry.sometimes and entry.in_scope(props["server_family"], version, "test",
                                                      props.get("test_id", "")):
                self.in_scope.add(entry.key)

    def unused(self) -> list[str]:
        return sorted(self.in_scope - self.used)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        unused = self.unused()
        if unused:
            terminalreporter.section("log noise entries that hid nothing")
            terminalreporter.write_line(f"{len(unused)} [[log_noise]] entries were in scope of tests that ran and "
                                        "matched no line; if the server no longer logs them, remove them:")
            for key in unused:
                terminalreporter.write_line(f"  {key}")
