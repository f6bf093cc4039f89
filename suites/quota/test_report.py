"""The quota tool's report for many roots: 1,000 accounts with quotas, created over one pipelined
connection, must all appear in `quota`'s table and agree with GETQUOTAROOT for a sample."""

import random

import pytest

from imapwright.servers.cyrus_tools import parse_quota_report
from imapwright.protocol.imap import pipeline, quote

pytestmark = pytest.mark.requires("quota-repair")
ACCOUNTS = 1000


def test_quota_report_for_a_thousand_roots(server, users, admin_imap):
    users.create()  # the consistency check's user
    roots = [f"user.{users.prefix}m{n:04d}" for n in range(ACCOUNTS)]
    limits = {root: 1000 + n for n, root in enumerate(roots)}
    commands = [c for root in roots for c in (f"CREATE {quote(root)}", f"SETQUOTA {quote(root)} (STORAGE {limits[root]})")]
    statuses = [status for status, _text in
                pipeline(server.dialer(), server.admin_user, server.admin_password, commands)]
    assert statuses.count("OK") == len(commands), {s: statuses.count(s) for s in set(statuses)}
    try:
        report = parse_quota_report(server.tool("quota").check().stdout)
        assert {r: report.get(r, {}).get("STORAGE") for r in roots} == {r: (0, limits[r]) for r in roots}
        for root in random.Random(7).sample(roots, 20):
            _, quotas = admin_imap.get_quota_root(root)
            assert [(q.resource, q.usage, q.limit) for q in quotas if q.resource == "STORAGE"] == \
                [("STORAGE", 0, limits[root])]
    finally:
        deletes = [c for root in roots for c in (f"SETACL {quote(root)} {server.admin_user} lrswipkxtea",
                                                   f"DELETE {quote(root)}")]
        pipeline(server.dialer(), server.admin_user, server.admin_password, deletes)
