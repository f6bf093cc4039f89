"""Delivery: LMTP to a population of users with a realistic message-size distribution.

    imapwright load delivery --server cyrus:3.6 --users 10 --duration 30

or by hand against a running server (see loadtests/README.md for the variables):

    IMAPWRIGHT_LOAD_LMTP=127.0.0.1:2003 IMAPWRIGHT_LOAD_USERS=alice,bob \
        locust -f loadtests/delivery.py --headless -u 10 -r 5 -t 30s

Every delivery has a unique Message-ID (Cyrus suppresses duplicates), so the harness can count
what arrived against what was acknowledged. IMAPWRIGHT_LOAD_OPT_SIZE=N fixes the size.
"""

from imapwright.load.users import LMTPDeliverer


class Deliverer(LMTPDeliverer):
    pass
