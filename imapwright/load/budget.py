"""A bound by count beside Locust's bound by time (IMAPWRIGHT_LOAD_OPT_MAX_REQUESTS).

Each Locust process counts the requests its users *start*: a client takes one from the budget
before each command and a user that finds none left stops (StopUser), so a run makes exactly the
budget of requests whatever the concurrency (counting finished requests and then stopping let
every user in flight add more: 155 of 150 under CI load). With K workers each takes its part
(the master numbers them 0..K-1 before any user starts), and the master ends the run when their
reported totals reach the budget.
"""

from __future__ import annotations

from collections.abc import Callable

_limit = 0  # 0: no bound by count in this process
_started = 0
_part: Callable[[], int | None] | None = None  # a worker's part, known once it is numbered


def set_limit(limit: int) -> None:
    global _limit, _started, _part
    _limit, _started, _part = limit, 0, None


def part(total: int, workers: int, index: int) -> int:
    """Worker `index`'s part of `total`: the parts of workers 0..K-1 add up to it."""
    return total // workers + (1 if index < total % workers else 0)


def set_worker_part(total: int, workers: int, index: Callable[[], int]) -> None:
    """`index()` is the worker's number, negative until the master has sent it."""
    global _part
    set_limit(0)
    _part = lambda: part(total, workers, index()) if index() >= 0 else None  # noqa: E731


def _spent() -> bool:
    global _limit, _part
    if _part is not None and (mine := _part()) is not None:
        _limit, _part = mine or -1, None  # a part of 0 (more workers than requests): -1, none
    return bool(_limit) and (_limit < 0 or _started >= _limit)


def left() -> bool:
    """Whether one more request could start now (nothing taken): a client that prepares the next
    request ahead (LMTP pipelining) asks first. Another user may still take it meanwhile."""
    return not _spent()


def take() -> bool:
    """One request may start (True), or the budget is spent. gevent switches only on I/O, so
    this check-and-count needs no lock."""
    global _started
    if (_limit or _part is not None) and _spent():  # no bound: no more to check
        return False
    _started += 1
    return True


def spend() -> None:
    """take(), and with nothing left stop the calling Locust user where it stands: before a
    command, so its session is in a known state."""
    if not take():
        from locust.exception import StopUser  # only ever reached inside a Locust run
        raise StopUser()
