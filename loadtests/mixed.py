"""Mixed: IMAP users in Dovecot imaptest's manner, each step a state picked by weight (list,
select, fetch, fetch2, search, store, append, expunge, idle, logout), plus background delivery.

    imapwright load mixed --server dovecot:2.3 --users 20 --duration 60 \
        --mix "select=100,fetch=100,store=50,append=20,expunge=20,idle=10,logout=10"

One Locust user in ten (at least one) delivers; the rest are IMAP sessions on persistent
connections. Sessions expunge only what they appended, so the ledger check stays exact.
"""

from imapwright.load.users import LMTPDeliverer, MixedSession


class Session(MixedSession):
    weight = 9


class BackgroundDelivery(LMTPDeliverer):
    weight = 1
