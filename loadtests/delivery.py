"""Delivery: LMTP to a population of users with a realistic message-size distribution.

    locust -f loadtests/delivery.py --headless --host lmtp://127.0.0.1:PORT -u 10 -r 5 -t 30s \
        --iterations 1000  # IMAPWRIGHT_LOAD_USERS=alice,bob (default: the users file of the run)

Every accepted delivery has a unique Message-ID (Cyrus suppresses duplicates), so the harness can
count what arrived against what was acknowledged.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid

from locust import constant, task

from imapwright.load.lmtp import LMTPUser

# Sizes in bytes with weights: mostly small mail, a tail of attachments.
SIZES = ((2_000, 40), (6_000, 30), (20_000, 18), (100_000, 9), (1_000_000, 3))
_counter = itertools.count()


def recipients() -> list[str]:
    names = [n for n in os.environ.get("IMAPWRIGHT_LOAD_USERS", "").split(",") if n]
    if not names:
        raise SystemExit("set IMAPWRIGHT_LOAD_USERS to a comma-separated list of existing users")
    return names


def message(size: int, rng: random.Random) -> bytes:
    mid = f"<{uuid.uuid4()}@load.imapwright.test>"
    head = f"From: load@imapwright.test\r\nSubject: load {next(_counter)}\r\nMessage-ID: {mid}\r\n\r\n".encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


class Deliverer(LMTPUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.users = recipients()
        self.sizes, self.weights = zip(*SIZES)

    @task
    def deliver(self) -> None:
        size = self.rng.choices(self.sizes, self.weights)[0]
        self.client.deliver(message(size, self.rng), self.rng.choice(self.users))
