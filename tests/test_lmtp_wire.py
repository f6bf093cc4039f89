"""The load generator's raw LMTP client: reply parsing and the transaction's outcomes, against
recorded server answers played by a socket pair (the real servers are in tests/integration)."""

import socket
import threading

import pytest

from imapwright.load.mail import make_message
from imapwright.protocol.lmtp_wire import LMTPWireError, WireLMTP, wire_form

LHLO = b"250-vm\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250 SIZE\r\n"


def _server(script: list[bytes], received: list[bytes]):
    """Listen once; send the greeting, then after each read of the client's bytes the next answer."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 vm LMTP ready\r\n")
            for answer in script:
                received.append(conn.recv(65536))
                conn.sendall(answer)
            received.append(conn.recv(65536))
        listener.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    _threads.append(thread)
    return listener.getsockname()[1]


_threads: list[threading.Thread] = []


def _served() -> None:
    """Wait until the recorded server has read the client's last bytes (or its end)."""
    while _threads:
        _threads.pop().join(5)


def test_a_pipelined_delivery_is_two_writes_and_the_recipients_answer():
    received: list[bytes] = []
    port = _server([LHLO, b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n", b"250 2.1.5 Ok SESSIONID=<x>\r\n"], received)
    client = WireLMTP("127.0.0.1", port)
    assert client.deliver(b"Subject: x\r\n\r\nbody\r\n", "ann@example.org", "s@example.org") == (250, "2.1.5 Ok SESSIONID=<x>")
    client.close()
    _served()
    assert received[1] == b"MAIL FROM:<s@example.org>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n"
    assert received[2] == b"Subject: x\r\n\r\nbody\r\n.\r\n"


def test_a_refused_recipient_returns_its_answer_and_resets():
    received: list[bytes] = []
    port = _server([LHLO, b"250 ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n503 5.5.1 no valid recipients\r\n",
                    b"250 2.0.0 ok\r\n"], received)
    client = WireLMTP("127.0.0.1", port)
    assert client.deliver(b"x\r\n", "nobody@example.org", "s@example.org") == (550, "5.1.1 no such\n5.1.1 user")
    client.close()
    _served()
    assert received[2] == b"RSET\r\n"


ENVELOPE_OK = b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n"


def test_the_next_envelope_goes_out_behind_the_message_and_its_delivery_sends_only_the_message():
    received: list[bytes] = []
    port = _server([LHLO, ENVELOPE_OK, b"250 2.1.5 one\r\n" + ENVELOPE_OK, b"250 2.1.5 two\r\n"], received)
    client = WireLMTP("127.0.0.1", port)
    assert client.deliver(b"one\r\n", "ann@example.org", "s@x", then=("bob@example.org", "s@x")) == (250, "2.1.5 one")
    assert client.pending == ("bob@example.org", "s@x")
    assert client.deliver(b"two\r\n", "bob@example.org", "s@x") == (250, "2.1.5 two")
    client.close()
    _served()
    assert received[2] == b"one\r\n.\r\nMAIL FROM:<s@x>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
    assert received[3] == b"two\r\n.\r\n"
    assert received[4] == b"QUIT\r\n"


def test_an_envelope_sent_ahead_for_a_refused_recipient_returns_the_refusal_and_resets():
    received: list[bytes] = []
    port = _server([LHLO, ENVELOPE_OK, b"250 2.1.5 one\r\n250 ok\r\n550 5.1.1 no such user\r\n503 no recipients\r\n",
                    b"250 2.0.0 reset\r\n"], received)
    client = WireLMTP("127.0.0.1", port)
    client.deliver(b"one\r\n", "ann@example.org", "s@x", then=("nobody@example.org", "s@x"))
    assert client.deliver(b"two\r\n", "nobody@example.org", "s@x") == (550, "5.1.1 no such user")
    client.close()
    _served()
    assert received[3] == b"RSET\r\n"
    assert received[4] == b"QUIT\r\n"


def test_closing_with_an_envelope_sent_ahead_ends_the_connection_without_quit():
    """QUIT in DATA would be message text: a message the server might store if a dot followed."""
    received: list[bytes] = []
    port = _server([LHLO, ENVELOPE_OK, b"250 2.1.5 one\r\n" + ENVELOPE_OK], received)
    client = WireLMTP("127.0.0.1", port)
    client.deliver(b"one\r\n", "ann@example.org", "s@x", then=("bob@example.org", "s@x"))
    client.close()
    _served()
    assert received[-1] == b""


def test_a_delivery_for_another_recipient_than_the_envelope_sent_ahead_is_refused():
    port = _server([LHLO, ENVELOPE_OK, b"250 2.1.5 one\r\n" + ENVELOPE_OK], [])
    client = WireLMTP("127.0.0.1", port)
    client.deliver(b"one\r\n", "ann@example.org", "s@x", then=("bob@example.org", "s@x"))
    with pytest.raises(ValueError, match="bob@example.org"):
        client.deliver(b"two\r\n", "carl@example.org", "s@x")
    client.close()


def test_a_server_without_pipelining_is_refused_at_connect():
    port = _server([b"250-vm\r\n250 8BITMIME\r\n"], [])
    with pytest.raises(LMTPWireError, match="PIPELINING"):
        WireLMTP("127.0.0.1", port)


def test_the_load_messages_are_already_in_wire_form():
    for size in (100, 2_000, 6_000, 100_000):
        _mid, message = make_message(size)
        assert wire_form(message) == message


def test_wire_form_normalises_line_ends_and_stuffs_dots():
    assert wire_form(b"a\n.b\r\n..c\rd") == b"a\r\n..b\r\n...c\r\nd\r\n"


WATCHDOG_SCRIPT = r'''
from gevent import monkey; monkey.patch_all()
import socket, sys, threading, time
from imapwright.load import lmtp
from imapwright.load.ledger import LedgerWriter

from imapwright.load import watchdog
lmtp.TIMEOUT, watchdog.WATCH_SECONDS = 1.0, 0.1
listener = socket.create_server(("127.0.0.1", 0))
def serve():  # greets, answers LHLO, then never answers the transaction
    conn, _ = listener.accept()
    conn.sendall(b"220 vm LMTP ready\r\n")
    conn.recv(65536)
    conn.sendall(b"250-vm\r\n250 PIPELINING\r\n")
    conn.recv(65536)
    time.sleep(30)
threading.Thread(target=serve, daemon=True).start()

class Events:  # Locust's environment.events.request, recorded
    fired = []
    class request:
        @staticmethod
        def fire(**kw): Events.fired.append(kw)
class Env: events = Events

client = lmtp.LMTPLoadClient("127.0.0.1", listener.getsockname()[1], Env, LedgerWriter(sys.argv[1]))
start = time.monotonic()
ok = client.deliver(b"Subject: x\r\n\r\nbody\r\n", "alice", message_id="<m1@x>", wire=True)
print(ok, round(time.monotonic() - start, 1), Events.fired[0]["exception"])
'''


def test_a_delivery_without_an_answer_ends_at_the_timeout_with_its_outcome_unknown(tmp_path):
    """The load client's one watchdog per process (not a timer per delivery) ends a delivery whose
    answer never comes: the request fails with the reason and the ledger says the outcome is unknown."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", WATCHDOG_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                         timeout=20)
    assert res.returncode == 0, res.stderr
    ok, seconds, reason = res.stdout.split(" ", 2)
    assert ok == "False" and 0.9 <= float(seconds) < 3, res.stdout
    assert reason.strip() == "no answer within 1.0 s"
    [ledger] = tmp_path.glob("ledger-*.tsv")
    assert [line.split("\t")[0] for line in ledger.read_text().splitlines()] == ["sent", "unknown"]
