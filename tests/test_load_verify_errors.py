"""The load's ledger check reading a server that drops the connection (found at a million messages
on dovecot:2.3: its imap process ended during SEARCH HEADER) says so in one line, with the server's
last log line, instead of a traceback."""

import contextlib

import imapclient
import pytest

from imapwright.errors import ServerError
from imapwright.load.verify import found_on_server
from imapwright.servers import logs


class DroppingClient:
    def select_folder(self, folder, readonly=False):
        return {}

    def search(self, criteria):
        raise imapclient.exceptions.IMAPClientAbortError("command: SEARCH => socket error: EOF")

    def unselect_folder(self):
        raise imapclient.exceptions.IMAPClientAbortError("command: UNSELECT => socket error: EOF")


LOG = "2026-12-07T01:59:00.000000+00:00 host dovecot: imap(big00000): Fatal: master: service(imap): child killed\n"


class Server:
    name = "dovecot:2.3"
    features = frozenset({"logs"})

    @contextlib.contextmanager
    def user_session(self, user):
        yield DroppingClient()

    def logs(self, since):
        return logs.parse(LOG)


def test_a_connection_dropped_during_the_ledger_check_is_a_one_line_server_error():
    with pytest.raises(ServerError) as info:
        found_on_server(Server(), [("big00000", "INBOX")])
    text = str(info.value)
    assert "\n" not in text and "big00000's INBOX" in text and "socket error: EOF" in text
    assert text.endswith("child killed")
