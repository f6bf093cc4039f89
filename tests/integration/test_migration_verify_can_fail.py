"""verify notices what a migration could do wrong: between apply and verify, one message has a
byte changed, one is dropped and one loses a flag on the server, and verify names each of them."""

from datetime import datetime, timedelta, timezone

from imapwright.admin.migrate import apply_user, make_plan, verify_user
from imapwright.mailstore.corpus import awkward_messages
from imapwright.mailstore.message import StoredMessage, to_crlf

from suites.migration.source import write_user


def _migrated(server, users, tmp_path, name, messages):
    """A new account's INBOX migrated by append from these messages, verified clean: (user, its
    plan, its INBOX's name on the server)."""
    user = users.create(name).name
    write_user(tmp_path / user, {"INBOX": messages}, uw_header=False)
    [plan] = make_plan(tmp_path, [user]).users
    apply_user(server, plan, "append")
    assert verify_user(server, plan) == []
    return user, plan, server.mailbox_name(user, "", user)


def test_verify_reports_an_altered_byte_a_dropped_message_and_a_cleared_flag(server, users, tmp_path):
    messages = awkward_messages(big=False)[:5]  # kinds: plain, From lines, mixed ends, 8-bit, attachment
    user, plan, inbox = _migrated(server, users, tmp_path, "verify", messages)
    with server.user_session(user) as client:
        client.select_folder(inbox)
        uids = sorted(client.search())
        # 1. one byte altered: the server's copy replaced by one with "Hello." -> "Hellp."
        altered = to_crlf(messages[0].content).replace(b"Hello.", b"Hellp.")
        client.append(inbox, altered, sorted(messages[0].flags), messages[0].date)
        client.delete_messages([uids[0]])
        # 2. one message dropped
        client.delete_messages([uids[1]])
        client.expunge()
        # 3. one flag cleared (message 3 carries \Seen and \Answered in the corpus)
        assert messages[2].flags == {"\\Seen", "\\Answered"}
        client.remove_flags([uids[2]], ["\\Answered"])

    found = sorted((d.kind, d.text) for d in verify_user(server, plan))
    assert [kind for kind, _ in found] == ["extra", "flags", "missing", "missing"], found
    assert found[0][1].startswith("INBOX UID ")  # the altered copy, as the server holds it
    assert found[1][1] == "INBOX: message 3: source \\Answered \\Seen, server \\Seen"
    assert sorted(text.split(" ")[2] for _, text in found[2:]) == ["1", "2"]  # altered and dropped


def test_verify_reads_a_folder_in_chunks_and_names_what_differs_in_any_of_them(server, users, tmp_path, monkeypatch):
    """A large folder is read FETCH_CHUNK messages at a time (one FETCH of 100,000 UIDs is too long
    a command for Cyrus); a difference in a later chunk is found like one in the first."""
    from imapwright.stores import tree

    monkeypatch.setattr(tree, "FETCH_CHUNK", 40)
    messages = [StoredMessage(f"Subject: m{i}\nMessage-ID: <{i}@chunks>\n\nbody {i}\n".encode(),
                              frozenset({"\\Seen"}) if i % 2 else frozenset(),
                              datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(hours=i)) for i in range(130)]
    user, plan, inbox = _migrated(server, users, tmp_path, "chunks", messages)
    with server.user_session(user) as client:
        client.select_folder(inbox)
        uids = sorted(client.search())
        client.delete_messages([uids[85]])  # third chunk
        client.expunge()
        client.add_flags([uids[125]], ["\\Flagged"])  # fourth
    found = sorted(str(d) for d in verify_user(server, plan))
    assert len(found) == 2 and found[0].startswith("INBOX: flags: INBOX: message 126: ") \
        and found[1].startswith("INBOX: missing: INBOX: message 86 "), found


def test_a_server_answer_verify_cannot_read_is_one_line_naming_the_user(server, users, tmp_path, monkeypatch):
    """verify of a migrated million ended in a traceback: the SEARCH answer was longer than imaplib
    reads. Whatever breaks a read now ends in one line naming the user and what was under way
    (here imaplib's limit is made small, above a login's answer and below a SEARCH of 600 UIDs)."""
    import imaplib

    import pytest

    from imapwright.errors import ServerError

    messages = [StoredMessage(f"Subject: m{i}\nMessage-ID: <{i}@long>\n\nbody {i}\n".encode()) for i in range(600)]
    user, plan, _inbox = _migrated(server, users, tmp_path, "longline", messages)
    with monkeypatch.context() as patched, pytest.raises(ServerError) as info:
        patched.setattr(imaplib, "_MAXLINE", 1500)  # undone before the plugin's checks after the test
        verify_user(server, plan)
    text = str(info.value)
    assert text.startswith(f"{user}: {server.name} failed while verify read its folders (") and "\n" not in text
    assert "got more than 1500 bytes" in text and "; server log: " in text  # the server's last word
