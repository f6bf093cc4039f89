"""The delivery scenario's LMTP pipelining (the next envelope behind the message's final dot),
seen from the far side: real Locust processes deliver to a recording LMTP sink that reads the byte
stream as a server would. Every message the sink took is in the ledger as acknowledged (nothing
lost or doubled by sending ahead), envelopes really go out behind the dot, and every session ends
with QUIT, never inside a DATA (a stop with an envelope sent ahead delivers that message first)."""

import re
import socket
import threading
from collections import Counter
from pathlib import Path

import pytest

from imapwright.load.config import LoadConfig
from imapwright.load.ledger import compare, read_ledgers
from imapwright.load.runner import LoadParams, run_locust

USERS = ["ann", "bob", "carl", "dora"]
MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)\r$", re.M)


class RecordingSink:
    """An LMTP server that accepts everything and keeps what each session did."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sessions: list[dict] = []
        self.stored: dict[tuple[str, str], Counter] = {}
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._session, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _session(self, conn):
        record = {"messages": 0, "ahead": 0, "quit": False, "ended_in_data": False}
        buf, in_data, recipient = b"", False, ""
        with conn:
            conn.sendall(b"220 sink LMTP\r\n")
            while not record["quit"]:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
                out, ended_here = [], False
                while True:
                    if in_data:
                        end = buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        message, buf, in_data, ended_here = buf[:end + 2], buf[end + 5:], False, True
                        mid = MESSAGE_ID.search(message)
                        with self.lock:
                            self.stored.setdefault((recipient, "INBOX"), Counter())[
                                mid.group(1).decode() if mid else "?"] += 1
                        record["messages"] += 1
                        out.append(b"250 2.1.5 stored\r\n")
                        continue
                    end = buf.find(b"\r\n")
                    if end < 0:
                        break
                    line, buf = buf[:end].decode(), buf[end + 2:]
                    verb = line[:4].upper()
                    if verb == "MAIL" and ended_here:  # came in the same read as the message's dot
                        record["ahead"] += 1
                    if verb == "LHLO":
                        out.append(b"250-sink\r\n250 PIPELINING\r\n")
                    elif verb == "RCPT":
                        recipient = line.split("<", 1)[1].split(">", 1)[0]
                        out.append(b"250 2.1.5 ok\r\n")
                    elif verb == "DATA":
                        in_data = True
                        out.append(b"354 go ahead\r\n")
                    elif verb == "QUIT":
                        record["quit"] = True
                        out.append(b"221 bye\r\n")
                    else:
                        out.append(b"250 ok\r\n")
                if out:
                    conn.sendall(b"".join(out))
            record["ended_in_data"] = in_data
        with self.lock:
            self.sessions.append(record)

    def close(self):
        self.listener.close()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture
def sink():
    sink = RecordingSink()
    yield sink
    sink.close()


def _deliver(sink: RecordingSink, tmp_path: Path, pipeline: str) -> None:
    (tmp_path / "ledger").mkdir()
    config = LoadConfig(lmtp=("127.0.0.1", sink.port), users=USERS, ledger=str(tmp_path / "ledger"),
                        options={"size": "2000", "lmtp_pipeline": pipeline})
    assert run_locust(config, LoadParams("delivery", users=4, spawn_rate=16, duration=3, stop_timeout=5), tmp_path) == 0
    sink.close()


def _check_every_message_accounted(sink: RecordingSink, tmp_path: Path) -> None:
    expected = read_ledgers(tmp_path / "ledger")
    check = compare(expected, sink.stored)
    assert check.passed and check.accounted, check.as_dict()
    assert expected.acknowledged == sum(s["messages"] for s in sink.sessions) > 100


def test_pipelined_deliveries_send_the_next_envelope_behind_the_dot_and_end_with_quit(sink, tmp_path):
    _deliver(sink, tmp_path, "1")
    _check_every_message_accounted(sink, tmp_path)
    assert len(sink.sessions) == 4, sink.sessions
    assert sum(s["ahead"] for s in sink.sessions) > sum(s["messages"] for s in sink.sessions) / 2, sink.sessions
    assert all(s["quit"] and not s["ended_in_data"] for s in sink.sessions), sink.sessions


def test_lmtp_pipeline_0_sends_each_envelope_after_the_answer(sink, tmp_path):
    _deliver(sink, tmp_path, "0")
    _check_every_message_accounted(sink, tmp_path)
    assert sum(s["ahead"] for s in sink.sessions) == 0, sink.sessions
    assert all(s["quit"] for s in sink.sessions), sink.sessions
