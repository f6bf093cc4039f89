"""verify's comparison: both directions, duplicates counted, flags and dates only where carried."""

from datetime import datetime, timezone

from imapwright.admin.migrate import compare_folder
from imapwright.mailstore.message import StoredMessage

WHEN = datetime(2026, 11, 29, 7, 0, 0, tzinfo=timezone.utc)


def msg(body: bytes, flags=(), when=WHEN, source="src") -> StoredMessage:
    return StoredMessage(b"Subject: t\n\n" + body, frozenset(flags), when, source=source)


def kinds(diffs):
    return sorted(d.kind for d in diffs)


def test_identical_folders_have_no_differences():
    source = [msg(b"a\n", {"\\Seen"}), msg(b"b\n")]
    server = [StoredMessage(m.content.replace(b"\n", b"\r\n"), m.flags, m.date) for m in source]
    assert compare_folder("INBOX", source, server) == []


def test_a_dropped_message_an_altered_byte_and_a_cleared_flag_are_each_reported():
    source = [msg(b"a\n", {"\\Seen"}), msg(b"b\n"), msg(b"c\n")]
    server = [msg(b"a\n"), msg(b"B\n")]
    diffs = compare_folder("INBOX", source, server)
    assert kinds(diffs) == ["extra", "flags", "missing", "missing"]


def test_duplicates_count():
    assert kinds(compare_folder("x", [msg(b"a\n"), msg(b"a\n")], [msg(b"a\n")])) == ["missing"]
    assert kinds(compare_folder("x", [msg(b"a\n")], [msg(b"a\n"), msg(b"a\n")])) == ["extra"]


def test_only_what_the_method_carries_is_compared():
    source = [msg(b"a\n", {"\\Seen"}, WHEN)]
    server = [msg(b"a\n", (), WHEN.replace(hour=9))]
    assert kinds(compare_folder("x", source, server)) == ["date", "flags"]
    assert compare_folder("x", source, server, carries=frozenset()) == []


def test_deliveries_are_compared_without_the_trace_fields_they_add():
    source = [msg(b"a\n")]
    delivered = [StoredMessage(b"Return-Path: <x@y>\r\nReceived: from a\r\n\tby b; today\r\n" + source[0].content, frozenset(), WHEN)]
    assert kinds(compare_folder("x", source, delivered)) == ["extra", "missing"]
    assert compare_folder("x", source, delivered, carries=frozenset({"flags", "date"})) == []


def test_revert_lock_refuses_a_file_someone_else_holds(tmp_path):
    import pytest

    from imapwright.admin.migrate import locked
    from imapwright.errors import UserError

    target = tmp_path / "INBOX"
    (tmp_path / "INBOX.lock").write_text("held by a mail reader\n")
    with pytest.raises(UserError, match="INBOX is locked"):
        with locked(target):
            pass
    (tmp_path / "INBOX.lock").unlink()
    with locked(target):
        assert (tmp_path / "INBOX.lock").exists()
    assert not (tmp_path / "INBOX.lock").exists()


def test_a_server_side_given_as_a_stream_is_read_again_for_what_differs():
    """A one-shot iterable without a way to read it again is kept before it is read: an extra
    message on the server is still named (it was a KeyError when the stream was already spent)."""
    diffs = compare_folder("x", [msg(b"a\n")], iter([msg(b"a\n"), msg(b"b\n")]))
    assert kinds(diffs) == ["extra"]
