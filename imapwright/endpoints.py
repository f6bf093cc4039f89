"""HOST:PORT as people write it (a --target's lmtp= and sieve=, --master and --master-bind, the
Locust processes' IMAPWRIGHT_LOAD_IMAP): the one parser; each caller words its own error."""

from __future__ import annotations

import re

_FORM = re.compile(r"\[?([^\[\]\s]+?)\]?:(\d+)")  # an IPv6 host in brackets or bare: [::1]:143, ::1:143


def parse_host_port(text: str) -> tuple[str, int]:
    """("127.0.0.1", 143) from "127.0.0.1:143"; ValueError when it is not HOST:PORT with a port
    from 1 to 65535."""
    m = _FORM.fullmatch(text.strip())
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    return m.group(1), int(m.group(2))
