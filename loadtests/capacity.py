"""Capacity: add users in steps until a latency or error threshold is crossed, then stop; the
report names the saturation point (the last step under the thresholds) and plots the curve.

    imapwright load capacity --server cyrus:3.6 --users 200 --step-users 10 --step-seconds 15 \
        --p95-ms 250 --max-failure-ratio 0.01

Users are deliverers and imaptest-like sessions (one in five delivers). Knobs, as variables:
IMAPWRIGHT_LOAD_OPT_STEP_USERS, _STEP_SECONDS, _MAX_USERS, _P95_MS, _MAX_FAILURE_RATIO.
"""

from imapwright.load.shapes import StepUntilSaturated
from imapwright.load.users import LMTPDeliverer, MixedSession


class Session(MixedSession):
    weight = 4


class Delivery(LMTPDeliverer):
    weight = 1


class Steps(StepUntilSaturated):
    pass
