from datetime import UTC, datetime

from imapwright.servers import logs

# Recorded from the cyrus:3.6 and dovecot:2.3 images' rsyslog.
RECORDED = """\
2026-11-29T04:28:05.022069+00:00 vm cyrus/imap[38]: login: localhost [127.0.0.1] cyrus plaintext User logged in
2026-11-29T04:34:44.766380+00:00 vm dovecot: master: Dovecot v2.3.19.1 (9b53102964) starting up
not a log line
2026-11-29T04:27:56.327994+00:00 vm rsyslogd: [origin software="rsyslogd"] start
"""


def test_parse_recorded_lines():
    lines = logs.parse(RECORDED)
    assert [(l.program, l.pid) for l in lines] == [("cyrus/imap", 38), ("dovecot", None), ("rsyslogd", None)]
    assert lines[0].time == datetime(2026, 11, 29, 4, 28, 5, 22069, tzinfo=UTC)
    assert lines[1].message.startswith("master: Dovecot v2.3.19.1")


def test_stamp_compares_lexically_with_rsyslog_timestamps():
    lines = RECORDED.splitlines()
    cut = logs.stamp(datetime(2026, 11, 29, 4, 28, 5, 22069, tzinfo=UTC))
    assert lines[0] >= cut and not lines[3] >= cut


class _Server:
    """Only what trouble_tail reads of a server: its features and its log lines."""
    def __init__(self, text: str | None, features=("logs",)):
        self.text, self.features = text, set(features)

    def logs(self, since):
        if self.text is None:
            raise OSError("container gone")
        return logs.parse(self.text)


FAILING_START = ("2026-11-29T11:05:07.459769+00:00 vm imapwright: imapwright: cyrus master starting\n"
            "2026-11-29T11:05:08.0+00:00 vm cyrus/imap[12]: IOERROR: opening /srv/x: No such file\n"
            "2026-11-29T11:05:09.0+00:00 vm cyrus/imap[12]: login: localhost [127.0.0.1] u0001 plaintext\n")


def test_trouble_tail_gives_the_last_trouble_lines_else_the_last_lines_else_nothing():
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert [line.split(": ", 1)[1] for line in logs.trouble_tail(_Server(FAILING_START), since)] == [
        "IOERROR: opening /srv/x: No such file"]
    quiet = FAILING_START.splitlines(keepends=True)[2]
    assert logs.trouble_tail(_Server(quiet), since, 1) == [quiet.strip()]
    assert logs.trouble_tail(_Server(None), since) == []
    assert logs.trouble_tail(_Server(FAILING_START, features=()), since) == []
