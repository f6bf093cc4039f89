"""External servers given as `--target imap://ADMIN@HOST:PORT[?lmtp=HOST:PORT&exec=docker:CONTAINER]`.

The admin password comes from the environment variable IMAPWRIGHT_TARGET_PASSWORD, never the URL.
"""

from __future__ import annotations

import os
import re
import socket
from urllib.parse import parse_qs, unquote, urlsplit

import docker.errors
import imapclient

from ..errors import ServerError, UserError
from . import engine
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


def connect_target(url: str) -> ServerHandle:
    admin, imap, lmtp, container_name, sieve = parse_target(url)
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise UserError(f"set {PASSWORD_ENV} to the target admin's password")
    try:
        client = imapclient.IMAPClient(imap.host, port=imap.port, ssl=False, timeout=10)
    except (OSError, socket.timeout) as exc:
        raise ServerError(f"target {imap} unreachable: {exc}") from None
    try:
        greeting = client.welcome.decode(errors="replace")
        try:
            client.login(admin, password)
        except imapclient.exceptions.LoginError:
            raise UserError(f"target {imap}: login as {admin} refused (wrong password?)") from None
        ident = {}
        if client.has_capability("ID"):
            raw = client.id_() or ()
            ident = {raw[i].decode().lower(): (raw[i + 1] or b"").decode() for i in range(0, len(raw) - 1, 2)}
    finally:
        try:
            client.logout()
        except Exception:
            pass
    family_name = "dovecot" if "dovecot" in (greeting + ident.get("name", "")).lower() else "cyrus"
    family = FAMILIES[family_name]
    features = ({"lmtp"} if lmtp else set()) | ({"sieve"} if sieve else set())
    container = None
    if container_name:
        try:
            container = engine.client().containers.get(container_name)
        except docker.errors.NotFound:
            raise UserError(f"exec channel: no container named {container_name!r}") from None
        # With an exec channel the server's own tools are reachable: what the family offers, except
        # restarting a container the harness does not own.
        features |= family.features - {"restart", "sieve"}
    return ServerHandle(
        name="target", family=family, version=ident.get("version", "unknown"), imap=imap, lmtp=lmtp,
        admin_user=admin, admin_password=password, container=container, features=frozenset(features),
        owned=False, sieve=sieve,
    )
