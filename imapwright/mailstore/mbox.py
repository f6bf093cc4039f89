"""Berkeley mbox in its four variants, byte for byte.

  mboxo    body lines "From ..." written as ">From ..."; reading turns every ">From " back, so a
           body line that really was ">From ..." comes back changed (the format cannot tell)
  mboxrd   every ">*From " line gets one more ">", reading removes one: reversible
  mboxcl   mboxo quoting (and its ambiguity) plus a Content-Length header; the reader trusts a
           length that lands on the next From_ line or the end of the file
  mboxcl2  no quoting at all, Content-Length alone marks where the message ends

Without Content-Length a message must end in a newline (the blank line before the next From_
line is the separator), so o/rd files cannot keep a missing final newline; cl/cl2 can.
The standard library's mailbox.mbox reads and writes mboxo but never unquotes ">From " on
reading (tests/test_mbox.py shows both), hence this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

VARIANTS = ("mboxo", "mboxrd", "mboxcl", "mboxcl2")
_FROM_DATE = re.compile(rb"^From \S+\s+(?P<date>\w{3} \w{3} [ \d]\d \d\d:\d\d(?::\d\d)?(?: [A-Z]{3,4})? \d{4}"
                        rb"(?: [+-]\d{4})?)\s*$")
_DATE_FORMATS = ("%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M %Y", "%a %b %d %H:%M:%S %Z %Y", "%a %b %d %H:%M:%S %Y %z")
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")
_CONTENT_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)


class MboxError(ValueError):
    """The file is not an mbox of the given variant, or it is cut short."""


@dataclass
class MboxMessage:
    content: bytes  # the message as stored, unquoted; mbox metadata headers still in it
    sender: str = "MAILER-DAEMON"
    date: datetime | None = None  # from the From_ line (UTC); None when it has no date
    offset: int = 0  # of the From_ line, for error messages


def parse_from_line(line: bytes) -> tuple[str, datetime | None]:
    """Sender and date of a From_ line ("From sender Tue Nov 29 07:44:52 2026")."""
    sender = line[5:].split(None, 1)[0].decode("latin-1") if len(line) > 5 and line[5:].strip() else ""
    match = _FROM_DATE.match(line.rstrip(b"\r\n"))
    if not match:
        return sender, None
    text = re.sub(r"\s+", " ", match["date"].decode())
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return sender, parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return sender, None


def from_line(sender: str, date: datetime | None) -> bytes:
    """A From_ line in the asctime form every reader accepts (UTC: the format has no zone)."""
    when = (date or datetime(1970, 1, 1, tzinfo=timezone.utc)).astimezone(timezone.utc)
    return f"From {sender or 'MAILER-DAEMON'} {when:%a %b %d %H:%M:%S %Y}\n".encode()


# variant -> ((quote pattern, replacement), (unquote pattern, replacement)); mboxcl2 has none.
_QUOTING = {
    "mboxrd": ((rb"(?m)^(>*From )", rb">\1"), (rb"(?m)^>(>*From )", rb"\1")),
    "mboxo": ((rb"(?m)^From ", rb">From "), (rb"(?m)^>From ", rb"From ")),
    "mboxcl": ((rb"(?m)^From ", rb">From "), (rb"(?m)^>From ", rb"From ")),
}


def _quote(content: bytes, variant: str, undo: bool = False) -> bytes:
    rules = _QUOTING.get(variant)
    if rules is None:
        return content
    pattern, replacement = rules[1 if undo else 0]
    return re.sub(pattern, replacement, content)


def _header_end(content: bytes) -> int | None:
    """Offset just past the blank line ending the header block, or None if there is none."""
    match = re.search(rb"\r?\n\r?\n", content)
    if content.startswith((b"\n", b"\r\n")):
        return content.index(b"\n") + 1
    return match.end() if match else None


def write_mbox(messages: list[MboxMessage], variant: str = "mboxrd") -> bytes:
    if variant not in VARIANTS:
        raise MboxError(f"unknown mbox variant {variant!r} (one of {', '.join(VARIANTS)})")
    out = bytearray()
    for message in messages:
        out += from_line(message.sender, message.date)
        content = _quote(message.content, variant)
        if variant in ("mboxcl", "mboxcl2"):
            content = _with_content_length(content)
            out += content
            out += b"\n" if content.endswith(b"\n") else b"\n\n"
        else:
            out += content if content.endswith(b"\n") else content + b"\n"
            out += b"\n"
    return bytes(out)


def _with_content_length(content: bytes) -> bytes:
    """Content-Length as the first header line, so reading can drop exactly what was added."""
    end = _header_end(content)
    return f"Content-Length: {0 if end is None else len(content) - end}\n".encode() + content


def read_mbox(data: bytes, variant: str = "mboxrd") -> list[MboxMessage]:
    """Messages of an mbox file. MboxError for a file that is not an mbox, a message that does
    not start with a header field, or a file cut short (a last line without its newline, a
    Content-Length reaching past the end)."""
    if variant not in VARIANTS:
        raise MboxError(f"unknown mbox variant {variant!r} (one of {', '.join(VARIANTS)})")
    if not data:
        return []
    if not data.startswith(b"From "):
        raise MboxError("not an mbox file: the first line is not a From_ line")
    if not data.endswith(b"\n"):
        raise MboxError("the last line has no newline: the file is cut short")
    messages: list[MboxMessage] = []
    pos = 0
    while pos < len(data):
        number = len(messages) + 1
        line_end = data.index(b"\n", pos) + 1
        sender, date = parse_from_line(data[pos:line_end])
        stop = next_start = None
        if variant in ("mboxcl", "mboxcl2"):
            stop, next_start = _by_content_length(data, line_end, number)
        if stop is None:
            stop, next_start = _by_separator(data, line_end)
        raw = data[line_end:stop]
        if raw.strip() and not _HEADER_LINE.match(raw):
            raise MboxError(f"message {number} (byte {pos}) does not start with a header field: not mail")
        if variant in ("mboxcl", "mboxcl2"):
            raw = _drop_content_length(raw)
        messages.append(MboxMessage(_quote(raw, variant, undo=True), sender, date, pos))
        pos = next_start
    return messages


def _by_content_length(data: bytes, start: int, number: int) -> tuple[int | None, int | None]:
    head_end = _header_end(data[start:start + 256 * 1024])
    if head_end is None:
        return None, None
    match = _CONTENT_LENGTH.search(data, start, start + head_end)
    if not match:
        return None, None
    stop = start + head_end + int(match[1])
    if stop > len(data):
        raise MboxError(f"message {number}: Content-Length {match[1].decode()} reaches past the end "
                        f"of the file: the file is cut short")
    # Trust the length only if the next message (or the end of the file) follows it.
    for gap in (b"\n", b"\n\n", b""):
        after = stop + len(gap)
        if data[stop:after] == gap and (after == len(data) or data.startswith(b"From ", after)):
            return stop, after
    return None, None


def _by_separator(data: bytes, start: int) -> tuple[int, int]:
    """End of a message: before the blank line that precedes the next From_ line, or the end
    (less the writer's blank separator line when the file ends with one)."""
    found = data.find(b"\n\nFrom ", start - 1)
    if found >= 0:
        return found + 1, found + 2
    end = len(data)
    return (end - 1 if data.endswith(b"\n\n") and end - 1 >= start else end), end


def _drop_content_length(raw: bytes) -> bytes:
    end = _header_end(raw) or len(raw)
    head = re.sub(rb"(?im)^Content-Length:[ \t]*\d+[ \t]*\r?\n", b"", raw[:end], count=1)
    return head + raw[end:]
