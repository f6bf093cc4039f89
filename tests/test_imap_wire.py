"""The load sessions' wire client (protocol/imap_wire.py) against a recording responder
(load/null_imap.py, which keeps every command as it came in): for each command of the mixed
scenario it sends exactly what imapclient sends; literals both ways; NO/BAD, a broken connection
and a server that breaks the protocol end as the load client expects."""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import threading
import time

import imapclient
import pytest

from imapwright.load import null_imap
from imapwright.load.mail import make_message
from imapwright.protocol.imap_wire import IMAPNo, IMAPWireError, WireIMAP, astring, mailbox


class Responder:
    """An asyncio server in a thread: `handler(reader, writer)` per connection, or `starter()`
    returning the server."""

    def __init__(self, handler=None, starter=None):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start():
            self.server = await (starter() if starter else asyncio.start_server(handler, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()),
                                       daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def close(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def recording():
    record: list[bytes] = []
    responder = Responder(starter=functools.partial(null_imap.start, "127.0.0.1", 0, record))
    yield responder.port, record
    responder.close()


_TAG = re.compile(rb"^\S+ ")
MESSAGE = make_message(2000)[1]
FOLDER = "Caf\u00e9 & \"friends\""  # non-ASCII, '&', a quote: modified UTF-7 and quoting


def _untagged(record: list[bytes]) -> list[bytes]:
    return [_TAG.sub(b"", r, count=1) if not r.startswith(b"DONE") else r for r in record]


def _mix_imapclient(port: int) -> None:
    c = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login("load00001", 'pa ss"word\\')
    c.list_folders("", "*")
    c.select_folder("INBOX")
    c.select_folder(FOLDER)
    c.search("ALL")
    c.search("UNSEEN")
    c.fetch([3, 1, 7], ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"])
    body = c.fetch([2], ["BODY.PEEK[]"])
    assert body[2][b"BODY[]"] == null_imap.BODY
    c.add_flags([4, 5], [b"\\Seen"])
    c.remove_flags([6], [b"$Label1"])
    c.append("INBOX", MESSAGE, (b"\\Seen",))
    c.add_flags([21], [imapclient.DELETED])
    c.expunge([21])
    c.idle()
    c.idle_check(timeout=0)
    c.idle_done()
    c.logout()


def _mix_wire(port: int) -> None:
    w = WireIMAP("127.0.0.1", port)
    w.login("load00001", 'pa ss"word\\')
    w.list("", "*")
    w.select("INBOX")
    w.select(FOLDER)
    assert w.uid_search(b"ALL") == list(range(1, null_imap.MESSAGES + 1))
    w.uid_search(b"UNSEEN")
    w.uid_fetch([3, 1, 7], ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"])
    body = w.uid_fetch([2], ["BODY.PEEK[]"])
    assert len(body) == 1 and null_imap.BODY in body[0] and body[0].endswith(b")")
    w.uid_store([4, 5], b"+FLAGS", [b"\\Seen"])
    w.uid_store([6], b"-FLAGS", [b"$Label1"])
    assert b"[APPENDUID 1 21]" in w.append("INBOX", MESSAGE, (b"\\Seen",))
    w.uid_store([21], b"+FLAGS", [b"\\Deleted"])
    w.uid_expunge([21])
    w.idle(0)
    w.logout()


def test_every_command_of_the_mix_goes_out_as_imapclient_sends_it(recording):
    port, record = recording
    _mix_imapclient(port)
    theirs = _untagged(record)
    record.clear()
    _mix_wire(port)
    ours = _untagged(record)
    # imapclient asks for CAPABILITY first where the greeting carried it already; nothing else differs.
    assert [c for c in theirs if c != b"CAPABILITY\r\n"] == ours
    assert any(MESSAGE in c for c in ours) and b"IDLE\r\n" in ours and b"DONE\r\n" in ours


def test_names_are_encoded_and_quoted():
    assert mailbox("INBOX") == b'"INBOX"'
    assert mailbox(FOLDER) == b'"Caf&AOk- &- \\"friends\\""'
    assert astring("load00001") == b"load00001" and astring("a b") == b'"a b"'


def _scripted(answers):
    """A responder that answers each command line with the next bytes of `answers` (after a
    greeting); an answer ending in CLOSE closes the connection after it."""
    async def handler(reader, writer):
        writer.write(b"* OK ready\r\n")
        for answer in answers:
            line = await reader.readline()
            if not line:
                break
            tag = line.split(b" ", 1)[0]
            writer.write(answer.replace(b"TAG", tag).removesuffix(b"CLOSE"))
            await writer.drain()
            if answer.endswith(b"CLOSE"):
                break
        writer.close()
    return Responder(handler)


def test_literals_in_answers_are_read_whole_whatever_they_hold():
    # A literal holding CRLF, a line that looks tagged and a '}' at a line end, cut in small pieces.
    tricky = b"a\r\nW1 OK fake\r\n{3}\r\n" + b"y" * 5000
    answer = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n%s FLAGS ())\r\n* 2 FETCH (UID 2)\r\nTAG OK done\r\n" % (len(tricky), tricky)
    responder = _scripted([answer])
    try:
        w = WireIMAP("127.0.0.1", responder.port)
        responses = w.uid_fetch([1, 2], ["BODY.PEEK[]"])
        assert len(responses) == 2 and tricky in responses[0] and responses[1] == b"* 2 FETCH (UID 2)"
    finally:
        responder.close()


def test_no_and_bad_raise_and_the_session_goes_on():
    responder = _scripted([b"TAG NO [TRYCREATE] no such mailbox\r\n", b"TAG BAD what\r\n", b"TAG OK\r\n"])
    try:
        w = WireIMAP("127.0.0.1", responder.port)
        with pytest.raises(IMAPNo, match="NO .TRYCREATE"):
            w.append("Missing", b"x\r\n")  # refused before the literal
        with pytest.raises(IMAPNo, match="BAD"):
            w.select("INBOX")
        w.select("INBOX")
    finally:
        responder.close()


def test_a_connection_closed_mid_command_is_a_wire_error():
    responder = _scripted([b"* 3 EXISTS\r\nCLOSE"])
    try:
        w = WireIMAP("127.0.0.1", responder.port)
        with pytest.raises(IMAPWireError, match="closed"):
            w.select("INBOX")
    finally:
        responder.close()


def test_an_answer_for_another_tag_is_a_wire_error():
    responder = _scripted([b"X99 OK not yours\r\n"])
    try:
        w = WireIMAP("127.0.0.1", responder.port)
        with pytest.raises(IMAPWireError, match="another command"):
            w.select("INBOX")
    finally:
        responder.close()


def test_a_port_that_is_not_imap_is_a_wire_error():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def greet():
        conn, _ = srv.accept()
        conn.sendall(b"220 smtp.example ESMTP\r\n")
        conn.close()
    threading.Thread(target=greet, daemon=True).start()
    with pytest.raises(IMAPWireError, match="greeting"):
        WireIMAP("127.0.0.1", srv.getsockname()[1])
    srv.close()


def test_a_session_closed_with_an_answer_unread_ends_with_a_plain_disconnect():
    """A session killed while waiting for APPEND's "+" is closed with the "+" unread: without
    reading it first the socket sends a reset, which Dovecot logs as an error."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    seen = []

    def serve():
        conn, _ = srv.accept()
        conn.sendall(b"* OK ready\r\n")
        conn.recv(1000)
        conn.sendall(b"+ go ahead\r\n")
        try:
            seen.append(conn.recv(1000))
        except ConnectionResetError as exc:
            seen.append(exc)
        conn.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    w = WireIMAP("127.0.0.1", srv.getsockname()[1])
    w._send(b"W1 APPEND \"INBOX\" {5}\r\n")
    time.sleep(0.2)  # the "+" is in the client's receive buffer, unread
    w.close()
    thread.join(5)
    srv.close()
    assert seen == [b""]


def _raw_server(greeting: bytes, serve):
    """A one-connection server in a thread: after `greeting`, serve(conn, received) answers;
    every byte the client sent is kept in `received`."""
    srv = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def run():
        conn, _ = srv.accept()
        conn.sendall(greeting)
        serve(conn, received)
        time.sleep(0.2)
        conn.close()
    threading.Thread(target=run, daemon=True).start()
    return srv


def _until(conn, received: bytearray, ending: bytes) -> None:
    while not received.endswith(ending):
        chunk = conn.recv(65536)
        if not chunk:
            return
        received.extend(chunk)


def test_append_goes_in_one_write_with_literal_plus_where_the_server_offers_it():
    # The server never sends "+": a client waiting for it times out.
    def serve(conn, received):
        _until(conn, received, MESSAGE + b"\r\n")
        conn.sendall(b"W1 OK [APPENDUID 9 5] done\r\n")
    srv = _raw_server(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] ready\r\n", serve)
    w = WireIMAP("127.0.0.1", srv.getsockname()[1], timeout=3)
    assert w.append("INBOX", MESSAGE, (b"\\Seen",), non_sync=True) == b"[APPENDUID 9 5] done"
    w.close()
    srv.close()


def test_append_waits_for_the_continuation_where_literal_plus_is_not_offered():
    def serve(conn, received):
        _until(conn, received, b"}\r\n")
        head = bytes(received)
        conn.sendall(b"+ go\r\n")
        _until(conn, received, MESSAGE + b"\r\n")
        assert received == head + MESSAGE + b"\r\n"  # nothing of the message before the "+"
        conn.sendall(b"W1 OK done\r\n")
    srv = _raw_server(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n", serve)
    w = WireIMAP("127.0.0.1", srv.getsockname()[1], timeout=3)
    assert w.append("INBOX", MESSAGE, (b"\\Seen",), non_sync=True) == b"done"
    w.close()
    srv.close()


def test_pipelined_commands_go_out_before_any_answer_and_are_answered_in_order():
    # The server answers only once both commands are in: a client waiting between them times out.
    def serve(conn, received):
        _until(conn, received, b"UID EXPUNGE 5\r\n")
        conn.sendall(b"* 3 FETCH (FLAGS (\\Deleted))\r\nW1 OK stored\r\n* 3 EXPUNGE\r\nW2 NO not now\r\n")
    srv = _raw_server(b"* OK ready\r\n", serve)
    w = WireIMAP("127.0.0.1", srv.getsockname()[1], timeout=3)
    store, expunge = w.send([b"UID STORE 5 +FLAGS (\\Deleted)", b"UID EXPUNGE 5"])
    assert w.answer(store) == ([b"* 3 FETCH (FLAGS (\\Deleted))"], b"stored")
    with pytest.raises(IMAPNo, match="NO not now"):
        w.answer(expunge)
    w.close()
    srv.close()
