"""Large mailbox list: on a server whose mailbox list was seeded with many entries (the harness
does that first: `--mailboxes 100000`), run reconstruct of one user and of the full list and LIST
while delivery runs. The report shows reconstruct time and the delivery latency it causes.

    imapwright load large-list --server cyrus:3.6 --mailboxes 10000 --mboxlist-db skiplist --duration 120
"""

from imapwright.load.users import Lister, LMTPDeliverer, Reconstructor


class Reconstruct(Reconstructor):
    fixed_count = 1


class ListAll(Lister):
    fixed_count = 1


class BackgroundDelivery(LMTPDeliverer):
    weight = 1
