"""Large mailbox: one folder (the first population account's INBOX) grown to --messages first
(pipelined LMTP), then, while deliveries go on into it and the other accounts' INBOXes: a mail
client's SELECT, FETCH, SEARCH, STORE, APPEND and EXPUNGE on it, and its repair (Cyrus reconstruct,
Dovecot force-resync) timed with the delivery latency during it.

    imapwright load large-mailbox --server cyrus:3.6 --messages 100000 --duration 120
"""

from imapwright.load.users import FolderRepairer, LargeFolderSession, LMTPDeliverer


class Reader(LargeFolderSession):
    fixed_count = 2


class Repair(FolderRepairer):
    fixed_count = 1


class BackgroundDelivery(LMTPDeliverer):
    weight = 1
