"""Over quota: which APPENDs and deliveries each server refuses (its rule, in the model), with
which responses, and that a user brought back under quota receives mail again."""

import imapclient
import pytest


from .account import QuotaAccount, message


def test_appends_are_refused_by_the_servers_rule(server, users):
    account = QuotaAccount.build(server, users, storage_kb=100)
    outcomes, expected = [], []
    for _ in range(5):
        expected.append(account.model.accepts(account.key(), 30_000, "append"))
        outcomes.append(account.append(30_000))
    assert outcomes == expected
    assert account.reported() == account.expected()


def test_append_refusal_carries_the_overquota_code(server, users):
    # RFC 9208 section 4.3: an APPEND refused for quota fails with [OVERQUOTA].
    account = QuotaAccount.build(server, users, storage_kb=10)
    account.append(9_000)
    with pytest.raises(imapclient.exceptions.IMAPClientError, match=r"\[OVERQUOTA\]"):
        account.client.append("INBOX", message(9_000))


@pytest.mark.requires("lmtp")
def test_deliveries_follow_the_servers_rule_and_are_deferred(server, users):
    account = QuotaAccount.build(server, users, storage_kb=100)
    for _ in range(6):
        predicted = account.model.accepts(account.key(), 30_500, "delivery")
        result = account.deliver(30_000)
        assert result.accepted == predicted, result
        if not result.accepted:
            assert result.temporary_failure, f"over-quota delivery bounced instead of deferred: {result}"
    assert account.reported() == account.expected()


@pytest.mark.requires("lmtp")
def test_the_delivery_crossing_the_limit_follows_the_servers_grace(server, users):
    # 95 KB stored in 100 KB: a 20 KB and a 12 KB delivery cross the limit by different amounts
    # (Dovecot 2.3's 10% grace takes only the second, 2.4's 10 M both, Cyrus any); once over,
    # nothing more is taken. LMTP adds trace headers: the model is asked with a margin.
    account = QuotaAccount.build(server, users, storage_kb=100)
    assert account.append(95 * 1024)
    for size in (20 * 1024, 12 * 1024, 1024):
        predicted = account.model.accepts(account.key(), size + 600, "delivery")
        result = account.deliver(size)
        assert result.accepted == predicted, (size, f"grace {account.model.grace}", result)
        if not result.accepted:
            assert result.temporary_failure, f"over-quota delivery bounced instead of deferred: {result}"
    assert account.reported() == account.expected()


def test_message_limit_refuses_the_next_append(server, users):
    account = QuotaAccount.build(server, users, storage_kb=None, messages=2)
    assert [account.append(100) for _ in range(3)] == [True, True, False]
    assert account.reported()["MESSAGE"] == (2, 2)


@pytest.mark.requires("lmtp")
def test_user_back_under_quota_receives_mail_again(server, users):
    account = QuotaAccount.build(server, users, storage_kb=50)
    while account.deliver(20_000).accepted:
        pass
    assert not account.deliver(20_000).accepted
    c = account.client
    c.select_folder("INBOX")
    c.add_flags(c.search(), [b"\\Deleted"])
    c.expunge()
    c.unselect_folder()
    account.model.mailboxes[account.key()] = []
    assert account.deliver(20_000).accepted
    assert account.reported() == account.expected()
