"""The IMAP loop (load/imap_loop.py: every load session of a process on one epoll, a generator of
steps each) against a recording responder and a scripted one, run under gevent as Locust runs it:
it sends exactly what imapclient sends for each command of the mix (literals both ways, IDLE),
one request event per command; NO keeps the session; a connection broken mid-answer or a command
never answered (the deadline) drops it and the session's steps learn so; a spent budget ends it."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from imapwright.load import null_imap
from imapwright.servers.tls import RunCA

from .scripted_imap import BROKEN_SESSIONS
from .test_imap_wire import FOLDER, MESSAGE, _mix_imapclient, _untagged, recording  # noqa: F401 (a fixture)

DRIVER = r'''
from gevent import monkey; monkey.patch_all()
import json, sys
from imapwright.load import budget, imap_loop
from imapwright.protocol import imap_wire as w

fired, contexts = [], set()
def fire(**kw):
    fired.append([kw["name"], str(kw["exception"]) if kw["exception"] else None])
    contexts.add(json.dumps(kw["context"], default=lambda o: type(o).__name__))

MESSAGE, FOLDER = json.loads(sys.argv[3]).encode("latin-1"), json.loads(sys.argv[4])
C = imap_loop.Command
out = {}

SCRIPT

tls, context = (sys.argv[5:6] or [""])[0], None
if tls:
    import ssl
    context = ssl.create_default_context(cafile=sys.argv[6])
loop = imap_loop.Loop(fire)
session = loop.start(steps(), "127.0.0.1", int(sys.argv[1]), "load00001", timeout=float(sys.argv[2]),
                     tls=tls, context=context)
session.done.wait(60)
out["ended"], out["by_budget"], out["events"] = session.ended, session.stopped_by_budget, fired
out["contexts"] = sorted(contexts)  # the request events' context: the session's user
print(json.dumps(out))
'''

MIX = '''
def steps():
    assert (yield imap_loop.CONNECT).ok
    assert (yield C("LOGIN", w.login_text("load00001", 'pa ss"word\\\\'))).ok
    yield C("LIST", w.list_text("", "*"))
    yield C("SELECT", w.select_text("INBOX"))
    yield C("SELECT", w.select_text(FOLDER))
    out["all"] = w.search_hits((yield C("SEARCH", w.search_text(b"ALL"))).untagged)
    yield C("SEARCH", w.search_text(b"UNSEEN"))
    yield C("FETCH", w.fetch_text([3, 1, 7], ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]))
    out["body"] = (yield C("FETCH BODY", w.fetch_text([2], ["BODY.PEEK[]"]))).untagged[0].decode("latin-1")
    yield C("STORE", w.store_text([4, 5], b"+FLAGS", [b"\\\\Seen"]))
    yield C("STORE", w.store_text([6], b"-FLAGS", [b"$Label1"]))
    out["uid"] = imap_loop.appended_uid((yield C("APPEND", w.append_text("INBOX", (b"\\\\Seen",)), MESSAGE)))
    yield C("STORE", w.store_text([21], b"+FLAGS", [b"\\\\Deleted"]))
    yield C("EXPUNGE", w.expunge_text([21]))
    out["idle"] = (yield imap_loop.Idle(0)).ok
    out["logout"] = (yield C("LOGOUT", b"LOGOUT")).ok
    yield imap_loop.HANGUP
'''


def _drive(port: int, script: str, timeout: float = 5, tls: tuple[str, str] = ()) -> dict:
    code = DRIVER.replace("SCRIPT", script)
    res = subprocess.run([sys.executable, "-c", code, str(port), str(timeout), json.dumps(MESSAGE.decode("latin-1")),
                          json.dumps(FOLDER), *tls], capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


def test_every_command_of_the_mix_goes_out_from_the_loop_as_imapclient_sends_it(recording):
    port, record = recording
    _mix_imapclient(port)
    theirs = [c for c in _untagged(record) if c != b"CAPABILITY\r\n"]
    record.clear()
    out = _drive(port, MIX)
    assert _untagged(record) == theirs
    assert out["all"] == list(range(1, null_imap.MESSAGES + 1)) and null_imap.BODY.decode("latin-1") in out["body"]
    assert out["uid"] == 21 and out["idle"] and out["logout"] and out["ended"]
    names = [name for name, _ in out["events"]]
    assert names == ["CONNECT", "LOGIN", "LIST", "SELECT", "SELECT", "SEARCH", "SEARCH", "FETCH", "FETCH BODY",
                     "STORE", "STORE", "APPEND", "STORE", "EXPUNGE", "IDLE", "LOGOUT"]
    assert all(why is None for _, why in out["events"]), out["events"]
    assert out["contexts"] == ['{"user": "load00001"}']


BROKEN = '''
def steps():
    yield imap_loop.CONNECT
    out["login"] = (yield C("LOGIN", w.login_text("ann", "secret"))).ok
    no = yield C("SELECT", w.select_text("Missing"))
    out["select_no"] = [no.ok, no.lost]
    out["select"] = [u.decode() for u in (yield C("SELECT", w.select_text("INBOX"))).untagged]
    refused = yield C("APPEND", w.append_text("Missing"), b"x\\r\\n")
    out["append_refused"] = [refused.ok, refused.lost]
    out["append"] = imap_loop.appended_uid((yield C("APPEND", w.append_text("INBOX"), b"Subject: y\\r\\n\\r\\nbody\\r\\n")))
    broken = yield C("FETCH", w.fetch_text([1], ["BODY.PEEK[]"]))
    out["fetch_broken"] = [broken.ok, broken.lost]
    out["reconnect"] = (yield imap_loop.CONNECT).ok and (yield C("LOGIN", w.login_text("ann", "secret"))).ok
    silent = yield C("SEARCH", w.search_text(b"ALL"))
    out["search_unanswered"] = [silent.ok, silent.lost]
    out["after"] = [(yield C("NOOP", b"NOOP")).lost]  # on a dropped session: refused at once
'''


def test_the_loop_keeps_sessions_on_no_and_drops_broken_or_silent_ones(tmp_path):
    script = (tmp_path / "drive.py")
    script.write_text(BROKEN_SESSIONS + DRIVER.replace("SCRIPT", BROKEN).replace("int(sys.argv[1])", "PORT")
                      .replace("from gevent import monkey; monkey.patch_all()\n", ""))
    code = "from gevent import monkey; monkey.patch_all()\n" + script.read_text()
    res = subprocess.run([sys.executable, "-c", code, "0", "1", json.dumps(""), json.dumps("")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["login"] and out["select_no"] == [False, False] and out["select"] == ["* 2 EXISTS"]
    assert out["append_refused"] == [False, False] and out["append"] == 42
    assert out["fetch_broken"] == [False, True] and out["reconnect"]
    assert out["search_unanswered"] == [False, True] and out["after"] == [True]
    names = [name for name, _ in out["events"]]
    assert names == ["CONNECT", "LOGIN", "SELECT", "SELECT", "APPEND", "APPEND", "FETCH", "CONNECT", "LOGIN",
                     "SEARCH", "NOOP"]
    failures = {i: why for i, (_, why) in enumerate(out["events"]) if why}
    assert set(failures) == {2, 4, 6, 9, 10}, failures
    assert "NO no such mailbox" in failures[2] and "TRYCREATE" in failures[4]
    assert "closed" in failures[6] and failures[9] == "SEARCH: no answer within 1 s"
    assert out["ended"] and not out["by_budget"]


BUDGET = '''
budget.set_limit(4)
def steps():
    yield imap_loop.CONNECT
    yield C("LOGIN", w.login_text("ann", "x"))
    while True:
        yield C("SELECT", w.select_text("INBOX"))
'''


def test_a_spent_budget_ends_the_session_before_the_next_command(recording):
    port, _ = recording
    out = _drive(port, BUDGET)
    assert [name for name, _ in out["events"]] == ["CONNECT", "LOGIN", "SELECT", "SELECT"]
    assert out["ended"] and out["by_budget"]


HANGUP_SERVER = r'''
import socket, threading
listener = socket.create_server(("127.0.0.1", 0))
PORT = listener.getsockname()[1]

def serve():  # LOGIN ok, then the server hangs up while the session thinks
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    conn.sendall(b"* OK ready\r\n")
    conn.sendall(f.readline().split(b" ")[0] + b" OK logged in\r\n")
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()
threading.Thread(target=serve, daemon=True).start()
'''

THINKS = '''
def steps():
    yield imap_loop.CONNECT
    yield C("LOGIN", w.login_text("ann", "x"))
    yield imap_loop.Think(0.3)
    after = yield C("SELECT", w.select_text("INBOX"))
    out["after"] = [after.ok, after.lost]
'''


def test_a_server_that_hangs_up_between_commands_fails_the_next_command_only():
    code = ("from gevent import monkey; monkey.patch_all()\n" + HANGUP_SERVER
            + DRIVER.replace("SCRIPT", THINKS).replace("int(sys.argv[1])", "PORT")
            .replace("from gevent import monkey; monkey.patch_all()\n", ""))
    res = subprocess.run([sys.executable, "-c", code, "0", "5", json.dumps(""), json.dumps("")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["after"] == [False, True]
    assert out["events"] == [["CONNECT", None], ["LOGIN", None], ["SELECT", "SELECT: connection closed by the server (between commands)"]]


TWO_SESSIONS = r'''
from gevent import monkey; monkey.patch_all()
import json, sys
from imapwright.load import imap_loop
from imapwright.protocol import imap_wire as w

fired = []
loop = imap_loop.Loop(lambda **kw: fired.append(kw["name"]))
C = imap_loop.Command

def failing():  # never connects: every command fails at once
    while True:
        yield C("NOOP", b"NOOP")

def working():
    yield imap_loop.CONNECT
    yield C("LOGIN", w.login_text("ann", "x"))
    yield C("SELECT", w.select_text("INBOX"))

a = loop.start(failing(), "127.0.0.1", int(sys.argv[1]), "a")
b = loop.start(working(), "127.0.0.1", int(sys.argv[1]), "b")
b.done.wait(30)  # the failing session goes on meanwhile, turn by turn
out = {"names": [n for n in fired if n != "NOOP"], "noops": fired.count("NOOP"), "failing_ended": a.ended}
loop.abort(a)
print(json.dumps(out))
'''


def test_a_session_failing_at_once_in_a_row_leaves_the_others_their_turn(recording):
    port, _ = recording
    res = subprocess.run([sys.executable, "-c", TWO_SESSIONS, str(port)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["names"] == ["CONNECT", "LOGIN", "SELECT"], out  # the working session got its turns
    assert out["noops"] > 0 and not out["failing_ended"], out  # while the other failed on and on


@pytest.fixture
def certificate(tmp_path):
    """A CA's file and a server context with a certificate for 127.0.0.1 from it."""
    ca = RunCA()
    issued = ca.issue("127.0.0.1")
    (tmp_path / "cert.pem").write_text(issued.cert_pem)
    (tmp_path / "key.pem").write_text(issued.key_pem)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return str(ca.ca_file), server


def _tls_front(server_context: ssl.SSLContext, backend_port: int) -> int:
    """IMAPS in front of a plain responder: TLS ends here, the bytes go on as they are."""
    listener = socket.create_server(("127.0.0.1", 0))

    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            if isinstance(dst, ssl.SSLSocket):  # the backend hung up (after LOGOUT): close_notify, as Dovecot sends
                dst.unwrap()
        except (OSError, ValueError):
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            conn, _ = listener.accept()
            try:
                front = server_context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                continue
            back = socket.create_connection(("127.0.0.1", backend_port))
            threading.Thread(target=pump, args=(front, back), daemon=True).start()
            threading.Thread(target=pump, args=(back, front), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_imaps_sessions_send_the_same_commands_over_tls(recording, certificate, tmp_path):
    port, record = recording
    ca_file, server_context = certificate
    _mix_imapclient(port)
    theirs = [c for c in _untagged(record) if c != b"CAPABILITY\r\n"]
    record.clear()
    out = _drive(_tls_front(server_context, port), MIX, tls=("imaps", ca_file))
    assert _untagged(record) == theirs  # the responder saw, behind TLS, what imapclient sends
    assert out["uid"] == 21 and out["logout"] and all(why is None for _, why in out["events"]), out["events"]
    assert out["contexts"] == ['{"user": "load00001"}']  # not the session's TLS context


def test_imaps_with_a_certificate_nobody_trusts_fails_connect(recording, certificate, tmp_path):
    port, _ = recording
    _, server_context = certificate
    other_ca = RunCA()  # the session trusts this one only
    out = _drive(_tls_front(server_context, port), "def steps():\n    out['connect'] = (yield imap_loop.CONNECT).lost\n",
                 tls=("imaps", str(other_ca.ca_file)))
    assert out["connect"] is True
    [(name, why)] = out["events"]
    assert name == "CONNECT" and "TLS" in why and "certificate verify failed" in why


def _drive_tls_server(server: str, script: str, tls: str, ca_file: str, tmp_path) -> tuple[dict, str]:
    """`script` through the loop against `server`, a scripted TLS server run in the same process
    (it listens on PORT, with the certificate fixture's cert.pem and key.pem)."""
    code = ("from gevent import monkey; monkey.patch_all()\n" + server
            + DRIVER.replace("SCRIPT", script).replace("int(sys.argv[1])", "PORT")
            .replace("from gevent import monkey; monkey.patch_all()\n", ""))
    res = subprocess.run([sys.executable, "-c", code, "0", "5", json.dumps(""), json.dumps(""), tls, ca_file,
                          str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout), res.stderr


STARTTLS_SERVER = r'''
import socket, ssl, sys, threading
listener = socket.create_server(("127.0.0.1", 0))
PORT = listener.getsockname()[1]
server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_context.load_cert_chain(sys.argv[7], sys.argv[8])
seen = []

def serve():  # STARTTLS (RFC 3501 6.2.1), then LOGIN and LOGOUT over TLS
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
    line = f.readline()
    seen.append(line.split(b" ", 1)[1].decode())
    conn.sendall(line.split(b" ")[0] + b" OK begin TLS\r\n")
    tls = server_context.wrap_socket(conn, server_side=True)
    f = tls.makefile("rb")
    for answer in (b" OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] in\r\n", b" OK bye\r\n"):
        line = f.readline()
        seen.append(line.split(b" ", 1)[1].split(b" ")[0].decode())
        tls.sendall(line.split(b" ")[0] + answer)
threading.Thread(target=serve, daemon=True).start()
'''

STARTTLS_STEPS = '''
def steps():
    out["connect"] = (yield imap_loop.CONNECT).ok
    out["login"] = (yield C("LOGIN", w.login_text("ann", "x"))).ok
    out["logout"] = (yield C("LOGOUT", b"LOGOUT")).ok
    yield imap_loop.HANGUP
    out["seen"] = seen
'''


def test_starttls_sessions_upgrade_within_connect(certificate, tmp_path):
    out, stderr = _drive_tls_server(STARTTLS_SERVER, STARTTLS_STEPS, "starttls", certificate[0], tmp_path)
    assert out["connect"] and out["login"] and out["logout"], (out, stderr[-2000:])
    assert out["seen"] == ["STARTTLS\r\n", "LOGIN", "LOGOUT\r\n"]  # LOGIN only after the upgrade
    assert [name for name, _ in out["events"]] == ["CONNECT", "LOGIN", "LOGOUT"]


CLOSE_NOTIFY_SERVER = r'''
import socket, ssl, sys, threading, time
listener = socket.create_server(("127.0.0.1", 0))
PORT = listener.getsockname()[1]
server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_context.load_cert_chain(sys.argv[7], sys.argv[8])

def serve():  # IMAPS: LOGIN ok, then TLS ends (close_notify) instead of SELECT's answer; TCP stays open
    conn, _ = listener.accept()
    tls = server_context.wrap_socket(conn, server_side=True)
    f = tls.makefile("rb")
    tls.sendall(b"* OK ready\r\n")
    tls.sendall(f.readline().split(b" ")[0] + b" OK in\r\n")
    f.readline()
    tls.unwrap()
    time.sleep(30)
threading.Thread(target=serve, daemon=True).start()
'''

CLOSE_NOTIFY_STEPS = '''
def steps():
    yield imap_loop.CONNECT
    yield C("LOGIN", w.login_text("ann", "x"))
    ended = yield C("SELECT", w.select_text("INBOX"))
    out["select"] = [ended.ok, ended.lost]
'''


def test_a_tls_close_from_the_server_drops_the_session(certificate, tmp_path):
    """close_notify (Dovecot sends it when it ends a session) is the end of the connection: the
    command under way fails, as for a TCP close (a first version read it as empty data, forever)."""
    out, _ = _drive_tls_server(CLOSE_NOTIFY_SERVER, CLOSE_NOTIFY_STEPS, "imaps", certificate[0], tmp_path)
    assert out["select"] == [False, True]
    assert out["events"][-1] == ["SELECT", "SELECT: connection closed by the server (TLS close)"]
