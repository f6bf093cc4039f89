"""Settings shared by the suites' hypothesis state machines: a fixed derandomized sequence by
default (CI), new draws with IMAPWRIGHT_<NAME>_RANDOM=1, IMAPWRIGHT_<NAME>_EXAMPLES=N of them."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def machine_settings(name: str, examples: int, steps: int) -> settings:
    prefix = f"IMAPWRIGHT_{name.upper()}_"
    return settings(max_examples=int(os.environ.get(prefix + "EXAMPLES", str(examples))),
                    stateful_step_count=steps, deadline=None,
                    derandomize=not os.environ.get(prefix + "RANDOM"),
                    suppress_health_check=list(HealthCheck), database=None)
