"""What servers do to a message on its way in, as named rules (measured per method and server by
suites/migration/test_server_rewrites.py, listed in fixtures/migration/methods.toml with references).

Verify and the re-run of apply compare messages by a key that the listed rules cannot change, so
a message the server rewrote is found as "altered by the server" (naming the rules), never as
missing plus extra; and a message the server dropped is named as dropped, with the rule.
"""

from __future__ import annotations

import hashlib
import re

from .message import _header_block, normalize, to_crlf, without_trace

ALTERING = {
    "8bit-headers-munged": "8-bit bytes in header fields replaced by 'X'",
    "date-added": "a Date: header added to a message without one",
    "message-id-added": "a Message-ID: header added to a message without one",
    "return-path-removed": "Return-Path: header fields below the top removed",
    "nul-replaced": "NUL bytes replaced by 0x80",
    "nul-literal8": "a message holding NUL bytes is kept, but FETCH BODY[] answers with a literal8 "
                    "(~{n}, RFC 3516 BINARY syntax) that IMAP clients without BINARY cannot read",
}
DROPPING = {
    "duplicate-message-id-dropped": "a message with the Message-ID of one delivered before is dropped "
                                    "(duplicate suppression)",
}
RULES = {**ALTERING, **DROPPING}
_GENERATED_ID = re.compile(rb"^Message-ID:[ \t]*<cmu-lmtpd-", re.I)


def _fields(content: bytes) -> tuple[list[bytes], bytes]:
    """Header fields (continuation lines joined to theirs) and the rest."""
    lines, rest = _header_block(content)
    fields: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields, rest


def _name(field: bytes) -> str:
    return field.split(b":", 1)[0].strip().decode("latin-1").lower()


def loosen(content: bytes, rules: frozenset[str], trace: bool = True) -> bytes:
    """The content with what the rules may change taken out (or made the same on both sides)."""
    content = normalize(content if trace else without_trace(content))
    if not rules & ALTERING.keys():
        return content
    fields, rest = _fields(content)
    kept = []
    for field in fields:
        name = _name(field)
        if "date-added" in rules and name == "date":
            continue
        if "message-id-added" in rules and _GENERATED_ID.match(field):
            continue
        if "return-path-removed" in rules and name == "return-path":
            continue
        if "8bit-headers-munged" in rules:
            field = re.sub(rb"[\x80-\xff]", b"X", field)
        kept.append(field)
    body = rest
    if "nul-replaced" in rules:
        kept = [f.replace(b"\0", b"\x80") for f in kept]
        body = body.replace(b"\0", b"\x80")
    return b"".join(kept) + body


_LITERAL8 = re.compile(rb"~\{(\d+)\}")


def key(content: bytes, rules: frozenset[str], trace: bool = True) -> str:
    """The digest two copies of one message share whatever the rules did to one of them."""
    if "nul-literal8" in rules:
        # What the harness's IMAP client reads of a literal8 is its size alone: match on that.
        m = _LITERAL8.fullmatch(content.strip())
        if m:
            return f"literal8:{m[1].decode()}"
        if b"\0" in content:
            return f"literal8:{len(to_crlf(normalize(content)))}"
    return hashlib.sha256(loosen(content, rules, trace)).hexdigest()


def explain(source: bytes, stored: bytes, rules: frozenset[str], trace: bool = True) -> list[str]:
    """Which rules changed `source` into `stored` (both of one key): [] when nothing changed."""
    a = normalize(source if trace else without_trace(source))
    b = normalize(stored if trace else without_trace(stored))
    if a == b:
        return []
    if "nul-literal8" in rules and b"\0" in a and _LITERAL8.fullmatch(stored.strip()):
        return ["nul-literal8"]  # nothing else of the stored copy can be read
    fa, _ = _fields(a)
    fb, _ = _fields(b)
    names_a, names_b = {_name(f) for f in fa}, {_name(f) for f in fb}
    found = []
    if "8bit-headers-munged" in rules and any(re.search(rb"[\x80-\xff]", f) for f in fa) \
            and not any(re.search(rb"[\x80-\xff]", f) for f in fb):
        found.append("8bit-headers-munged")
    if "date-added" in rules and "date" not in names_a and "date" in names_b:
        found.append("date-added")
    if "message-id-added" in rules and "message-id" not in names_a and any(_GENERATED_ID.match(f) for f in fb):
        found.append("message-id-added")
    if "return-path-removed" in rules and sum(n == "return-path" for n in map(_name, fa)) > \
            sum(n == "return-path" for n in map(_name, fb)):
        found.append("return-path-removed")
    if "nul-replaced" in rules and b"\0" in a and b"\0" not in b:
        found.append("nul-replaced")
    return found or ["(unexplained)"]


def message_id(content: bytes) -> bytes | None:
    for field in _fields(normalize(content))[0]:
        if _name(field) == "message-id":
            return field.split(b":", 1)[1].strip()
    return None


def dropped_by(message: bytes, rules: frozenset[str], stored_ids: set[bytes]) -> str | None:
    """The rule under which the server may have dropped this source message, or None."""
    if "duplicate-message-id-dropped" in rules:
        mid = message_id(message)
        if mid is not None and mid in stored_ids:
            return "duplicate-message-id-dropped"
    return None
