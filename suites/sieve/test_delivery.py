"""Sieve at delivery (RFC 5228, fileinto; RFC 5490 :create): scripts put through ManageSieve
(RFC 5804) as the user, mail delivered over LMTP, where each message lands checked over IMAP.
Mail must never be lost: a fileinto that cannot be done keeps the message (RFC 5228 section 2.10.6,
implicit keep), and a script the server cannot parse is refused at PUTSCRIPT, not at delivery."""

import secrets
import tomllib
from pathlib import Path

import pytest

from imapwright.protocol.managesieve import ManageSieveError

pytestmark = pytest.mark.requires("sieve", "lmtp")


def _message(subject: str) -> tuple[bytes, str]:
    msgid = f"<{secrets.token_hex(8)}@imapwright.test>"
    return (f"From: sender@imapwright.test\r\nTo: someone@imapwright.test\r\nSubject: {subject}\r\n"
            f"Message-ID: {msgid}\r\nDate: Thu, 03 Dec 2026 01:00:00 +0000\r\n\r\nbody\r\n" + "x" * 200 + "\r\n").encode(), msgid


def _activate(server, user, script: str) -> None:
    with server.sieve_client(user.name, user.password) as sieve:
        sieve.put_script("filter", script)
        sieve.set_active("filter")


def _deliver(server, user, subject: str):
    data, msgid = _message(subject)
    with server.lmtp_client() as lmtp:
        [result] = lmtp.deliver(data, [f"{user.name}@imapwright.test"])
    return result, msgid


def _where(server, client, user, msgid: str) -> list[str]:
    """The user's folders that hold the message (own names, INBOX as "")."""
    # Other users' mailboxes, as this user sees them (shared with anyone by other tests): skipped.
    others = server.mailbox_name("OTHER", "", user.name).partition("OTHER")[0]
    found = []
    for flags, _sep, name in client.list_folders():
        name = name if isinstance(name, str) else name.decode()
        if b"\\Noselect" in flags or name.startswith(others):
            continue
        client.select_folder(name, readonly=True)
        if client.search(["HEADER", "Message-ID", msgid]):
            found.append(name)
        client.unselect_folder()
    inbox = server.mailbox_name(user.name, "", user.name)
    return sorted("" if f == inbox else f for f in found)


def test_fileinto_an_existing_folder(server, users, login):
    user = users.create("sv")
    client = login(user)
    lists = server.mailbox_name(user.name, "lists", user.name)
    client.create_folder(lists)
    _activate(server, user, f'require "fileinto";\nif header :contains "subject" "[list]" {{ fileinto "{lists}"; }}\n')
    result, msgid = _deliver(server, user, "[list] hello")
    other, other_id = _deliver(server, user, "personal")
    assert result.accepted and other.accepted
    assert _where(server, client, user, msgid) == [lists]
    assert _where(server, client, user, other_id) == [""]


def test_fileinto_a_missing_folder_keeps_the_message_in_the_inbox(server, users, login):
    user = users.create("sv")
    missing = server.mailbox_name(user.name, "nothere", user.name)
    _activate(server, user, f'require "fileinto";\nfileinto "{missing}";\n')
    result, msgid = _deliver(server, user, "to a missing folder")
    assert result.accepted, result
    assert _where(server, login(user), user, msgid) == [""]


def test_fileinto_create_makes_the_folder(server, users, login):
    user = users.create("sv")
    made = server.mailbox_name(user.name, "made-by-sieve", user.name)
    _activate(server, user, f'require ["fileinto", "mailbox"];\nfileinto :create "{made}";\n')
    result, msgid = _deliver(server, user, "create it")
    assert result.accepted, result
    assert _where(server, login(user), user, msgid) == [made]


def test_a_script_with_a_syntax_error_is_refused_and_the_active_one_stays(server, users):
    user = users.create("sv")
    _activate(server, user, "keep;\n")
    with server.sieve_client(user.name, user.password) as sieve:
        with pytest.raises(ManageSieveError) as refused:
            sieve.put_script("broken", 'if header :contains "subject" { keep; \n')
        assert refused.value.args[0].startswith("NO")
        assert sieve.list_scripts() == {"filter": True}


def test_a_fileinto_over_quota_is_deferred_not_dropped(server, users, login):
    user = users.create("sv")
    client = login(user)
    lists = server.mailbox_name(user.name, "lists", user.name)
    client.create_folder(lists)
    client.append(lists, b"Subject: filler\r\n\r\n" + b"f" * 12_000 + b"\r\n")
    server.set_quota(user.mailbox, storage_kb=10)  # below what is stored: the account is over quota
    _activate(server, user, f'require "fileinto";\nfileinto "{lists}";\n')
    result, msgid = _deliver(server, user, "over quota")
    assert not result.accepted and result.temporary_failure, result
    assert _where(server, client, user, msgid) == []


@pytest.mark.parametrize("rights", ["lrsi", "lrsp"])
def test_fileinto_a_shared_folder_by_the_posting_right(server, users, login, rights):
    """A script files into another user's folder shared with the recipient, with insert but not post
    (lrsi) or post but not insert (lrsp): which right the server asks of the posting identity is
    recorded per server; wherever it goes, the message is in exactly one place (never lost)."""
    owner, user = users.create("own"), users.create("sv")
    box = server.mailbox_name(owner.name, "dropbox", owner.name)
    owner_client = login(owner)
    owner_client.create_folder(box)
    owner_client.setacl(box, user.name, rights)
    seen_as = server.mailbox_name(owner.name, "dropbox", user.name)
    _activate(server, user, f'require "fileinto";\nfileinto "{seen_as}";\n')
    result, msgid = _deliver(server, user, f"into a folder where the recipient has {rights}")
    assert result.accepted, result
    owner_client.select_folder(box, readonly=True)
    in_box = bool(owner_client.search(["HEADER", "Message-ID", msgid]))
    own = _where(server, login(user), user, msgid)
    places = (["shared folder"] if in_box else []) + ["own " + (f or "INBOX") for f in own]
    assert len(places) == 1, f"the message is in {places or 'no folder: lost'}"
    outcome = "filed" if in_box else ("kept" if own == [""] else places[0])
    recorded = tomllib.loads(OUTCOMES.read_text())[server.family_name][f"fileinto_shared_{rights}"]
    assert outcome == recorded, f"{rights}: {outcome}, recorded {recorded}"


OUTCOMES = Path(__file__).resolve().parents[2] / "fixtures" / "sieve" / "outcomes.toml"
ACTIONS = {"redirect": 'redirect "elsewhere@example.org";\n', "reject": 'require "reject";\nreject "not here";\n'}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_redirect_and_reject_never_lose_the_message(server, users, login, action):
    user = users.create("sv")
    _activate(server, user, ACTIONS[action])
    result, msgid = _deliver(server, user, f"to be {action}ed")
    stored = _where(server, login(user), user, msgid)
    if result.accepted and stored:
        outcome = "stored"
    elif result.accepted:
        queue = server.exec(["sh", "-c", "command -v mailq >/dev/null 2>&1 && mailq"], user="root").stdout
        assert msgid.strip("<>") in queue or _queued_id(server, msgid), \
            f"{action}: LMTP said {result.code} {result.text!r}, yet the message is in no folder and no queue: lost"
        outcome = "queued"
    else:
        assert not stored, f"{action}: refused ({result.code}) but stored in {stored}"
        outcome = "deferred" if result.temporary_failure else "refused"
    recorded = tomllib.loads(OUTCOMES.read_text())[server.family_name][action]
    assert outcome == recorded, f"{action}: {outcome} ({result.code} {result.text}), recorded {recorded}"


def _queued_id(server, msgid: str) -> bool:
    # mailq lists queue ids, not Message-IDs: look into the queued messages' headers (exim, postfix).
    script = ('for d in /var/spool/exim4/input /var/spool/postfix; do [ -d "$d" ] && grep -rlF "$1" "$d"; '
              'done 2>/dev/null | head -1')
    return bool(server.exec(["sh", "-c", script, "sh", msgid], user="root").stdout.strip())
