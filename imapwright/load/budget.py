"""A bound by count beside Locust's bound by time (IMAPWRIGHT_LOAD_OPT_MAX_REQUESTS).

One Locust process counts the requests its users *start*: a client takes one from the budget
before each command and a user finds none left stops (StopUser), so a single-process run makes
exactly the budget of requests whatever the concurrency (counting finished requests and then
stopping let every user in flight add more: 155 of 150 under CI load). The run ends when the
last one has finished. With workers the master can only watch the totals they report every few
seconds, so a distributed run overshoots by about that much (documented in loadtests/README.md).
"""

from __future__ import annotations

_limit = 0  # 0: no bound by count in this process
_started = 0


def set_limit(limit: int) -> None:
    global _limit, _started
    _limit, _started = limit, 0


def take() -> bool:
    """One request may start (True), or the budget is spent. gevent switches only on I/O, so
    this check-and-count needs no lock."""
    global _started
    if _limit and _started >= _limit:
        return False
    _started += 1
    return True


def spend() -> None:
    """take(), and with nothing left stop the calling Locust user where it stands: before a
    command, so its session is in a known state."""
    if not take():
        from locust.exception import StopUser  # only ever reached inside a Locust run
        raise StopUser()
