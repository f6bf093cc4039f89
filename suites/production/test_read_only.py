"""Checks that change nothing, for a production server (`imapwright run production --target URL
--read-only`): they read what is there, whatever it is, and hold it to the RFCs and the book.
(On a server the harness starts they run too, on whatever the session holds.)"""

import pytest

from imapwright.servers.cyrus_tools import parse_quota_report
from imapwright.models.acl import PROFILES, parse_listrights
from imapwright.protocol.imap import command, list_names, quote

SAMPLE = 25  # mailboxes whose ACLs are read: enough to see a pattern, cheap on a large server


def test_percent_stays_within_one_level_and_star_finds_it_all(server, admin_imap):
    """The book's listmailbox patterns: `user.%` lists accounts only, all of them in `user.*`."""
    accounts = list_names(admin_imap, "user.%")
    everything = set(list_names(admin_imap, "user.*"))
    assert set(accounts) <= everything
    assert all(name.count(".") == 1 for name in accounts), [n for n in accounts if n.count(".") != 1][:5]


def test_admin_reads_acls_and_holds_lookup_and_administer(server, admin_imap):
    """Administrators implicitly hold l and a everywhere; GETACL, MYRIGHTS and LISTRIGHTS answer
    for every mailbox sampled, and LISTRIGHTS parses as RFC 4314 says."""
    names = sorted(name for flags, _sep, name in admin_imap.list_folders("", "*")
                   if not {f.lower() for f in flags} & {b"\\noselect", b"\\nonexistent"})[:SAMPLE]
    profile = PROFILES[server.family_name]
    problems = []
    for name in names:
        typ, data = command(admin_imap, "MYRIGHTS", quote(name))
        if typ != "OK":
            problems.append(f"MYRIGHTS {name}: {typ} {data}")
            continue
        rights = data[0].decode(errors="replace").rsplit(" ", 1)[-1] if data else ""
        if not {"l", "a"} <= set(rights):
            problems.append(f"MYRIGHTS {name}: {rights!r} lacks l or a")
        if command(admin_imap, "GETACL", quote(name))[0] != "OK":
            problems.append(f"GETACL {name} refused")
        typ, data = command(admin_imap, "LISTRIGHTS", quote(name), quote(server.admin_user))
        if typ != "OK" or not data:
            problems.append(f"LISTRIGHTS {name}: {typ}")
        else:
            line = data[0] if isinstance(data[0], bytes) else b" ".join(data[0])  # a literal mailbox name
            parse_listrights(profile, line.decode(errors="replace"))
    assert not problems, "\n".join(problems)


@pytest.mark.requires("quota-repair", "exec")
def test_quota_report_parses_and_no_usage_is_negative(server):
    report = parse_quota_report(server.tool("quota").check("quota").stdout)
    bad = {root: r for root, r in report.items() if any(usage < 0 for usage, _limit in r.values())}
    assert not bad, bad


# Not for --read-only: Cyrus's dry-run reconstruct (-n) still creates an empty cyrus.annotations in
# a mailbox that has none (measured on 3.6: a finding; tests/integration/test_server_snapshot.py
# saw it), so it writes to the spool.
@pytest.mark.destructive
@pytest.mark.requires("cyrus", "exec")
def test_dry_run_repairs_find_nothing_for_a_sample_of_accounts(server, users, consistency):
    """Cyrus's repair tools in their dry-run forms (quota -n -f, reconstruct -n) over sampled
    accounts: what they would fix is a finding. (Dovecot's recalc and resync write: not here.)
    The server's own accounts, and one this test makes with mail in it; not the accounts other
    tests of this run made (they carry those tests' damage and listed deviations)."""
    own = users.create("ro")
    users.login(own).append(server.mailbox_name(own.name, "", own.name),
                            b"Date: Sun, 06 Dec 2026 12:00:00 +0000\r\nSubject: sampled\r\n\r\nbody\r\n")
    others = [a for a in server.list_users() if not a.startswith(users.run_prefix)][:SAMPLE]
    assert consistency(server, [own.name, *others]) == []
