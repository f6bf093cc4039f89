"""Capacity steps and the saturation point: plain arithmetic, shared by the load shape (while the
run goes) and the report (after it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Step:
    users: int
    seconds: float
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def over(self, p95_ms: float, max_failure_ratio: float) -> bool:
        return self.p95_ms > p95_ms or self.failure_ratio > max_failure_ratio

    def as_dict(self) -> dict:
        return {**asdict(self), "rps": round(self.rps, 2), "failure_ratio": round(self.failure_ratio, 4)}


def percentile(histogram: dict[int, int], fraction: float) -> float:
    """The response time (ms, as Locust buckets it) below which `fraction` of requests fall."""
    count = sum(histogram.values())
    if count == 0:
        return 0.0
    rank = fraction * count
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


def step_from_counts(users: int, seconds: float, requests: int, failures: int,
                     before: dict[int, int], after: dict[int, int]) -> Step:
    """A step's own figures from cumulative counters read at its start and end."""
    window = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}
    return Step(users, seconds, requests, failures, percentile(window, 0.5), percentile(window, 0.95))


@dataclass(frozen=True)
class Saturation:
    point: Step | None  # the last step within the thresholds (None: even the first was over)
    crossed: Step | None  # the first step over them (None: never saturated within the run)
    reason: str

    def as_dict(self) -> dict:
        return {"point": self.point.as_dict() if self.point else None,
                "crossed": self.crossed.as_dict() if self.crossed else None, "reason": self.reason}


def saturation(steps: list[Step], p95_ms: float, max_failure_ratio: float) -> Saturation:
    point = None
    for step in steps:
        if step.over(p95_ms, max_failure_ratio):
            why = (f"p95 {step.p95_ms:.0f} ms > {p95_ms:.0f} ms" if step.p95_ms > p95_ms
                   else f"failures {step.failure_ratio:.1%} > {max_failure_ratio:.1%}")
            return Saturation(point, step, f"at {step.users} users: {why}")
        point = step
    return Saturation(point, None, "not saturated within the run" if steps else "no complete step")
