"""The log gate's model: which lines are trouble for each family, what noise entries hide, and
reading a growing log once (recorded lines; the gate against real servers is in
tests/integration/test_log_gate_can_fail.py)."""

from datetime import UTC, datetime

import pytest

from imapwright.errors import UserError
from imapwright.servers import log_gate, logs

CYRUS = """\
2026-12-06T14:50:51.235151+00:00 vm cyrus/master[12]: process type:SERVICE name:imap path:/usr/lib/cyrus/bin/imapd age:0.2s pid:63 signaled to death by signal 11 (Segmentation fault)
2026-12-06T14:50:51.235200+00:00 vm cyrus/master[12]: service imap/ipv4 pid 63 in BUSY state: terminated abnormally
2026-12-06T14:50:51.300000+00:00 vm cyrus/imap[70]: DBERROR: opening /var/lib/cyrus/mailboxes.db: cyrusdb error
2026-12-06T14:50:51.300001+00:00 vm cyrus/imap[70]: IOERROR: reading cache record for user.bob: got bogus offset 0
2026-12-06T14:50:51.300002+00:00 vm cyrus/imap[70]: Fatal error: Unable to read mailboxes.db
2026-12-06T14:50:51.400000+00:00 vm cyrus/imap[71]: login: localhost [127.0.0.1] bob plaintext User logged in
2026-12-06T14:50:51.400001+00:00 vm cyrus/imap[71]: badlogin: localhost [127.0.0.1] plaintext bob SASL(-13): authentication failure
2026-12-06T14:50:51.500000+00:00 vm cyrus/imap[72]: imap/index.c:123:4: runtime error: signed integer overflow
2026-12-06T14:50:51.500001+00:00 vm cyrus/imap[72]: ==72==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020
2026-12-06T14:50:51.500002+00:00 vm cyrus/imap[72]: imapd: index.c:88: index_check: Assertion `state->exists' failed.
"""
DOVECOT = """\
2026-12-06T14:50:52.199687+00:00 vm dovecot: imap(admin)<42><PrhS>: Fatal: master: service(imap): child 42 killed with signal 11 (core dumps disabled)
2026-12-06T14:50:52.200000+00:00 vm dovecot: imap(bob)<43><x>: Panic: file mail-index.c: line 99 (mail_index_x): assertion failed: (idx != NULL)
2026-12-06T14:50:52.300000+00:00 vm dovecot: imap(bob)<44><y>: Error: Corrupted index file /srv/imapwright/mail/bob/dovecot.index: Header size 0
2026-12-06T14:50:52.400000+00:00 vm dovecot: imap-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 secs)
2026-12-06T14:50:52.500000+00:00 vm dovecot: imap(bob)<45><z>: Warning: Locking transaction log file took 5 seconds
"""


def kinds(family, text):
    return [(f.kind, f.line.pid) for f in log_gate.classify(family, logs.parse(text))]


def test_cyrus_lines_are_classified_by_what_went_wrong():
    assert kinds("cyrus", CYRUS) == [("crash", 12), ("crash", 12), ("error", 70), ("error", 70), ("crash", 70),
                                      ("sanitizer", 72), ("sanitizer", 72), ("assertion", 72)]


def test_dovecot_lines_are_classified_and_an_auth_failure_is_not_trouble():
    # a Panic that reports a failed assertion is named by the more telling class
    assert kinds("dovecot", DOVECOT) == [("crash", None), ("assertion", None), ("error", None)]


def _noise(**kw):
    base = {"family": "cyrus", "pattern": "IOERROR: reading cache", "reason": "r", "reference": "x"}
    return log_gate.LogNoise(**{**base, **kw})


def test_noise_hides_only_its_lines_in_its_scope():
    lines = logs.parse(CYRUS)
    plain = log_gate.judge("cyrus", (3, 6, 1), lines, [], "test", "suites/a.py::t")
    assert len(plain.failing) == 8 and not plain.clean
    scoped = [_noise(versions=">=3.6,<3.10", tests=("suites/reconstruct/*",), runs=("test",))]
    inside = log_gate.judge("cyrus", (3, 6, 1), lines, scoped, "test", "suites/reconstruct/test_x.py::t")
    assert len(inside.failing) == 7 and [e.key for _, e in inside.listed] == ["cyrus: IOERROR: reading cache (>=3.6,<3.10)"]
    for version, test, run in (((3, 10), "suites/reconstruct/test_x.py::t", "test"),
                               ((3, 6), "suites/acl/test_x.py::t", "test"),
                               ((3, 6), "", "upgrade")):
        assert len(log_gate.judge("cyrus", version, lines, scoped, run, test).failing) == 8
    # a class the entry does not name stays failing whatever the pattern says
    crash_only = [_noise(pattern="signaled to death", kinds=("error",))]
    assert len(log_gate.judge("cyrus", (3, 6), lines, crash_only, "test", "t").failing) == 8


def test_a_test_that_provokes_errors_keeps_failing_on_a_crash():
    judged = log_gate.judge("cyrus", (3, 6), logs.parse(CYRUS), [], "test", "t", {"error": "it corrupts files"})
    assert [f.kind for f, _ in judged.provoked] == ["error", "error"]
    assert "crash" in judged.summary() and len(judged.failing) == 6


def test_noise_entries_are_checked_when_read(tmp_path):
    (tmp_path / "cyrus.toml").write_text('[[log_noise]]\npattern = "x"\nreason = "r"\nreference = "y"\n'
                                         'versions = ">=3.6"\ntests = ["suites/*"]\nruns = ["test"]\n')
    [entry] = log_gate.load_noise(tmp_path)
    assert entry.tests == ("suites/*",) and entry.runs == ("test",) and entry.kinds == tuple(log_gate.CLASSES)
    (tmp_path / "cyrus.toml").write_text('[[log_noise]]\npattern = "x"\nreason = "r"\nreference = "y"\n'
                                         'tests = ["suites/*"]\n[[log_noise]]\npattern = "z"\nreason = "r"\n'
                                         'reference = "y"\n')
    about_tests, everywhere = log_gate.load_noise(tmp_path)
    assert about_tests.runs == ("test",) and everywhere.runs == log_gate.RUN_KINDS
    for bad, says in (('pattern = "("', "missing"), ('pattern = "x"\nversions = "3.6"', "bad version bound"),
                      ('pattern = "x"\nruns = ["lod"]', "runs ['lod']"), ('pattern = "x"\ncolour = 1', "unknown key"),
                      ('pattern = "x"\nsometimes = "yes"', "sometimes: true or false")):
        (tmp_path / "cyrus.toml").write_text(f'[[log_noise]]\n{bad}\nreason = "r"\nreference = "y"\n')
        with pytest.raises(UserError, match=r"cyrus.toml: log_noise #1") as raised:
            log_gate.load_noise(tmp_path)
        assert says in str(raised.value)
    (tmp_path / "cyrus.toml").write_text('[[log_noise]]\npattern = "x"\n')
    with pytest.raises(UserError, match="lacks reason, reference"):
        log_gate.load_noise(tmp_path)


class _Log:
    def __init__(self):
        self.lines: list[str] = []

    def logs(self, since=None):
        parsed = logs.parse("\n".join(self.lines))
        return [line for line in parsed if since is None or line.time >= since]


def test_a_growing_log_is_read_once_even_with_equal_timestamps():
    server = _Log()
    watch = log_gate.LogWatch(server, None)
    server.lines += CYRUS.splitlines()[:2]
    assert len(watch.new_lines()) == 2
    assert watch.new_lines() == []
    # a line with the same timestamp as the last one read arrives late; then later lines
    server.lines.append("2026-12-06T14:50:51.235200+00:00 vm cyrus/master[12]: late twin")
    server.lines += CYRUS.splitlines()[2:4]
    assert [line.message for line in watch.new_lines()][0] == "late twin"
    assert watch.new_lines() == []
    assert watch.since == datetime(2026, 12, 6, 14, 50, 51, 300001, tzinfo=UTC)


def test_a_child_ended_by_sigterm_in_a_stop_is_not_a_crash():
    stop = ("2026-12-06T16:42:24.966724+00:00 vm cyrus/master[1]: process type:SERVICE name:imap "
            "path:/usr/lib/cyrus/bin/imapd age:0.225s pid:52 signaled to death by signal 15 (Terminated)")
    assert kinds("cyrus", stop) == []
    assert kinds("cyrus", stop.replace("signal 15 (Terminated)", "signal 11 (Segmentation fault)")) == [("crash", 1)]


def test_a_commands_deviations_folder_is_what_its_whole_run_gate_lets_pass(tmp_path):
    """`load`, `upgrade` and `migrate apply --deviations DIR` (log_gate.use_deviations): the run's
    health counts a line DIR lists as listed, not failing; without it the shipped lists hold."""
    (tmp_path / "cyrus.toml").write_text('[[log_noise]]\npattern = "^DBERROR: opening"\nreason = "r"\n'
                                         'reference = "https://example.org"\n')
    lines = [line for line in logs.parse(CYRUS) if line.message.startswith("DBERROR")]
    try:
        assert log_gate.health("cyrus", (3, 6), lines, "load")["clean"] is False
        log_gate.use_deviations(tmp_path)
        judged = log_gate.health("cyrus", (3, 6), lines, "load")
        assert judged["clean"] is True and judged["listed"] == [[lines[0].raw, "cyrus: ^DBERROR: opening"]]
        assert log_gate.chosen_deviations() == tmp_path.resolve()
    finally:
        log_gate.use_deviations(None)
    assert log_gate.health("cyrus", (3, 6), lines, "load")["clean"] is False
    with pytest.raises(UserError, match="no such folder"):
        log_gate.use_deviations(tmp_path / "missing")
