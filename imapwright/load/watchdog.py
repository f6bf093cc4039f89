"""One watchdog greenlet per Locust process for the load clients' command deadlines, instead of a
timer per command: a gevent.Timeout started and cancelled around every delivery cost about 3% of
its CPU, and gevent's per-call socket timeouts a Timeout object per wait. Each watched client has
`deadline` (time.perf_counter() seconds its command under way must end by; 0: none under way) and
`expire()`, which closes its socket so the greenlet waiting on it wakes with an error ("closed in
another greenlet")."""

from __future__ import annotations

import time
import weakref

import gevent

WATCH_SECONDS = 1.0  # how often the watchdog looks (a late command is ended within this much of its deadline)

_clients: weakref.WeakSet = weakref.WeakSet()
_watchdog: list = []


def watch(client) -> None:
    _clients.add(client)
    if not _watchdog:
        _watchdog.append(gevent.spawn(_loop))


def _loop() -> None:
    while True:
        gevent.sleep(WATCH_SECONDS)
        now = time.perf_counter()
        for client in list(_clients):
            if client.deadline and now > client.deadline:
                client.expire()
