"""Server log lines as the container's syslog receiver wrote them (rsyslog, RFC 3339 timestamps)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

LOG_FILE = "/var/log/imapwright/server.log"

_LINE = re.compile(r"^(\S+) (\S+) ([^:\[]+)(?:\[(\d+)\])?: ?(.*)$")


@dataclass(frozen=True)
class LogLine:
    time: datetime
    program: str  # syslog tag without pid, e.g. "cyrus/imap" or "dovecot"
    pid: int | None
    message: str
    raw: str

    def __str__(self) -> str:
        return self.raw


def parse_line(raw: str) -> LogLine | None:
    m = _LINE.match(raw)
    if not m:
        return None
    try:
        when = datetime.fromisoformat(m.group(1))
    except ValueError:
        return None
    pid = int(m.group(4)) if m.group(4) else None
    return LogLine(when.astimezone(UTC), m.group(3), pid, m.group(5), raw)


# The harness's own marker lines (servers/log_gate.py LogWatch.sync): not the server's.
MARK_TAG = "imapwright-mark"


def parse(text: str) -> list[LogLine]:
    return [line for raw in text.splitlines() if (line := parse_line(raw)) and line.program != MARK_TAG]


def stamp(when: datetime) -> str:
    """The timestamp prefix rsyslog writes, for a lexical comparison inside the container."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


# Words that mark a log line as trouble (Cyrus: IOERROR/DBERROR, "signaled to death"; Dovecot:
# "Error:", "Fatal:", "auth failed"; both: badlogin).
TROUBLE = ("error", "fatal", "fail", "badlogin", "refused", "signal", "crash", "panic", "critical")


def trouble(lines: list[LogLine]) -> list[LogLine]:
    """The lines that look like something went wrong, in order."""
    return [line for line in lines if any(w in line.message.lower() for w in TROUBLE)]


def trouble_tail(server, since: datetime, count: int = 8) -> list[str]:
    """A failure report's last words from the server: its last trouble-looking lines since
    `since` (or its last lines, when none look like trouble); none when its log cannot be read
    (the report stands without them)."""
    if "logs" not in server.features:
        return []
    try:
        lines = server.logs(since)
    except Exception:
        return []
    return [line.raw for line in (trouble(lines) or lines)[-count:]]
