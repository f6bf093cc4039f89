"""Load shapes: the capacity scenario's step-up that stops itself once the server saturates."""

from __future__ import annotations

import json
from pathlib import Path

from locust import LoadTestShape

from .config import LoadConfig
from .scenarios import CAPACITY
from .saturation import Step, step_from_counts


class StepUntilSaturated(LoadTestShape):
    """Step k runs k * step_users users for step_seconds. After each step its own p95 and failure
    ratio (from the response-time histogram at the step's start and end, not a rolling window) are
    compared with the thresholds; the first step over them ends the run. Steps are written to
    steps.json in the ledger directory for the report."""
    abstract = True

    def __init__(self):
        super().__init__()
        config = LoadConfig.from_env()
        knob = lambda name: CAPACITY.knob(name).value(config.option(name))  # noqa: E731
        self.step_users, self.step_seconds, self.max_users = knob("step_users"), knob("step_seconds"), knob("max_users")
        self.p95_ms, self.max_failure_ratio = knob("p95_ms"), knob("max_failure_ratio")
        self.out = Path(config.ledger) / "steps.json" if config.ledger else None
        self.steps: list[Step] = []
        self._mark = None  # (step number, time, requests, failures, histogram) at the step's start
        self._stopped = False

    def _snapshot(self, number: int, now: float):
        total = self.runner.stats.total
        return number, now, total.num_requests, total.num_failures, dict(total.response_times)

    def tick(self):
        if self._stopped:
            return None
        now = self.get_run_time()
        number = int(now // self.step_seconds) + 1
        users = min(number * self.step_users, self.max_users)
        if self._mark is None:
            self._mark = self._snapshot(number, now)
        elif number != self._mark[0]:
            step = self._close_step(now)
            if step.over(self.p95_ms, self.max_failure_ratio) or step.users >= self.max_users:
                self._stopped = True
                return None
            self._mark = self._snapshot(number, now)
        return users, max(self.step_users, 1)

    def _close_step(self, now: float) -> Step:
        number, start, requests, failures, histogram = self._mark
        total = self.runner.stats.total
        step = step_from_counts(
            users=min(number * self.step_users, self.max_users), seconds=now - start,
            requests=total.num_requests - requests, failures=total.num_failures - failures,
            before=histogram, after=dict(total.response_times))
        self.steps.append(step)
        if self.out is not None:
            self.out.write_text(json.dumps({"p95_ms": self.p95_ms, "max_failure_ratio": self.max_failure_ratio,
                                            "steps": [s.as_dict() for s in self.steps]}, indent=1))
        return step
