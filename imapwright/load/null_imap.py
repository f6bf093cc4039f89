"""A null IMAP responder for the generator benchmark: every command is answered OK at once, with
just enough data that an IMAP client parses what a real server would send (EXISTS and UIDVALIDITY
on SELECT, SEARCH hits, FETCH items, APPENDUID, a body literal for BODY[]), and no mail is kept.
The load generator's requests per second and CPU against it are the generator's alone
(benchmarks/generator_ceiling.py; tests/integration/test_generator_bound.py).

    python3 -m imapwright.load.null_imap --port 10143     # prints "ready HOST:PORT", serves until killed

`start(host, port, record=list)` keeps every command as it came in (tag, line, literals): the
recording responder of tests/test_imap_wire.py, which holds the load client's bytes to imapclient's.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

MESSAGES = 20  # what SELECT says the mailbox holds; UIDs 1..MESSAGES
BODY = b"Subject: null\r\n\r\n" + b"x" * 1982 + b"\r\n"  # a 2,000-byte message for BODY[]
CAPABILITY = b"IMAP4rev1 LITERAL+ IDLE UIDPLUS ID UNSELECT"
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r?\n$")


def _uids(spec: bytes) -> list[int]:
    out: list[int] = []
    for part in spec.split(b","):
        low, _, high = part.partition(b":")
        try:
            a = MESSAGES if low == b"*" else int(low)
            b = a if not high else (MESSAGES if high == b"*" else int(high))
        except ValueError:
            continue
        out.extend(range(min(a, b), min(max(a, b), MESSAGES) + 1))
    return out[:100]


def _fetch(args: bytes, by_uid: bool) -> bytes:
    spec, _, items = args.partition(b" ")
    lines = []
    for n in _uids(spec):
        if b"BODY" in items.upper():
            lines.append(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (n, n, len(BODY)) + BODY + b")\r\n")
        else:
            lines.append(b'* %d FETCH (UID %d FLAGS (\\Seen) INTERNALDATE "03-Dec-2026 01:00:00 +0000" '
                         b"RFC822.SIZE 2000)\r\n" % (n, n))
    return b"".join(lines)


class NullIMAP(asyncio.Protocol):
    """One connection. A protocol, not streams: the responder shares the benchmark's two cores
    with the generator, and asyncio's streams (a readline and a drain per command) cost it twice
    what the lean client spends per command (0.062 CPU ms), so it, not the clients, set the pace.
    `record`: a list that gets every command as it came in (tag, line, literals)."""

    def __init__(self, record: list | None = None):
        self.record = record
        self.buf = b""
        self.parts: list[bytes] = []  # the command being read, as it came in
        self.head = b""  # its text so far, literals written LITERAL
        self.literal = 0  # bytes of a literal still to come
        self.idle: bytes | None = None  # the tag of an IDLE waiting for DONE
        self.appended = MESSAGES

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"* OK [CAPABILITY " + CAPABILITY + b"] null responder ready\r\n")

    def data_received(self, data: bytes) -> None:
        buf, pos, out = self.buf + data if self.buf else data, 0, []
        while True:
            if self.literal:
                if len(buf) - pos < self.literal:
                    break
                self.parts.append(buf[pos:pos + self.literal])
                pos += self.literal
                self.literal = 0
                continue
            end = buf.find(b"\n", pos)
            if end < 0:
                break
            line, pos = buf[pos:end + 1], end + 1
            self.parts.append(line)
            m = _LITERAL.search(line)
            if m is not None and self.idle is None:
                if not m.group(2):
                    out.append(b"+ go ahead\r\n")
                self.literal = int(m.group(1))
                self.head += line[:m.start()] + b"LITERAL"
                continue
            whole, self.head = self.head + line, b""
            if self.record is not None:
                self.record.append(b"".join(self.parts))
            self.parts = []
            if self.idle is not None:  # the DONE that ends an IDLE
                out.append(b"%s OK IDLE done\r\n" % self.idle)
                self.idle = None
                continue
            answer = self.answer(whole)
            if answer is None:  # LOGOUT
                out.append(b"* BYE null responder\r\n%s OK LOGOUT done\r\n" % whole.split(b" ", 1)[0])
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            out.append(answer)
        self.buf = buf[pos:]
        if out:
            self.transport.write(b"".join(out))

    def answer(self, line: bytes) -> bytes | None:
        tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
        verb, _, args = rest.partition(b" ")
        verb = verb.upper()
        by_uid = verb == b"UID"
        if by_uid:
            verb, _, args = args.partition(b" ")
            verb = verb.upper()
        ok = b"%s OK %s done\r\n" % (tag, verb)
        if verb == b"CAPABILITY":
            return b"* CAPABILITY " + CAPABILITY + b"\r\n" + ok
        if verb in (b"SELECT", b"EXAMINE"):
            return (b"* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT %d] ok\r\n"
                    b"* FLAGS (\\Seen \\Flagged)\r\n%s OK [READ-WRITE] done\r\n" % (MESSAGES, self.appended + 1, tag))
        if verb == b"SEARCH":
            return _SEARCH + ok
        if verb == b"FETCH":
            return _fetch(args, by_uid) + ok
        if verb == b"LIST":
            return b'* LIST (\\HasNoChildren) "." INBOX\r\n' + ok
        if verb == b"APPEND":
            self.appended += 1
            return b"%s OK [APPENDUID 1 %d] done\r\n" % (tag, self.appended)
        if verb == b"IDLE":
            self.idle = tag
            return b"+ idling\r\n"
        if verb == b"ID":
            return b"* ID NIL\r\n" + ok
        if verb == b"LOGOUT":
            return None
        return ok  # LOGIN, STORE, EXPUNGE, NOOP, UNSELECT, CLOSE, ...: nothing to say but OK


_SEARCH = b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, MESSAGES + 1)) + b"\r\n"


async def start(host: str, port: int, record: list | None = None) -> asyncio.base_events.Server:
    return await asyncio.get_running_loop().create_server(lambda: NullIMAP(record), host, port, backlog=512)


async def main(host: str, port: int) -> None:
    server = await start(host, port)
    print(f"ready {host}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)
