"""The request budget that bounds a single-process load run by count (load/budget.py)."""

import subprocess
import sys

import pytest

from imapwright.load import budget


@pytest.fixture(autouse=True)
def no_budget_after():
    yield
    budget.set_limit(0)


def test_exactly_the_budget_may_start():
    budget.set_limit(3)
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]


def test_no_limit_never_refuses():
    budget.set_limit(0)
    assert all(budget.take() for _ in range(10_000))


def test_a_spent_budget_stops_the_user_before_its_command():
    # In a process of its own: Locust patches the standard library when imported, which must
    # happen first (as in a locustfile), not after pytest has loaded ssl.
    code = ("import locust.exception as e\nfrom imapwright.load import budget\nbudget.set_limit(1)\n"
            "budget.spend()\ntry:\n    budget.spend()\nexcept e.StopUser:\n    print('stopped')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "stopped", out.stderr


def test_workers_parts_add_up_to_the_budget():
    for total in (0, 1, 7, 150, 1001):
        for workers in (1, 2, 3, 8):
            parts = [budget.part(total, workers, i) for i in range(workers)]
            assert sum(parts) == total and max(parts) - min(parts) <= 1


def test_a_worker_takes_its_part_once_the_master_has_numbered_it():
    index = [-1]
    budget.set_worker_part(5, 2, lambda: index[0])
    index[0] = 1  # numbered before its users start: worker 1 of 2 gets 2 of 5
    assert [budget.take() for _ in range(4)] == [True, True, False, False]


def test_a_worker_whose_part_is_nothing_starts_nothing():
    budget.set_worker_part(1, 2, lambda: 1)
    assert not budget.take()
