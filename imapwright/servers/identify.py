"""What is listening on a port, and which server family and version it is.

A target's greeting is read on a raw socket first, so that a port that is not IMAP (an SMTP or SSH
banner, an HTTP server, a server that hangs up) is named in one line instead of failing deep inside
an IMAP library. Family and version then come from what the server says of itself (ID, RFC 2971;
the greeting), from its own tools over the exec channel, or from the user (`--target-version`).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from ..errors import ServerError, UserError
from .families import FAMILIES

FAMILY_NAMES = tuple(FAMILIES)
GREETING_TIMEOUT = 5.0


@dataclass(frozen=True)
class Identity:
    family: str | None  # "cyrus", "dovecot", or None when nothing said
    version: str  # as the server reports it; "" when unknown
    source: str  # where the version came from: "ID", "greeting", "exec", "stated", or "" (unknown)

    def describe(self) -> str:
        return f"{self.family or 'unknown family'} {self.version or 'version unknown'}" + (
            f" (from {self.source})" if self.source else "")


def classify_banner(banner: bytes) -> str | None:
    """None when `banner` is an IMAP greeting (RFC 3501 7.1: OK or PREAUTH); else what answered."""
    text = banner.decode("latin-1", errors="replace").strip()
    first = text.splitlines()[0] if text else ""
    if re.match(r"\* (OK|PREAUTH)\b", first, re.I):
        return None
    if re.match(r"\* BYE\b", first, re.I):
        return f"the server refused the connection ({first[:120]})"
    if first.startswith("SSH-"):
        return f"an SSH server answered ({first[:60]})"
    if re.match(r"220[ -]", first):
        return f"an SMTP or LMTP server answered ({first[:80]})"
    if first.startswith("HTTP/"):
        return f"an HTTP server answered ({first[:60]})"
    if re.match(r"\+OK\b", first):
        return f"a POP3 server answered ({first[:80]})"
    if re.match(r"OK\b", first):
        return f"a ManageSieve server answered ({first[:80]})"
    if not first:
        return "the connection was closed without a greeting"
    return f"not an IMAP greeting: {first[:80]!r}"


def read_greeting(host: str, port: int, timeout: float = GREETING_TIMEOUT) -> str:
    """The IMAP greeting of host:port; ServerError naming what answered when it is not IMAP."""
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ServerError(f"target {where} unreachable: {exc}") from None
    with sock:
        data = b""
        try:
            while b"\n" not in data and len(data) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            if not data:
                # Client-speaks-first protocols (HTTP, TLS) wait silently: ask, to say what it is.
                if _speaks_tls(host, port):
                    raise ServerError(f"target {where} sent no greeting within {timeout:g} s but answers TLS: "
                                      f"an IMAPS port? give it as imaps://{where}") from None
                kind = _silent_service(sock)
                raise ServerError(f"target {where} is not an IMAP server: no greeting within {timeout:g} s"
                                  + (f"; {kind}" if kind else "")) from None
        except OSError as exc:
            raise ServerError(f"target {where}: connection failed while reading the greeting: {exc}") from None
    problem = classify_banner(data)
    if problem:
        raise ServerError(f"target {where} is not an IMAP server: {problem}")
    return data.decode("utf-8", errors="replace").strip()


def _speaks_tls(host: str, port: int) -> bool:
    """Whether a TLS handshake with host:port completes (certificate not judged: only the protocol)."""
    import ssl

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=3) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return True
    except OSError:  # ssl.SSLError included
        return False


def _silent_service(sock: socket.socket) -> str:
    try:
        sock.settimeout(2)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply = sock.recv(200)
    except OSError:
        return ""
    if not reply:
        return ""
    return classify_banner(reply) or ""


def id_fields(parsed: object) -> dict[str, str]:
    """imapclient's parsed ID response, ((b"name", b"Cyrus IMAPD", ...),) or None, as a dict with
    lower-case keys (RFC 2971: field names are case-insensitive, values may be NIL)."""
    items: object = parsed
    # imapclient wraps the parenthesized list in one more tuple; unwrap until the flat list.
    while isinstance(items, (tuple, list)) and len(items) == 1 and isinstance(items[0], (tuple, list)):
        items = items[0]
    if not isinstance(items, (tuple, list)):
        return {}
    out = {}
    for i in range(0, len(items) - 1, 2):
        key, value = items[i], items[i + 1]
        if isinstance(key, bytes):
            key = key.decode(errors="replace")
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        if isinstance(key, str):
            out[key.lower()] = "" if value is None else str(value)
    return out


_VERSION = r"(\d+\.\d+(?:\.\d+)*(?:[-.+~][\w.+~-]*)?)"


def family_of(text: str) -> str | None:
    low = text.lower()
    if "cyrus" in low:
        return "cyrus"
    if "dovecot" in low:
        return "dovecot"
    return None


def from_id(fields: dict[str, str]) -> Identity:
    family = family_of(fields.get("name", "")) or family_of(fields.get("vendor", ""))
    m = re.match(_VERSION, fields.get("version", "").strip())
    return Identity(family, m.group(1) if m else "", "ID" if m else "")


def from_greeting(greeting: str) -> Identity:
    """Cyrus with serverinfo on: "* OK [CAPABILITY ...] host Cyrus IMAP 3.6.1-Debian-3.6.1-4 server
    ready"; Dovecot: "* OK [CAPABILITY ...] Dovecot (Debian) ready." (no version)."""
    text = re.sub(r"\[[^\]]*\]", " ", greeting)  # the response code holds capabilities, not names
    family = family_of(text)
    m = re.search(r"(?:Cyrus IMAP[a-z]*|Dovecot)\s+(?:v)?" + _VERSION, text, re.I)
    return Identity(family, m.group(1) if m else "", "greeting" if m else "")


def from_tool_output(family: str, output: str) -> Identity:
    """The server's own tool: Cyrus `master -V` ("cyrus-imapd 3.6.1-Debian-3.6.1-4"), `dovecot
    --version` ("2.3.19.1 (9b53102964)")."""
    if family == "cyrus":
        m = re.search(r"cyrus-imapd\s+v?" + _VERSION, output)
    else:
        m = re.match(r"\s*" + _VERSION, output)
    return Identity(family, m.group(1) if m else "", "exec" if m else "")


def parse_stated(text: str) -> tuple[str | None, str]:
    """--target-version: "3.6.1", "cyrus:3.6.1" or "cyrus 3.6" -> (family or None, version)."""
    m = re.fullmatch(r"\s*(?:([a-z]+)[: ]\s*)?" + _VERSION + r"\s*", text or "")
    if not m:
        raise UserError(f"--target-version {text!r}: expected VERSION or FAMILY:VERSION, e.g. 3.6.1 or cyrus:3.6")
    family = m.group(1)
    if family is not None and family not in FAMILY_NAMES:
        raise UserError(f"--target-version {text!r}: unknown family {family!r} (one of {', '.join(FAMILY_NAMES)})")
    return family, m.group(2)


def combine(*candidates: Identity, stated: str | None = None) -> Identity:
    """The identity from the first source that knows each part; a stated version wins, and a stated
    family that contradicts what the server says of itself is an error."""
    family = next((c.family for c in candidates if c.family), None)
    if stated:
        stated_family, version = parse_stated(stated)
        if stated_family and family and stated_family != family:
            raise UserError(f"--target-version says {stated_family}, but the server says it is {family}")
        return Identity(stated_family or family, version, "stated")
    known = next((c for c in candidates if c.version and (c.family in (None, family))), None)
    return Identity(family, known.version if known else "", known.source if known else "")
