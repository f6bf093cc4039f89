"""Admin churn: folders created, renamed, shared (SETACL), unshared and deleted, quota limits
changed by the admin, while users read and deliveries arrive.

    imapwright load admin-churn --server cyrus:3.6 --users 12 --duration 60
"""

from imapwright.load.users import FolderChurner, LMTPDeliverer, MixedSession, QuotaChurner


class Churner(FolderChurner):
    weight = 3


class QuotaAdmin(QuotaChurner):
    fixed_count = 1


class Reader(MixedSession):
    weight = 3


class BackgroundDelivery(LMTPDeliverer):
    weight = 2
