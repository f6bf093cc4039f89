"""External servers given as `--target imap://ADMIN@HOST:PORT[?lmtp=HOST:PORT&exec=docker:CONTAINER]`.

The admin password comes from the environment variable IMAPWRIGHT_TARGET_PASSWORD, never the URL.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import socket
from urllib.parse import parse_qs, unquote, urlsplit

import docker.errors
import imapclient

from ..errors import ServerError, UserError
from . import engine, identify
from .channel import DockerChannel
from .families import FAMILIES
from .handle import Endpoint, ServerHandle

PASSWORD_ENV = "IMAPWRIGHT_TARGET_PASSWORD"


def _endpoint(text: str, what: str) -> Endpoint:
    m = re.fullmatch(r"\[?([^\]]+?)\]?:(\d+)", text)
    if not m:
        raise UserError(f"{what} {text!r}: expected HOST:PORT")
    return Endpoint(m.group(1), int(m.group(2)))


def parse_target(url: str) -> tuple[str, Endpoint, Endpoint | None, str | None, Endpoint | None]:
    """(admin user, IMAP endpoint, LMTP endpoint or None, exec container name or None,
    ManageSieve endpoint or None)."""
    parts = urlsplit(url)
    if parts.scheme != "imap" or not parts.hostname or not parts.username:
        raise UserError(f"target {url!r}: expected imap://ADMIN@HOST:PORT")
    if parts.password:
        raise UserError(f"target URL must not carry a password; set {PASSWORD_ENV}")
    query = parse_qs(parts.query)
    lmtp = _endpoint(query["lmtp"][0], "lmtp address") if "lmtp" in query else None
    sieve = _endpoint(query["sieve"][0], "sieve address") if "sieve" in query else None
    exec_channel = query.get("exec", [None])[0]
    container = None
    if exec_channel:
        if not exec_channel.startswith("docker:"):
            raise UserError(f"exec channel {exec_channel!r}: only docker:CONTAINER is supported")
        container = exec_channel.removeprefix("docker:")
    try:
        port = parts.port or 143
    except ValueError:
        raise UserError(f"target {url!r}: bad port") from None
    return unquote(parts.username), Endpoint(parts.hostname, port), lmtp, container, sieve


def connect_target(url: str, stated_version: str | None = None) -> ServerHandle:
    """A handle on the server at `url`, checked: an IMAP greeting, the admin's login, the family and
    version (what the server says, its own tool over the exec channel, or `stated_version`)."""
    admin, imap, lmtp, container_name, sieve = parse_target(url)
    if stated_version:
        identify.parse_stated(stated_version)  # a malformed statement before any connection
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise UserError(f"set {PASSWORD_ENV} to the target admin's password")
    if not password.isascii():
        # IMAP LOGIN carries ASCII only (RFC 3501 quoted strings); imaplib would raise deep inside.
        raise UserError(f"{PASSWORD_ENV} holds non-ASCII characters; IMAP LOGIN cannot carry them")
    greeting = identify.read_greeting(imap.host, imap.port)
    fields = _login_and_id(imap, admin, password)
    said = [identify.from_id(fields), identify.from_greeting(greeting)]
    container = None
    if container_name:
        try:
            container = engine.client().containers.get(container_name)
        except docker.errors.NotFound:
            raise UserError(f"exec channel: no container named {container_name!r}") from None
    family_name = identify.combine(*said).family
    channel = DockerChannel(container) if container is not None else None
    tool = _tool_identity(channel, family_name) if channel is not None else None
    identity = identify.combine(*said, *([tool] if tool else []), stated=stated_version)
    if identity.family is None:
        raise UserError(f"target {imap}: cannot tell whether it is Cyrus or Dovecot from its greeting "
                        f"({greeting[:80]!r}) or ID; say so with --target-version cyrus:VERSION or dovecot:VERSION")
    family = FAMILIES[identity.family]
    features = ({"lmtp"} if lmtp else set()) | ({"sieve"} if sieve else set())
    if container is not None:
        # With an exec channel the server's own tools are reachable: what the family offers, except
        # restarting a container the harness does not own.
        features |= family.features - {"restart", "sieve"}
    return ServerHandle(
        name="target", family=family, version=identity.version, imap=imap, lmtp=lmtp,
        admin_user=admin, admin_password=password, container=container, features=frozenset(features),
        owned=False, sieve=sieve, version_source=identity.source,
    )


def _login_and_id(imap: Endpoint, admin: str, password: str) -> dict[str, str]:
    """Log in as the admin and ask ID (RFC 2971) where offered; every failure is one line."""
    try:
        client = imapclient.IMAPClient(imap.host, port=imap.port, ssl=False, timeout=10)
    except imaplib.IMAP4.error as exc:
        raise ServerError(f"target {imap}: {_short(exc)}; not a usable IMAP server") from None
    except OSError as exc:
        raise ServerError(f"target {imap}: connection failed after the greeting: {exc}") from None
    try:
        try:
            client.login(admin, password)
        except imapclient.exceptions.LoginError:
            raise UserError(f"target {imap}: login as {admin} refused (wrong password?)") from None
        except imaplib.IMAP4.error as exc:  # BAD, or a broken reply: not an IMAP server we can use
            raise ServerError(f"target {imap}: LOGIN answered {_short(exc)}; not a usable IMAP server") from None
        if not client.has_capability("ID"):
            return {}
        try:
            return identify.id_fields(client.id_())
        except imaplib.IMAP4.error:
            return {}
    except (OSError, socket.timeout) as exc:
        raise ServerError(f"target {imap}: connection failed after the greeting: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _short(exc: Exception) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text[:120] or type(exc).__name__


def _tool_identity(channel: DockerChannel, family_name: str | None) -> identify.Identity | None:
    """The version the server's own tool prints, run through the exec channel; where the family is
    not yet known, each family's tool is tried."""
    try:
        for name in [family_name] if family_name else list(FAMILIES):
            code, out, _err = channel.run(["sh", "-c", FAMILIES[name].version_command], "root")
            if code == 0:
                found = identify.from_tool_output(name, out.decode(errors="replace"))
                if found.version:
                    return found
    except (OSError, docker.errors.APIError):
        return None
    finally:
        channel.close()
    return None
