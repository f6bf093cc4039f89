"""The load sessions' IMAP client (load/imap.py on protocol/imap_wire.py) under gevent, as Locust
runs it, against scripted responders: one request event per command; NO keeps the session; a
broken connection or a command that never gets its answer (the watchdog) drops it; APPEND's
outcome goes to the ledger as added, refused or unknown."""

from __future__ import annotations

import json
import subprocess
import sys

from .scripted_imap import BROKEN_SESSIONS

# Locust's environment as the client sees it: each request event recorded as (name, failure).
EVENTS = '''class Events:
    fired = []
    class request:
        @staticmethod
        def fire(**kw): Events.fired.append((kw["name"], str(kw["exception"]) if kw["exception"] else None))
class Env: events = Events'''

SCRIPT = r'''
from gevent import monkey; monkey.patch_all()
import json, socket, sys, threading, time
from imapwright.load import imap, watchdog
from imapwright.load.ledger import LedgerWriter

watchdog.WATCH_SECONDS = 0.1
BROKEN_SESSIONS

EVENTS

client = imap.IMAPLoadClient("127.0.0.1", PORT, Env, LedgerWriter(sys.argv[1]), timeout=1)
out = {}
out["login"] = client.login("ann", "secret")
out["select_no"] = client.select("Missing") is None and client.connected
out["select"] = [r.decode() for r in client.select("INBOX")]
out["append_refused"] = client.append("Missing", b"x\r\n", "<m1@x>")
out["append"] = client.append("INBOX", b"Subject: y\r\n\r\nbody\r\n", "<m2@x>")
out["fetch_broken"] = client.fetch([1], ["BODY.PEEK[]"])
out["connected_after_break"] = client.connected
out["relogin"] = client.login("ann", "secret")
start = time.monotonic()
out["search_unanswered"] = client.search(b"ALL")
out["search_seconds"] = round(time.monotonic() - start, 1)
out["connected_after_timeout"] = client.connected
out["events"] = Events.fired
print(json.dumps(out))
'''.replace("EVENTS", EVENTS).replace("BROKEN_SESSIONS\n", BROKEN_SESSIONS)


def test_the_load_client_keeps_sessions_on_no_and_drops_broken_or_silent_ones(tmp_path):
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["login"] and out["select_no"] and out["select"] == ["* 2 EXISTS"]
    assert out["append_refused"] is None and out["append"] == 42
    assert out["fetch_broken"] == [] and not out["connected_after_break"]
    assert out["relogin"] and out["search_unanswered"] == [] and not out["connected_after_timeout"]
    assert 0.9 <= out["search_seconds"] < 3
    names = [name for name, _ in out["events"]]
    assert names == ["CONNECT", "LOGIN", "SELECT", "SELECT", "APPEND", "APPEND", "FETCH",
                     "CONNECT", "LOGIN", "SEARCH"]
    failures = {i: why for i, (_, why) in enumerate(out["events"]) if why}
    assert set(failures) == {2, 4, 6, 9}, failures
    assert "NO no such mailbox" in failures[2] and "TRYCREATE" in failures[4]
    assert "closed" in failures[6] and failures[9] == "SEARCH: no answer within 1 s"
    [ledger] = tmp_path.glob("ledger-*.tsv")
    assert [line.split("\t")[0] + " " + line.split("\t")[3] for line in ledger.read_text().splitlines()] == \
        ["sent <m1@x>", "refused <m1@x>", "sent <m2@x>", "add <m2@x>"]


PIPELINED = r'''
from gevent import monkey; monkey.patch_all()
import json, socket, sys, threading
from imapwright.load import imap
from imapwright.load.ledger import LedgerWriter

listener = socket.create_server(("127.0.0.1", 0))
seen = []

def serve():
    # LOGIN ok; APPEND with LITERAL+ (never a "+"); STORE+EXPUNGE: both ok, the message expunged;
    # STORE+EXPUNGE: STORE refused, EXPUNGE ok; STORE+EXPUNGE: both ok, nothing expunged (no
    # untagged EXPUNGE: the message stays); STORE+EXPUNGE: STORE ok, then the connection breaks.
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] ready\r\n")
    conn.sendall(f.readline().split(b" ")[0] + b" OK logged in\r\n")
    line = f.readline()
    seen.append(line.split(b" ", 1)[1].decode())
    f.read(int(line.rsplit(b"{", 1)[1][:-4]) + 2)
    conn.sendall(line.split(b" ")[0] + b" OK [APPENDUID 7 42] done\r\n")
    for answers in ([b"* 3 FETCH (UID 5 FLAGS (\\Deleted))\r\n+OK stored", b"* 3 EXPUNGE\r\n+OK expunged"],
                    [b"NO read-only", b"OK expunged"],
                    [b"OK stored", b"OK expunged"], [b"OK stored", None]):
        lines = [f.readline(), f.readline()]  # both read before any answer: they came together
        seen.extend(l.split(b" ", 1)[1].decode() for l in lines)
        for l, a in zip(lines, answers):
            if a is None:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
                return
            untagged, _, a = a.rpartition(b"+")  # "untagged lines+status" or the status alone
            conn.sendall(untagged + l.split(b" ")[0] + b" " + a + b"\r\n")
threading.Thread(target=serve, daemon=True).start()

EVENTS

client = imap.IMAPLoadClient("127.0.0.1", listener.getsockname()[1], Env, LedgerWriter(sys.argv[1]), timeout=2,
                             pipeline=True)
out = {"login": client.login("ann", "secret")}
client.selected = "INBOX"
out["append"] = client.append("INBOX", b"Subject: y\r\n\r\nbody\r\n", "<m1@x>")
out["expunged"] = [client.expunge_uid(uid, f"<e{uid}@x>") for uid in (5, 6, 7, 8)]
out["connected"] = client.connected
out["seen"], out["events"] = seen, Events.fired
print(json.dumps(out))
'''.replace("EVENTS", EVENTS)


def test_pipelined_sessions_append_without_waiting_and_send_store_with_its_expunge(tmp_path):
    res = subprocess.run([sys.executable, "-c", PIPELINED, str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["login"] and out["append"] == 42
    assert out["seen"][0] == 'APPEND "INBOX" () {20+}\r\n'
    assert out["seen"][1:3] == ["UID STORE 5 +FLAGS (\\Deleted)\r\n", "UID EXPUNGE 5\r\n"]
    assert out["expunged"] == [True, False, True, False] and not out["connected"]
    events = out["events"]
    assert [name for name, _ in events] == ["CONNECT", "LOGIN", "APPEND"] + ["STORE", "EXPUNGE"] * 4
    assert [i for i, (_, why) in enumerate(events) if why] == [5, 10]
    assert "NO read-only" in events[5][1] and "closed" in events[10][1]
    [ledger] = tmp_path.glob("ledger-*.tsv")
    assert [line.split("\t")[0] + " " + line.split("\t")[3] for line in ledger.read_text().splitlines()] == \
        ["sent <m1@x>", "add <m1@x>", "removing <e5@x>", "remove <e5@x>", "removing <e6@x>", "removing <e7@x>",
         "kept <e7@x>", "removing <e8@x>"]
