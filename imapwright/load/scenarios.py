"""Each load scenario as one record: its locustfile, what it needs of a server, its knobs (with
defaults and help) and whether it keeps per-request timings. The command line, the runner and
the shapes read it; nothing here imports Locust."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Knob:
    name: str  # IMAPWRIGHT_LOAD_OPT_<NAME> in the Locust processes
    default: str
    help: str
    kind: type = str

    def value(self, text: str | None = None):
        return self.kind(self.default if text is None or text == "" else text)


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str  # in loadtests/
    needs: frozenset[str]  # server features it cannot run without (besides "exec": the
    # population's passwords are set with the server's own tools)
    about: str
    windows: tuple[str, ...] = ()  # admin requests whose spans get delivery latency during them
    # (per-request timings kept): reconstruct in large-list, the folder's repair in large-mailbox
    knobs: tuple[Knob, ...] = field(default_factory=tuple)

    def knob(self, name: str) -> Knob:
        return next(k for k in self.knobs if k.name == name)

    def defaults(self) -> dict[str, str]:
        return {k.name: k.default for k in self.knobs}


REPAIR = "repair the large folder"  # the request name of large-mailbox's reconstruct / force-resync
LARGE_MAILBOX_DEFAULT = 10_000  # messages the large folder is grown to without --messages

CAPACITY_KNOBS = (
    Knob("step_users", "5", "users added per step", int),
    Knob("step_seconds", "10", "seconds per step", float),
    Knob("max_users", "100", "the most users the steps go up to (the command line's --users)", int),
    Knob("p95_ms", "500", "p95 latency threshold, ms", float),
    Knob("max_failure_ratio", "0.01", "failure ratio threshold", float),
)

# Every IMAPWRIGHT_LOAD_OPT_* the scenarios read, so `--knob NAME=VALUE` can refuse a name nobody
# reads (a typo would otherwise be recorded and do nothing). Most are set by the runner from the
# server; each can be overridden. loadtests/README.md describes them for plain `locust -f` runs.
KNOBS = {k.name: k for k in (
    Knob("size", "", "fixed message size in bytes (--size)"),
    Knob("mix", "", "mixed: imaptest-like state weights (--mix)"),
    Knob("think", "0.05-0.3", "IMAP sessions: seconds between states, SECONDS or LOW-HIGH (0: none)"),
    Knob("idle_seconds", "1", "IMAP sessions: how long an IDLE state idles"),
    Knob("delivery_pause", "0", "deliverers: seconds between deliveries (large-mailbox: 0.05)"),
    Knob("lmtp_pipeline", "1", "the next delivery's envelope behind the message before (RFC 2920); 0: not"),
    Knob("imap_pipeline", "0", "1: APPEND with LITERAL+ and STORE \\Deleted with its UID EXPUNGE in one write"),
    Knob("own_prefix", "", "where a user's own folders go (INBOX. on Cyrus)"),
    Knob("quota_root", "", "a user's quota root, {user} filled in"),
    Knob("tool_user", "root", "who runs the server's tools over the exec channel"),
    Knob("reconstruct_user", "", "large-list: the command that reconstructs one account"),
    Knob("reconstruct_full", "", "large-list: the command that reconstructs the whole list"),
    Knob("repair_folder", "", "large-mailbox: the command that repairs the large folder"),
    Knob("large_user", "", "large-mailbox: whose INBOX is the large folder"),
    Knob("timings", "", "1: keep every request's timing (scenarios with admin windows)"),
    Knob("max_requests", "0", "stop after this many requests (--max-requests)"),
    Knob("workers", "1", "how many workers share --max-requests"),
    *CAPACITY_KNOBS,
)}

SCENARIOS = {s.name: s for s in (
    Scenario("delivery", "delivery.py", frozenset({"lmtp"}), "LMTP delivery to the population"),
    Scenario("mixed", "mixed.py", frozenset({"lmtp"}), "imaptest-like IMAP sessions plus delivery"),
    Scenario("admin-churn", "admin_churn.py", frozenset({"lmtp"}),
             "create/rename/SETACL/delete folders, SETQUOTA, while users read and mail arrives"),
    Scenario("large-list", "large_list.py", frozenset({"lmtp", "exec", "mailbox-list"}),
             "reconstruct and LIST on a seeded mailbox list while delivery runs",
             windows=("reconstruct one user", "reconstruct full list")),
    Scenario("large-mailbox", "large_mailbox.py", frozenset({"lmtp"}),
             "one folder grown to --messages, then SELECT/FETCH/SEARCH/STORE/EXPUNGE on it and its repair "
             "while delivery runs", windows=(REPAIR,)),
    Scenario("capacity", "capacity.py", frozenset({"lmtp"}), "step the load up until a threshold is crossed",
             knobs=CAPACITY_KNOBS),
)}
CAPACITY = SCENARIOS["capacity"]
