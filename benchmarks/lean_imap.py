"""The lean reference for the IMAP side of the generator ceiling: a minimal IMAP client written for
the benchmark only (non-blocking raw sockets under one `selectors` loop, no Locust, no gevent,
responses scanned for their tagged line and nothing parsed that the next command does not need),
driving the mixed scenario's sessions exactly as load/users.py MixedSession does: states picked
by imaptest's default weights, SEARCH ALL before a FETCH or STORE, APPEND with a synchronising
literal, UID EXPUNGE only of what the session appended, LOGOUT then a new connection and LOGIN.
A connection counts as a request, as the Locust client's CONNECT event does.

It shows what Python can do on this machine; benchmarks/generator_ceiling.py runs it in the same
rounds as the harness against the same null responder.

With --under-locust the same sessions run as a Locust process would have to run them to come
near: one gevent greenlet woken by the hub for every batch of answers (a gevent watcher on a real
epoll of every session's socket), one Locust request event per command into Locust's own
statistics. What it costs over the plain loop is what Locust's event and gevent's hub cost at the
least; the harness's sessions (a greenlet each, waiting per answer) cost the rest.

With --through-loop the same script runs through the harness's IMAP loop (load/imap_loop.py, no
Locust: a no-op request event): what the loop's own machinery costs over the plain loop.

    python3 benchmarks/lean_imap.py --port PORT [--sessions 8] [--seconds 8] [--size 2000] [--under-locust | --through-loop]

Prints one JSON line: requests, seconds and CPU seconds from the first request to the last.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import selectors
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from imapwright.load.mail import make_message  # noqa: E402
from imapwright.load.mixes import DEFAULT_MIX, parse_mix  # noqa: E402

_LITERAL = re.compile(rb"\{(\d+)\}$")
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


def script(user: bytes, rng: random.Random, states: list[str], weights: list[int], size: int):
    """One session's commands as a generator: yields (command, literal or None), receives
    (status, untagged lines); yields None to hang up and reconnect."""
    selected, appended = False, []

    def search_all():
        _status, lines = yield b"UID SEARCH ALL", None
        return [int(n) for line in lines if line.startswith(b"* SEARCH") for n in line[9:].split()]

    while True:
        yield b"LOGIN " + user + b' "x"', None
        selected = False
        while True:
            state = rng.choices(states, weights)[0]
            if not selected and state not in ("select", "logout") and (state != "expunge" or appended):
                selected = (yield b'SELECT "INBOX"', None)[0] == b"OK"
                if not selected:
                    continue
            if state == "list":
                yield b'LIST "" "*"', None
            elif state == "select":
                selected = (yield b'SELECT "INBOX"', None)[0] == b"OK"
            elif state in ("fetch", "fetch2", "store"):
                uids = yield from search_all()
                n = {"fetch": 10, "fetch2": 1, "store": 3}[state]
                pick = b",".join(b"%d" % u for u in rng.sample(uids, min(n, len(uids))))
                if not uids:
                    continue
                if state == "fetch":
                    yield b"UID FETCH " + pick + b" (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)", None
                elif state == "fetch2":
                    yield b"UID FETCH " + pick + b" (BODY.PEEK[])", None
                else:
                    flag = rng.choice([b"\\Seen", b"\\Flagged", b"$Label1"])
                    op = b"+FLAGS" if rng.random() < 0.7 else b"-FLAGS"
                    yield b"UID STORE " + pick + b" " + op + b" (" + flag + b")", None
            elif state == "search":
                yield b"UID SEARCH UNSEEN", None
            elif state == "append":
                status, lines = yield b'APPEND "INBOX" (\\Seen)', make_message(size, subject="appended")[1]
                m = _APPENDUID.search(lines[-1]) if status == b"OK" else None
                if m:
                    appended.append(int(m.group(1)))
            elif state == "expunge":
                if appended:
                    uid = b"%d" % appended.pop(rng.randrange(len(appended)))
                    if (yield b"UID STORE " + uid + b" +FLAGS (\\Deleted)", None)[0] == b"OK":
                        yield b"UID EXPUNGE " + uid, None
            elif state == "logout":
                yield b"LOGOUT", None
                appended.clear()
                yield None
                break


class Session:
    def __init__(self, loop: "Loop", n: int, args):
        self.loop, self.host, self.port = loop, "127.0.0.1", args.port
        self.script = script(b"gen%03d" % (n % 50), random.Random(n), *args.mix, args.size)
        self.sock: socket.socket | None = None
        self.tagn = 0
        self.connect()

    def connect(self) -> None:
        self.loop.count()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.connect((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf, self.tag, self.literal = b"", b"", None
        self.lines: list[bytes] = []
        self.loop.sel.register(self.sock, selectors.EVENT_READ, self)
        self.greeted = False

    def next(self, answer) -> None:
        item = self.script.send(answer) if answer is not None else next(self.script)
        if item is None:  # hang up, then a new connection
            self.loop.sel.unregister(self.sock)
            self.sock.close()
            self.connect()
            return
        command, self.literal = item
        self.loop.count()
        self.tagn += 1
        self.tag = b"L%d " % self.tagn
        if self.literal is None:
            self.sock.send(self.tag + command + b"\r\n")
        else:
            self.sock.send(self.tag + command + b" {%d}\r\n" % len(self.literal))

    def readable(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("lean_imap: the responder closed a connection")
        buf = self.buf + chunk
        pos = 0
        while True:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            m = _LITERAL.search(buf, pos, end) if buf[end - 1] == 125 else None
            if m is not None:  # the response goes on after a literal
                after = end + 2 + int(m.group(1))
                if len(buf) < after:
                    break
                self.lines.append(buf[pos:after])
                pos = after
                continue
            line, pos = buf[pos:end], end + 2
            if not self.greeted:
                self.greeted = True
                self.buf = buf[pos:]
                self.next(None)
                return
            if line.startswith(b"+"):
                if self.literal is not None:
                    self.sock.send(self.literal + b"\r\n")
                    self.literal = None
            elif line.startswith(self.tag):
                status = line[len(self.tag):].split(b" ", 1)[0]
                if status != b"OK":
                    raise SystemExit(f"lean_imap: refused: {line!r}")
                answer, self.lines = (status, self.lines + [line]), []
                self.buf = buf[pos:]
                self.next(answer)  # one command at a time: nothing more is due on this buffer
                return
            else:
                self.lines.append(line)
        self.buf = buf[pos:]


class Loop:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.requests = 0
        self.last = 0.0

    def count(self) -> None:
        self.requests += 1
        self.last = time.perf_counter()

    def run(self, until: float) -> None:
        while self.last < until:
            for key, _ in self.sel.select(1):
                key.data.readable()


class LocustLoop(Loop):
    """The loop inside gevent's hub, a Locust request event per command (see --under-locust)."""

    def __init__(self):
        super().__init__()
        from locust import User
        from locust.env import Environment
        environment = Environment(user_classes=[User])
        environment.create_local_runner()  # its statistics listen to the request event
        self.fire, self.started = environment.events.request.fire, time.perf_counter()

    def count(self) -> None:
        now = time.perf_counter()
        if self.requests:  # the previous command's answer came: its event (times are what they cost)
            self.fire(request_type="IMAP", name="lean", response_time=(now - self.started) * 1000,
                      response_length=0, exception=None, context={})
        self.requests += 1
        self.last = self.started = now

    def run(self, until: float) -> None:
        import gevent
        from gevent.hub import Waiter
        hub = gevent.get_hub()
        watcher = hub.loop.io(self.sel.fileno(), 1)  # DefaultSelector is epoll here: its own fd

        def loop():
            while self.last < until:
                waiter = Waiter()
                watcher.start(waiter.switch, None)
                try:
                    waiter.get()
                finally:
                    watcher.stop()
                for key, _ in self.sel.select(0):
                    key.data.readable()

        gevent.spawn(loop).join()


def through_loop(args, seconds: float) -> tuple[int, float]:
    """The sessions' script through load/imap_loop.py (under gevent, as in a Locust process):
    (commands, seconds from the first to the last)."""
    from gevent import monkey
    monkey.patch_all()
    from imapwright.load import imap_loop

    count, first, last = [0], [0.0], [0.0]

    def fire(**_kw) -> None:
        count[0] += 1
        last[0] = time.perf_counter()

    end = time.monotonic() + seconds

    def steps(n: int):
        lean = script(b"gen%03d" % (n % 50), random.Random(n), *args.mix, args.size)
        answer = None
        yield imap_loop.CONNECT
        while time.monotonic() < end:
            item = lean.send(answer) if answer is not None else next(lean)
            if item is None:  # hang up, then a new connection
                yield imap_loop.HANGUP
                yield imap_loop.CONNECT
                answer = None
                continue
            got = yield imap_loop.Command("lean", item[0], item[1])
            answer = (b"OK" if got.ok else b"NO", [*got.untagged, b"W OK " + got.text])

    loop = imap_loop.Loop(fire)
    first[0] = time.perf_counter()
    sessions = [loop.start(steps(n), "127.0.0.1", args.port, "lean") for n in range(args.sessions)]
    for session in sessions:
        session.done.wait()
    return count[0], last[0] - first[0]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--mix", default=DEFAULT_MIX)
    parser.add_argument("--under-locust", action="store_true",
                        help="driven from a gevent greenlet, a Locust request event per command")
    parser.add_argument("--through-loop", action="store_true",
                        help="the same sessions through the harness's IMAP loop (load/imap_loop.py), no Locust")
    args = parser.parse_args()
    mix = parse_mix(args.mix)
    mix.pop("idle", None)  # the benchmark's sessions do not IDLE (idle_seconds 0 on the Locust side)
    args.mix = ([s for s in mix if mix[s]], [mix[s] for s in mix if mix[s]])
    if args.through_loop:
        cpu0 = cpu()
        requests, seconds = through_loop(args, args.seconds)
        used = cpu() - cpu0
        print(json.dumps({"requests": requests, "seconds": round(seconds, 3), "cpu_seconds": round(used, 3),
                          "rate": requests / seconds, "cpu_per_1000": used / requests * 1000}))
        return 0
    loop = LocustLoop() if args.under_locust else Loop()
    cpu0, t0 = cpu(), time.perf_counter()
    sessions = [Session(loop, n, args) for n in range(args.sessions)]
    loop.run(t0 + args.seconds)
    cpu1, t1 = cpu(), loop.last
    for s in sessions:
        s.sock.close()
    print(json.dumps({"requests": loop.requests, "seconds": round(t1 - t0, 3), "cpu_seconds": round(cpu1 - cpu0, 3),
                      "rate": loop.requests / (t1 - t0), "cpu_per_1000": (cpu1 - cpu0) / loop.requests * 1000}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
