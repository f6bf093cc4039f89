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
