"""A null IMAP responder for the generator benchmark: every command is answered OK at once, with
just enough data that an IMAP client parses what a real server would send (EXISTS and UIDVALIDITY
on SELECT, SEARCH hits, FETCH items, APPENDUID, a body literal for BODY[]), and no mail is kept.
The load generator's requests per second and CPU against it are the generator's alone
(benchmarks/generator_ceiling.py; tests/integration/test_generator_bound.py).

    python3 -m imapwright.load.null_imap --port 10143     # prints "ready HOST:PORT", serves until killed

`serve(..., record=list)` keeps every command as it came in (tag, line, literals): the recording
responder of tests/test_imap_wire.py, which holds the load client's bytes to imapclient's.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

MESSAGES = 20  # what SELECT says the mailbox holds; UIDs 1..MESSAGES
BODY = b"Subject: null\r\n\r\n" + b"x" * 1982 + b"\r\n"  # a 2,000-byte message for BODY[]
CAPABILITY = b"IMAP4rev1 LITERAL+ IDLE UIDPLUS ID UNSELECT"
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r\n$")


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


async def _command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   record: list | None) -> bytes | None:
    """One whole command line, literals read (and synchronising ones answered with '+')."""
    line = await reader.readline()
    if not line:
        return None
    whole, raw = line, [line]
    while (m := _LITERAL.search(line)) is not None:
        if not m.group(2):
            writer.write(b"+ go ahead\r\n")
            await writer.drain()
        raw.append(await reader.readexactly(int(m.group(1))))
        line = await reader.readline()
        raw.append(line)
        whole = whole[:m.start()] + b"LITERAL" + line
    if record is not None:
        record.append(b"".join(raw))
    return whole


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: list | None = None) -> None:
    writer.write(b"* OK [CAPABILITY " + CAPABILITY + b"] null responder ready\r\n")
    appended = MESSAGES
    try:
        while (line := await _command(reader, writer, record)) is not None:
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            verb, _, args = rest.partition(b" ")
            verb = verb.upper()
            by_uid = verb == b"UID"
            if by_uid:
                verb, _, args = args.partition(b" ")
                verb = verb.upper()
            ok = b"%s OK %s done\r\n" % (tag, verb)
            if verb == b"CAPABILITY":
                writer.write(b"* CAPABILITY " + CAPABILITY + b"\r\n" + ok)
            elif verb in (b"SELECT", b"EXAMINE"):
                writer.write(b"* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT %d] ok\r\n"
                             b"* FLAGS (\\Seen \\Flagged)\r\n%s OK [READ-WRITE] done\r\n" % (MESSAGES, appended + 1, tag))
            elif verb == b"SEARCH":
                writer.write(b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, MESSAGES + 1)) + b"\r\n" + ok)
            elif verb == b"FETCH":
                writer.write(_fetch(args, by_uid) + ok)
            elif verb == b"LIST":
                writer.write(b'* LIST (\\HasNoChildren) "." INBOX\r\n' + ok)
            elif verb == b"APPEND":
                appended += 1
                writer.write(b"%s OK [APPENDUID 1 %d] done\r\n" % (tag, appended))
            elif verb == b"IDLE":
                writer.write(b"+ idling\r\n")
                await writer.drain()
                done = await reader.readline()
                if not done:
                    break
                if record is not None:
                    record.append(done)
                writer.write(ok)
            elif verb == b"ID":
                writer.write(b"* ID NIL\r\n" + ok)
            elif verb == b"LOGOUT":
                writer.write(b"* BYE null responder\r\n" + ok)
                await writer.drain()
                break
            else:  # LOGIN, STORE, EXPUNGE, NOOP, UNSELECT, CLOSE, ...: nothing to say but OK
                writer.write(ok)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(host: str, port: int) -> None:
    server = await asyncio.start_server(serve, host, port, backlog=512)
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
