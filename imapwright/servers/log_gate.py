"""The log gate: a server's log lines that mean it is unwell (a process killed by a signal, a
database or I/O error, a failed assertion, a sanitizer report) fail whatever caused them.

As Cassandane does after every test. The server family says which lines belong to which class
(`Family.log_classes`); lines a version prints in normal operation are data, `[[log_noise]]` in
fixtures/deviations/<family>.toml, each with a reason and a reference, scoped to server versions
and to tests or kinds of run; a test that provokes such lines on purpose says so with
`@pytest.mark.provokes("error", reason=...)`.
"""

from __future__ import annotations

import fnmatch
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..catalogue import version_in
from ..errors import UserError
from . import logs
from .families import FAMILIES

CLASSES = {  # class -> what the report calls it
    "crash": "process killed by a signal or ended by a fatal error",
    "error": "database or I/O error",
    "assertion": "failed assertion",
    "sanitizer": "sanitizer report",
}
RUN_KINDS = ("test", "load", "upgrade", "migration", "recovery")


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of CLASSES
    line: logs.LogLine

    def __str__(self) -> str:
        return f"[{self.kind}] {self.line.raw}"


def classify(family: str, lines: list[logs.LogLine]) -> list[Finding]:
    """The lines of these that the family's classes call trouble, in order (first class wins)."""
    classes = [(kind, re.compile(pattern)) for kind, pattern in FAMILIES[family].log_classes]
    found = []
    for line in lines:
        for kind, pattern in classes:
            if pattern.search(line.message):
                found.append(Finding(kind, line))
                break
    return found


@dataclass(frozen=True)
class LogNoise:
    """Lines a server version logs in normal operation although nothing is wrong."""

    family: str
    pattern: str
    reason: str
    reference: str
    versions: str = ""
    tests: tuple[str, ...] = ()  # test ids or fnmatch patterns; empty: every test
    runs: tuple[str, ...] = RUN_KINDS  # kinds of run it applies to
    kinds: tuple[str, ...] = tuple(CLASSES)  # classes of line it may hide
    sometimes: bool = False  # a race, logged in some runs only: not reported when it hid nothing

    @property
    def key(self) -> str:
        return f"{self.family}: {self.pattern}" + (f" ({self.versions})" if self.versions else "")

    def in_scope(self, family: str, version: tuple[int, ...], run: str, test: str = "") -> bool:
        if family != self.family or run not in self.runs or not version_in(self.versions, version):
            return False
        return run != "test" or not self.tests or any(fnmatch.fnmatchcase(test, t) for t in self.tests)

    def hides(self, finding: Finding) -> bool:
        return finding.kind in self.kinds and re.search(self.pattern, finding.line.message) is not None


def noise_entry(family: str, where: str, e: dict) -> LogNoise:
    """A `[[log_noise]]` entry of <family>.toml (its keys, pattern and versions checked by the
    deviations reader, pytest_plugin/deviations.read): what only the log gate knows is checked here."""
    if not isinstance(e.get("sometimes", False), bool):
        raise UserError(f"{where}: sometimes: true or false")
    for key, allowed in (("runs", RUN_KINDS), ("kinds", tuple(CLASSES))):
        bad = set(e.get(key, ())) - set(allowed)
        if bad:
            raise UserError(f"{where}: {key} {sorted(bad)}: known are {', '.join(allowed)}")
    return LogNoise(family, e["pattern"], e["reason"], e["reference"], e.get("versions", ""),
                    tuple(e.get("tests", ())),
                    # an entry about some tests is about test runs, unless it says more
                    tuple(e.get("runs", ("test",) if e.get("tests") else RUN_KINDS)),
                    tuple(e.get("kinds", tuple(CLASSES))), e.get("sometimes", False))


def load_noise(directory: Path) -> list[LogNoise]:
    """Every `[[log_noise]]` entry of the <family>.toml files in `directory` (the whole folder is
    read and checked: one reader for every table)."""
    from ..pytest_plugin.deviations import read

    return read(directory).log_noise


_chosen: tuple[Path, list[LogNoise]] | None = None  # a command's --deviations folder and its entries


def use_deviations(folder: Path | None, noise: list[LogNoise] | None = None) -> None:
    """The `[[log_noise]]` of `folder` for this process's whole-run gates (a command's
    --deviations, read and checked by the caller or here; None: the shipped lists)."""
    global _chosen
    if folder is None:
        _chosen = None
        return
    _chosen = (folder.resolve(), load_noise(folder) if noise is None else noise)


def chosen_deviations() -> Path | None:
    """The folder use_deviations() chose (for the suites a command runs), or None."""
    return _chosen[0] if _chosen else None


@dataclass
class Judgement:
    """What the gate made of one window of log lines."""

    failing: list[Finding] = field(default_factory=list)
    listed: list[tuple[Finding, LogNoise]] = field(default_factory=list)  # hidden by a noise entry
    provoked: list[tuple[Finding, str]] = field(default_factory=list)  # allowed by the test: its reason

    @property
    def clean(self) -> bool:
        return not self.failing

    def extend(self, other: Judgement) -> None:
        self.failing += other.failing
        self.listed += other.listed
        self.provoked += other.provoked

    def summary(self) -> str:
        """One line for a report: "clean", or the classes and the first failing line."""
        if not self.failing:
            extra = [f"{len(self.listed)} listed"] if self.listed else []
            extra += [f"{len(self.provoked)} provoked by the test"] if self.provoked else []
            return "clean" + (f" ({', '.join(extra)})" if extra else "")
        counts: dict[str, int] = {}
        for f in self.failing:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        kinds = ", ".join(f"{n} {k}" for k, n in counts.items())
        return f"{kinds}: {self.failing[0].line.raw}"

    def message(self, what: str) -> str:
        lines = [f"server log {what}: {len(self.failing)} line(s) the log gate fails"]
        lines += [f"  {f}" for f in self.failing[:20]]
        if len(self.failing) > 20:
            lines.append(f"  ... and {len(self.failing) - 20} more")
        lines.append("  (lines a server logs in normal operation are listed as [[log_noise]] in "
                     "fixtures/deviations/<family>.toml with a reason and a reference)")
        return "\n".join(lines)


def health(family: str, version: tuple[int, ...], lines: list[logs.LogLine], run: str,
           noise: list[LogNoise] | None = None) -> dict:
    """The gate over a whole run's window (load, upgrade, migration, recovery): what its report
    carries; "clean" False fails the run's verdict."""
    if noise is None and _chosen is not None:
        noise = _chosen[1]
    if noise is None:
        from ..resources import fixture

        noise = load_noise(fixture("deviations"))
    judged = judge(family, version, lines, noise, run)
    counts: dict[str, int] = {}
    for f in judged.failing:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return {"checked": True, "clean": judged.clean, "summary": judged.summary(), "counts": counts,
            "lines": [[f.kind, f.line.raw] for f in judged.failing][:100],
            "listed": [[f.line.raw, entry.key] for f, entry in judged.listed][:100]}


def unchecked(why: str) -> dict:
    """A run whose server log could not be read: said, never taken for clean."""
    return {"checked": False, "clean": True, "summary": f"not checked: {why}", "counts": {}, "lines": [],
            "listed": []}


def server_health(server, since: datetime, run: str, until: datetime | None = None) -> dict:
    """health() of `server`'s log lines from `since` (to `until`)."""
    if "logs" not in server.features:
        return unchecked("the server's log cannot be read (a target without an exec channel)")
    try:
        lines = server.logs(since, until)
    except Exception as exc:  # noqa: BLE001 - the run's own result stands; the report says why
        return unchecked(f"log not read: {exc}")
    return health(server.family_name, server.version_tuple, lines, run)


def judge(family: str, version: tuple[int, ...], lines: list[logs.LogLine], noise: list[LogNoise],
          run: str, test: str = "", provoked: dict[str, str] | None = None) -> Judgement:
    """Classify `lines` and set aside what noise entries in scope and the test's own `provoked`
    classes (class -> reason) allow."""
    scoped = [n for n in noise if n.in_scope(family, version, run, test)]
    out = Judgement()
    for finding in classify(family, lines):
        entry = next((n for n in scoped if n.hides(finding)), None)
        if entry is not None:
            out.listed.append((finding, entry))
        elif provoked and finding.kind in provoked:
            out.provoked.append((finding, provoked[finding.kind]))
        else:
            out.failing.append(finding)
    return out


SETTLE = 0.1  # seconds to wait for syslog where a marker line cannot show it is written


class LogWatch:
    """A server's log read as it grows, each line once (the gate reads after a test's call and
    again after its teardown; a line syslog writes late is read the next time)."""

    def __init__(self, server, since: datetime | None):
        self.server = server
        self.since = since  # None: from the log's first line
        self._edge: set[str] = set()  # lines already read that carry the time `since`
        self.marking = True  # syslog shows our marker lines in the server's log file
        self.closed = False
        self._last: list[logs.LogLine] = []

    def close(self) -> None:
        """Read the last lines of a server about to be removed (a test's private server): the
        gate's read after teardown gets them, not an error from a container that is gone."""
        if self.closed:
            return
        self.sync()
        self._last = self.new_lines()
        self.closed = True

    def sync(self) -> None:
        """Return once syslog has written what the server logged before now: a marker line sent
        through syslog now is in the file (rsyslog writes in order). Where no marker shows (a
        target whose syslog files mail elsewhere), a fixed wait instead, from then on."""
        if self.closed:
            return
        if not self.marking:
            time.sleep(SETTLE)
            return
        token = secrets.token_hex(8)
        script = (f'logger -p mail.info -t {logs.MARK_TAG} {token} || exit 1; i=0; while [ $i -lt 100 ]; do '
                  f'tail -c 65536 "$1" | grep -qF {token} && exit 0; sleep 0.005; i=$((i+1)); done; exit 1')
        if self.server.exec(["sh", "-c", script, "sh", self.server.log_file], user="root").exit_code != 0:
            self.marking = False

    def new_lines(self) -> list[logs.LogLine]:
        if self.closed:
            last, self._last = self._last, []
            return last
        lines = self.server.logs(since=self.since)
        fresh = [line for line in lines if not (line.time == self.since and line.raw in self._edge)]
        if lines:
            last = max(line.time for line in lines)
            self._edge = {line.raw for line in lines if line.time == last} | (self._edge if last == self.since else set())
            self.since = last
        return fresh
