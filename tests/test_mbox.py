"""mbox variants byte for byte, and where the standard library's mailbox module is (not) faithful."""

import mailbox
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imapwright.mailstore.mbox import (MboxError, MboxMessage, VARIANTS, _header_end, parse_from_line, read_mbox,
                                       write_mbox)

WHEN = datetime(2026, 11, 29, 7, 44, 52, tzinfo=timezone.utc)
FROM_BODY = b"Subject: quoting\n\nFrom here on\n>From quoted\n>>From twice\nFrom\n"


def roundtrip(contents, variant):
    data = write_mbox([MboxMessage(c, "a@b", WHEN) for c in contents], variant)
    return [m.content for m in read_mbox(data, variant)]


@pytest.mark.parametrize("variant", ["mboxrd", "mboxcl2"])
def test_from_lines_in_bodies_survive_reversible_variants(variant):
    assert roundtrip([FROM_BODY, b"Subject: 2\n\nx\n"], variant) == [FROM_BODY, b"Subject: 2\n\nx\n"]


@pytest.mark.parametrize("variant", ["mboxo", "mboxcl"])
def test_mboxo_quoting_cannot_tell_quoted_from_lines_apart(variant):
    back = roundtrip([FROM_BODY], variant)[0]
    assert back == FROM_BODY.replace(b">From quoted", b"From quoted")


def test_mboxrd_quotes_every_from_depth():
    data = write_mbox([MboxMessage(FROM_BODY, "a@b", WHEN)], "mboxrd")
    assert b"\n>From here on\n>>From quoted\n>>>From twice\n" in data


@pytest.mark.parametrize("variant", ["mboxcl", "mboxcl2"])
def test_content_length_variants_keep_a_missing_final_newline(variant):
    assert roundtrip([b"Subject: x\n\nno newline", b"Subject: y\n\nlast"], variant) == \
        [b"Subject: x\n\nno newline", b"Subject: y\n\nlast"]


@pytest.mark.parametrize("variant", ["mboxo", "mboxrd"])
def test_separator_variants_add_the_final_newline(variant):
    assert roundtrip([b"Subject: x\n\nno newline"], variant) == [b"Subject: x\n\nno newline\n"]


def test_crlf_and_bare_cr_are_content():
    content = b"Subject: crlf\r\n\r\nline\r\nbare\rcr\nlf\n"
    for variant in VARIANTS:
        assert roundtrip([content], variant) == [content]


def test_mboxcl2_does_not_quote_and_trusts_content_length():
    data = write_mbox([MboxMessage(b"Subject: x\n\nbody\n\nFrom inside the body\n", "a", WHEN)], "mboxcl2")
    assert b"\n\nFrom inside the body\n" in data
    assert [m.content for m in read_mbox(data, "mboxcl2")] == [b"Subject: x\n\nbody\n\nFrom inside the body\n"]


def test_content_length_that_does_not_fit_falls_back_to_separators():
    data = (b"From a Sun Nov 29 07:44:52 2026\nContent-Length: 3\nSubject: x\n\nlonger body\n\n"
            b"From b Sun Nov 29 07:44:52 2026\nSubject: y\n\ny\n")
    assert [m.content for m in read_mbox(data, "mboxcl")] == [b"Subject: x\n\nlonger body\n", b"Subject: y\n\ny\n"]


def test_from_line_date_and_sender():
    sender, date = parse_from_line(b"From alice@example.org Sun Nov 29 07:44:52 2026\n")
    assert (sender, date) == ("alice@example.org", WHEN)
    assert parse_from_line(b"From bob  Mon Jan  5 01:02:03 2026\n")[1] == datetime(2026, 1, 5, 1, 2, 3, tzinfo=timezone.utc)
    assert parse_from_line(b"From x Sun Nov 29 07:44:52 2026 +0100\n")[1] == datetime(2026, 11, 29, 6, 44, 52, tzinfo=timezone.utc)
    assert parse_from_line(b"From nobody\n") == ("nobody", None)


def test_dates_and_senders_round_trip():
    data = write_mbox([MboxMessage(b"Subject: x\n\n", "alice@example.org", WHEN)])
    [back] = read_mbox(data)
    assert (back.sender, back.date) == ("alice@example.org", WHEN)


def test_a_file_that_is_not_an_mbox_is_refused():
    with pytest.raises(MboxError, match="not an mbox"):
        read_mbox(b"Subject: not an mbox\n", "mboxrd")


def test_a_message_without_header_fields_is_read_as_it_is():
    """Whether it is mail is the server's to say (Dovecot stores it, Cyrus refuses it): issue 27, item 16."""
    [message] = read_mbox(b"From a Sun Nov 29 07:44:52 2026\nthis is no header\n\n", "mboxrd")
    assert message.problem == "" and message.content == b"this is no header\n"


@pytest.mark.parametrize("data,words", [
    (b"From a Sun Nov 29 07:44:52 2026\nSubject: x\n\ncut in the mid", "cut short"),
])
def test_a_bad_message_carries_its_problem_and_the_others_are_read(data, words):
    good = b"From b Sun Nov 29 07:44:52 2026\nSubject: fine\n\nok\n\n"
    first, second = read_mbox(good + data, "mboxrd")
    assert first.problem == "" and first.content == b"Subject: fine\n\nok\n"
    assert second.problem.startswith("message 2 (byte ") and words in second.problem


def test_content_length_past_the_end_means_cut_short():
    [message] = read_mbox(b"From a Sun Nov 29 07:44:52 2026\nContent-Length: 500\n\nshort\n", "mboxcl2")
    assert "reaches past the end of the file: cut short" in message.problem


# -- the standard library, for comparison ------------------------------------------------------
def test_stdlib_mbox_reads_our_mboxo_except_that_it_never_unquotes(tmp_path):
    path = tmp_path / "box"
    path.write_bytes(write_mbox([MboxMessage(b"Subject: 1\n\nplain\n", "a", WHEN),
                                 MboxMessage(b"Subject: 2\n\nFrom line\n", "a", WHEN)], "mboxo"))
    box = mailbox.mbox(str(path), create=False)
    assert [box.get_bytes(k) for k in box.keys()] == [b"Subject: 1\n\nplain\n", b"Subject: 2\n\n>From line\n"]


def test_stdlib_maildir_get_bytes_is_the_file(tmp_path):
    from imapwright.mailstore.maildir import read_maildir, write_maildir
    from imapwright.mailstore.message import StoredMessage
    content = b"Subject: raw\r\n\r\n\x00\xff bytes\rno final newline"
    write_maildir(tmp_path / "md", [StoredMessage(content, frozenset({"\\Seen", "\\Flagged"}), WHEN)])
    [back] = read_maildir(tmp_path / "md")
    assert (back.content, back.flags, back.date) == (content, frozenset({"\\Seen", "\\Flagged"}), WHEN)


# -- any message survives the reversible variants -----------------------------------------------
lines = st.lists(st.one_of(st.sampled_from([b"From x", b">From y", b">>From", b"", b"From", b"\r"]),
                           st.binary(max_size=30).map(lambda b: b.replace(b"\n", b""))), max_size=8)
messages = st.builds(lambda body, crlf: b"Subject: t\n\n" + (b"\r\n" if crlf else b"\n").join(body) + b"\n",
                     lines, st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, min_size=1, max_size=4), st.sampled_from(["mboxrd", "mboxcl2"]))
def test_any_messages_round_trip(contents, variant):
    assert roundtrip(contents, variant) == contents


@given(st.binary(max_size=16).map(lambda b: bytes(b"ab\r\n"[x % 4] for x in b)), st.integers(0, 16))
def test_a_header_ends_where_the_first_blank_line_ends_whatever_its_line_ends(data, start):
    """_header_end finds the blank line by two finds; it agrees with the expression it replaced."""
    start = min(start, len(data))
    match = re.compile(rb"\r?\n\r?\n").search(data, start)
    if data[start:start + 1] != b"\n" and data[start:start + 2] != b"\r\n":  # a header that is empty: its own case
        assert _header_end(data, start) == (match.end() - start if match else None)


@given(st.lists(st.tuples(st.one_of(st.just(0), st.integers(-3, 3), st.integers(-(1 << 63), (1 << 63) - 1)),
                          st.booleans()), max_size=300))
def test_a_plans_risk_counts_from_its_columns_are_a_sets(facts):
    """MboxMessages.risk_counts' own table of Message-ID keys counts as a set of them would."""
    from array import array
    from pathlib import Path

    from imapwright.mailstore.mbox import MboxMessages

    messages = MboxMessages(Path("INBOX"), "mboxrd", "INBOX")
    messages._mid, messages._dated = array("q", [m for m, _ in facts]), bytearray(d for _, d in facts)
    seen, shared = set(), 0
    for mid, _ in facts:
        shared += mid != 0 and mid in seen
        seen.add(mid)
    assert messages.risk_counts() == (shared, sum(m == 0 for m, _ in facts), sum(not d for _, d in facts))


_LINES = st.lists(st.sampled_from([b"From a", b">From b", b">>From c", b"From", b" From d", b"x", b"", b"\r"]),
                  max_size=8).map(b"\n".join)


@given(_LINES, st.sampled_from(["mboxrd", "mboxo", "mboxcl", "mboxcl2"]), st.booleans())
def test_quoting_skips_a_message_without_from_lines_and_otherwise_does_as_the_expression(content, variant, undo):
    """_quote returns a message with no From_ line to (un)quote as it is, without the expression:
    the same answer as the expression on every message."""
    from imapwright.mailstore.mbox import _QUOTING, _quote

    rules = _QUOTING.get(variant)
    expected = re.sub(*rules[1 if undo else 0], content) if rules else content
    assert _quote(content, variant, undo) == expected


@given(st.lists(st.sampled_from([b"a", b"\n", b"\r", b"\r\n", b"From "]), max_size=12).map(b"".join))
def test_crlf_by_replace_is_the_expressions_answer(content):
    from imapwright.mailstore.message import to_crlf

    assert to_crlf(content) == re.sub(rb"\r?\n", b"\r\n", content)


def test_messages_are_written_as_they_come_not_held_whole():
    """revert streams a folder from the server into its file: each message is written before the
    next is asked for (a folder of a million messages was read whole, then written whole)."""
    import io
    from imapwright.mailstore.mbox import write_mbox_to
    out = io.BytesIO()
    written_before = []

    def messages():
        for n in range(3):
            written_before.append(out.tell())
            yield MboxMessage(b"Subject: %d\n\nbody\n" % n, "a@b", WHEN)

    assert write_mbox_to(out, messages()) == 3
    assert written_before[0] == 0 and written_before[1] > 0 and written_before[2] > written_before[1]
    assert out.getvalue() == write_mbox([MboxMessage(b"Subject: %d\n\nbody\n" % n, "a@b", WHEN) for n in range(3)])
