"""The large-mailbox scenario's preparation: one account's INBOX grown to N messages, over pipelined
LMTP (protocol/lmtp_wire.py: the next envelope behind each message, several connections; every
delivery acknowledged or the preparation fails), or by the book's extract-and-copy (message files
written into the spool, then the server's repair adopts them), for folders of a million messages,
which LMTP takes over half an hour to fill on Cyrus and longer on Dovecot. The messages'
Message-IDs are in their own domain, so the run's ledger check (load.mail.MID_DOMAIN) counts only
what the load itself delivered; the folder's count is checked with STATUS before the load starts."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..errors import ServerError, UserError
from ..protocol.lmtp_wire import WireLMTP
from .mail import compose

GROW_DOMAIN = "grow.imapwright.test"
SENDER = "grow@imapwright.test"


def grow_inbox(host: str, port: int, user: str, count: int, size: int = 3000, connections: int = 4,
               progress: Callable[[int], None] = lambda _n: None) -> dict:
    """Deliver `count` messages of about `size` bytes to `user`'s INBOX. {"messages", "seconds",
    "per_second"}. A refused delivery or a broken connection is a ServerError naming it."""
    if count <= 0:
        return {"messages": 0, "seconds": 0.0, "per_second": 0}
    run = secrets.token_hex(4)
    stop = threading.Event()  # set when another connection failed or the user interrupted
    parts = [range(i, count, connections) for i in range(min(connections, count))]

    def deliver(numbers: range) -> None:
        try:
            lmtp = WireLMTP(host, port)
        except OSError as exc:
            raise ServerError(f"growing {user}'s INBOX: no LMTP connection ({exc})") from None
        numbers, sent = list(numbers), 0
        try:
            for k, n in enumerate(numbers):
                going_on = k + 1 < len(numbers) and not stop.is_set()
                code, text = lmtp.deliver(compose(f"<{run}.{n}@{GROW_DOMAIN}>", size, f"grown {n}", SENDER), user, SENDER,
                                          then=(user, SENDER) if going_on else None)
                if not 200 <= code < 300:
                    raise ServerError(f"growing {user}'s INBOX: delivery {n} refused: {code} {text}")
                sent += 1
                if sent == 100:
                    progress(sent)
                    sent = 0
                if not going_on:
                    break
        except OSError as exc:  # LMTPWireError included
            raise ServerError(f"growing {user}'s INBOX: the LMTP connection failed ({exc})") from None
        finally:
            lmtp.close()
            progress(sent)

    start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=len(parts))
    try:
        futures = [pool.submit(deliver, part) for part in parts]
        for future in futures:
            future.result()
    except BaseException:
        stop.set()  # each connection ends after the delivery under way
        raise
    finally:
        pool.shutdown(wait=True)
    seconds = time.perf_counter() - start
    return {"messages": count, "seconds": round(seconds, 1), "per_second": round(count / seconds, 1) if seconds else 0}


# How the folder may be grown, in the words the report and the terminal use.
FILLS = {"lmtp": "delivered over LMTP", "copy": "copied into the spool as files and adopted by the server's repair"}


def copy_inbox(server, user: str, count: int, size: int = 3000,
               progress: Callable[[int], None] = lambda _n: None,
               phase: Callable[[str], None] = lambda _text: None) -> dict:
    """`count` message files of about `size` bytes written into `user`'s INBOX in the spool
    (ServerHandle.copy_into: transfers of 32 MB, made as they go, then Cyrus's reconstruct or
    Dovecot's force-resync; `phase` is told when the repair starts), as grow_inbox returns.
    Needs the server feature "spool-copy"."""
    if count <= 0:
        return {"messages": 0, "seconds": 0.0, "per_second": 0}
    if "spool-copy" not in server.features:
        raise UserError(f"--fill copy: {server.name} offers no spool copy (a server the harness starts, or a "
                        "target with an exec channel into its store); use --fill lmtp")
    run = secrets.token_hex(4)
    with server.user_session(user) as client:
        first = client.folder_status("INBOX", [b"UIDNEXT"])[b"UIDNEXT"]
    now = time.time()

    def files():
        for n in range(count):
            yield compose(f"<{run}.{n}@{GROW_DOMAIN}>", size, f"grown {n}", SENDER), now
            if n % 1000 == 999:
                progress(1000)
        progress(count % 1000)
        phase(f"files written; the server's repair adopts them ({server.family_name})")  # minutes at a million

    start = time.perf_counter()
    server.copy_into(server.tool_name(server.mailbox_name(user, "")), files(), first)
    seconds = time.perf_counter() - start
    return {"messages": count, "seconds": round(seconds, 1), "per_second": round(count / seconds, 1) if seconds else 0}
