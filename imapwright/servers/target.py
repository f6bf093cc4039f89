"""External servers given as `--target imap[s]://ADMIN@HOST:PORT[?lmtp=HOST:PORT&exec=CHANNEL&log=PATH]`,
where CHANNEL is docker:CONTAINER or ssh:USER@HOST[:PORT] (the server's own tools and logs; the
key from IMAPWRIGHT_SSH_KEY or the agent) and PATH the server's syslog file on that side.
imaps:// is IMAP over TLS (RFC 8314, port 993 by default); ?starttls=1 upgrades imap:// before
LOGIN. Certificates are verified against the system's trust (SSL_CERT_FILE to name a CA) unless
?insecure=1 or --insecure says to accept them.

The admin password comes from the environment variable IMAPWRIGHT_TARGET_PASSWORD, never the URL.
"""

from __future__ import annotations

import contextlib
import errno
import imaplib
import os
import re
import shutil
import socket
import ssl
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, unquote, urlsplit

import imapclient

from ..errors import ServerError, UserError
from . import identify
from ..endpoints import parse_host_port
from .channel import SSH_KEY_ENV, DockerChannel, ExecChannel, SSHChannel, SSHError
from .families import FAMILIES
from .handle import Endpoint, ServerHandle

PASSWORD_ENV = "IMAPWRIGHT_TARGET_PASSWORD"
# How --target is written, for every command's help and error (the command line and the pytest plugin).
TARGET_FORM = ("imap[s]://ADMIN@HOST:PORT[?lmtp=HOST:PORT&sieve=HOST:PORT&exec=docker:NAME|ssh:USER@HOST[:PORT]"
               "&log=PATH&starttls=1&insecure=1]")
TARGET_HELP = f"{TARGET_FORM}; password from {PASSWORD_ENV}"


def _endpoint(text: str, what: str) -> Endpoint:
    try:
        return Endpoint(*parse_host_port(text))
    except ValueError:
        raise UserError(f"{what} {text!r}: expected HOST:PORT") from None


@dataclass(frozen=True)
class ExecSpec:
    """An exec channel as the URL gives it: docker:CONTAINER, or ssh:LOGIN@HOST[:PORT]."""
    kind: str
    container: str | None = None
    login: str | None = None
    host: str | None = None
    port: int = 22
    log: str | None = None  # the server's log file on the far side (log=PATH), else the images' place


def parse_exec(text: str) -> ExecSpec:
    kind, _, rest = text.partition(":")
    if kind == "docker" and rest:
        return ExecSpec("docker", container=rest)
    if kind == "ssh":
        m = re.fullmatch(r"([^@\s]+)@(\[[^\]]+\]|[^:@\s]+)(?::(\d{1,5}))?", rest)
        if not m or not 0 < int(m.group(3) or 22) < 65536:
            raise UserError(f"exec channel {text!r}: expected ssh:USER@HOST[:PORT]")
        return ExecSpec("ssh", login=m.group(1), host=m.group(2).strip("[]"), port=int(m.group(3) or 22))
    raise UserError(f"exec channel {text!r}: expected docker:CONTAINER or ssh:USER@HOST[:PORT]")


@dataclass(frozen=True)
class TargetURL:
    admin: str
    imap: Endpoint
    lmtp: Endpoint | None = None
    exec: ExecSpec | None = None
    sieve: Endpoint | None = None
    tls: str = ""  # "" plain, "imaps" (imaps://), "starttls" (?starttls=1)
    insecure: bool = False  # ?insecure=1: a certificate that does not verify is accepted


def format_target(admin: str, imap: Endpoint, tls: str = "", lmtp: Endpoint | None = None,
                  sieve: Endpoint | None = None, exec_: str | None = None) -> str:
    """The --target URL parse_target reads back: `tls` "" (imap://), "imaps" or "starttls"."""
    query = [f"lmtp={lmtp}"] if lmtp else []
    query += [f"sieve={sieve}"] if sieve else []
    query += [f"exec={exec_}"] if exec_ else []
    query += ["starttls=1"] if tls == "starttls" else []
    return f"{'imaps' if tls == 'imaps' else 'imap'}://{admin}@{imap}" + ("?" + "&".join(query) if query else "")


def target_url(server: ServerHandle, *, lmtp: bool = False, sieve: bool = False, exec_: bool | str = False,
               tls: str = "") -> str:
    """The --target URL of a server the harness holds (tests, benchmarks, `servers start`): its
    addresses as asked; `exec_` True for its own exec channel, or a channel's name."""
    channel = exec_ if isinstance(exec_, str) else (server.channel.name if exec_ else None)
    imap = server.imaps if tls == "imaps" and server.imaps else server.imap
    return format_target(server.admin_user, imap, tls, server.lmtp if lmtp else None,
                         server.sieve if sieve else None, channel)


def parse_target(url: str) -> TargetURL:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise UserError(f"target {url!r}: expected imap://ADMIN@HOST:PORT or imaps://ADMIN@HOST:PORT")
    if parts.password:
        raise UserError(f"target URL must not carry a password; set {PASSWORD_ENV}")
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"lmtp", "sieve", "exec", "log", "starttls", "insecure"})
    if unknown:
        raise UserError(f"target {url!r}: unknown setting {unknown[0]!r} "
                        "(known: lmtp, sieve, exec, log, starttls, insecure)")
    flags = {}
    for name in ("starttls", "insecure"):
        value = query.get(name, ["0"])[0]
        if value not in ("0", "1"):
            raise UserError(f"target setting {name}={value}: expected 1 or 0")
        flags[name] = value == "1"
    if flags["starttls"] and parts.scheme == "imaps":
        raise UserError("starttls=1 is for imap:// targets; imaps:// is TLS from the first byte")
    lmtp = _endpoint(query["lmtp"][0], "lmtp address") if "lmtp" in query else None
    sieve = _endpoint(query["sieve"][0], "sieve address") if "sieve" in query else None
    exec_text = query.get("exec", [None])[0]
    channel = parse_exec(exec_text) if exec_text else None
    if "log" in query:
        if channel is None:
            raise UserError("log=PATH needs an exec channel to read it through (exec=docker:... or exec=ssh:...)")
        if not query["log"][0].startswith("/"):
            raise UserError(f"log={query['log'][0]}: expected an absolute path on the server's side")
        channel = replace(channel, log=query["log"][0])
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise UserError(f"target {url!r}: bad port") from None
    tls = "imaps" if parts.scheme == "imaps" else ("starttls" if flags["starttls"] else "")
    return TargetURL(unquote(parts.username), Endpoint(parts.hostname, port), lmtp, channel, sieve, tls,
                     flags["insecure"])


def connect_target(url: str, stated_version: str | None = None, insecure: bool = False) -> ServerHandle:
    """A handle on the server at `url`, checked: an IMAP greeting, the admin's login, the family and
    version (what the server says, its own tool over the exec channel, or `stated_version`).
    `insecure` (--insecure) accepts a TLS certificate that does not verify, as ?insecure=1 does."""
    target = parse_target(url)
    admin, imap, lmtp, exec_spec, sieve = target.admin, target.imap, target.lmtp, target.exec, target.sieve
    if stated_version:
        identify.parse_stated(stated_version)  # a malformed statement before any connection
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise UserError(f"set {PASSWORD_ENV} to the target admin's password")
    if not password.isascii():
        # IMAP LOGIN carries ASCII only (RFC 3501 quoted strings); imaplib would raise deep inside.
        raise UserError(f"{PASSWORD_ENV} holds non-ASCII characters; IMAP LOGIN cannot carry them")
    trust = "none" if insecure or target.insecure else "system"
    if target.tls != "imaps":  # an IMAPS port says nothing until the handshake
        greeting = identify.read_greeting(imap.host, imap.port)
    greeting_tls, fields = _login_and_id(imap, admin, password, target.tls, trust)
    if target.tls == "imaps":
        greeting = greeting_tls
    said = [identify.from_id(fields), identify.from_greeting(greeting)]
    container, ssh = None, None
    if exec_spec is not None and exec_spec.kind == "docker":
        container = _container(exec_spec.container)
    elif exec_spec is not None:
        ssh = _ssh_channel(exec_spec)
    family_name = identify.combine(*said).family
    channel = ssh or (DockerChannel(container) if container is not None else None)
    try:
        tool = _tool_identity(channel, family_name) if channel is not None else None
        identity = identify.combine(*said, *([tool] if tool else []), stated=stated_version)
        family = _checked_family(identity, imap, greeting)
        if channel is not None:
            missing = family.missing_tools(channel)
            if missing:
                raise UserError(f"exec channel {channel.name}: missing on the far side: {', '.join(missing)}")
    except BaseException:
        if channel is not None:
            channel.close()
        raise
    if ssh is None and channel is not None:
        channel.close()  # the handle opens its own shells when it needs them
    features = ({"lmtp"} if lmtp else set()) | ({"sieve"} if sieve else set())
    if channel is not None:
        # With an exec channel the server's own tools are reachable: what the family offers, except
        # restarting a server the harness does not own.
        features |= family.features - {"restart", "sieve"}
    return ServerHandle(
        name="target", family=family, version=identity.version, imap=imap, lmtp=lmtp,
        admin_user=admin, admin_password=password, container=container, features=frozenset(features),
        owned=False, sieve=sieve, version_source=identity.source, exec_channel=ssh,
        imaps=imap if target.tls == "imaps" else None, session_tls=target.tls, tls_trust=trust,
        **({"log_file": exec_spec.log} if exec_spec is not None and exec_spec.log else {}),
    )


def _checked_family(identity: identify.Identity, imap: Endpoint, greeting: str):
    if identity.family is None:
        raise UserError(f"target {imap}: cannot tell whether it is Cyrus or Dovecot from its greeting "
                        f"({greeting[:80]!r}) or ID; say so with --target-version cyrus:VERSION or dovecot:VERSION")
    return FAMILIES[identity.family]


def open_channel(text: str) -> ExecChannel:
    """The exec channel a URL's exec= names (docker:NAME or ssh:USER@HOST[:PORT]), opened here:
    for processes that reach the server on their own (Locust's, in the large-list scenario)."""
    spec = parse_exec(text)
    if spec.kind == "docker":
        return DockerChannel(_container(spec.container))
    return _ssh_channel(spec)


def _ssh_channel(spec: ExecSpec) -> SSHChannel:
    """The ssh channel, tried once: a key, host or login problem is one line before anything runs."""
    key = os.environ.get(SSH_KEY_ENV)
    if key and not os.path.isfile(key):
        raise UserError(f"{SSH_KEY_ENV}={key}: no such file")
    if shutil.which("ssh") is None:
        raise UserError("exec channel ssh: no ssh client here (install openssh-client)")
    channel = SSHChannel(spec.login, spec.host, spec.port)
    try:
        channel.check()
    except SSHError as exc:
        channel.close()
        raise UserError(str(exc)) from None
    return channel


def _login_and_id(imap: Endpoint, admin: str, password: str, tls: str, trust: str) -> tuple[str, dict[str, str]]:
    """(the greeting, ID fields): log in as the admin, over TLS as `tls` says, and ask ID (RFC 2971)
    where offered; every failure is one line."""
    from .tls import client_context

    context = client_context(trust) if tls else None
    try:
        client = imapclient.IMAPClient(imap.host, port=imap.port, ssl=tls == "imaps", ssl_context=context,
                                       timeout=10)
    except imaplib.IMAP4.error as exc:
        raise ServerError(f"target {imap}: {_short(exc)}; not a usable IMAP server") from None
    except OSError as exc:  # ssl.SSLError included
        raise _tls_problem(imap, exc, "the TLS handshake" if tls == "imaps" else "the greeting") from None
    try:
        greeting = (client.welcome or b"").decode(errors="replace")
        if tls == "starttls":
            if not client.has_capability("STARTTLS"):
                raise UserError(f"target {imap}: no STARTTLS offered (capabilities: "
                                f"{' '.join(c.decode() for c in client.capabilities())[:80]}); "
                                "drop ?starttls=1 or give the IMAPS port as imaps://")
            try:
                client.starttls(context)
            except (ssl.SSLError, OSError) as exc:
                raise _tls_problem(imap, exc, "STARTTLS") from None
        try:
            client.login(admin, password)
        except imapclient.exceptions.LoginError:
            raise UserError(f"target {imap}: login as {admin} refused (wrong password?)") from None
        except imaplib.IMAP4.error as exc:  # BAD, or a broken reply: not an IMAP server we can use
            raise ServerError(f"target {imap}: LOGIN answered {_short(exc)}; not a usable IMAP server") from None
        if not client.has_capability("ID"):
            return greeting, {}
        try:
            return greeting, identify.id_fields(client.id_())
        except imaplib.IMAP4.error:
            return greeting, {}
    except (OSError, socket.timeout) as exc:
        raise ServerError(f"target {imap}: connection failed after the greeting: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _tls_problem(imap: Endpoint, exc: BaseException, stage: str) -> Exception:
    """One line for a failed connection: a certificate that does not verify is the user's to
    decide (trust its CA, or --insecure); anything else at the handshake is the server's."""
    from .tls import verify_failure

    reason = verify_failure(exc)
    if reason:
        return UserError(f"target {imap}: its TLS certificate does not verify ({reason}); trust its CA with "
                         "SSL_CERT_FILE=CA.pem, or accept it unverified with --insecure (or ?insecure=1)")
    if isinstance(exc, ssl.SSLError):
        return ServerError(f"target {imap}: {stage} failed ({exc.reason or _short(exc)}); "
                           "is this an IMAPS port (imaps://) or a plain one (imap://)?")
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)) or \
            getattr(exc, "errno", None) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        # Before any handshake: nothing listens there (or no route), whatever the scheme.
        return ServerError(f"target {imap} unreachable: {exc.strerror or exc}")
    return ServerError(f"target {imap}: connection failed during {stage}: {exc}")


def _short(exc: Exception) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text[:120] or type(exc).__name__


def _tool_identity(channel: ExecChannel, family_name: str | None) -> identify.Identity | None:
    """The version the server's own tool prints, run through the exec channel; where the family is
    not yet known, each family's tool is tried."""
    try:
        for name in [family_name] if family_name else list(FAMILIES):
            code, out, _err = channel.run(["sh", "-c", FAMILIES[name].version_command], "root")
            if code == 0:
                found = identify.from_tool_output(name, out.decode(errors="replace"))
                if found.version:
                    return found
    except (OSError, SSHError):
        return None
    except Exception as exc:  # the docker SDK's APIError: imported only where docker is used
        if type(exc).__module__.startswith("docker."):
            return None
        raise
    return None


def started_by_servers_start(url: str) -> bool:
    """Whether the target is a server `imapwright servers start` started (its exec=docker:NAME
    container carries the harness's detached labels, and its IMAP port is that container's): the
    harness started it for testing, so its destructive suites need no --allow-destructive."""
    try:
        target = parse_target(url)
        if target.exec is None or target.exec.kind != "docker":
            return False
        from . import engine, ownership

        container = engine.client().containers.get(target.exec.container)
        item = engine.Found("container", container.id, container.name, container.labels or {})
        env = dict(e.split("=", 1) for e in container.attrs.get("Config", {}).get("Env", []) if "=" in e)
        return (engine.LABEL_MANAGED in item.labels and ownership.is_detached(item)
                and env.get("IMAP_PORT") == str(target.imap.port))
    except Exception:  # no docker, no such container, a URL the connection will refuse later
        return False


def _container(name: str):
    """The exec=docker:NAME container. Docker (the SDK, an engine) is needed only here: a target
    without a docker channel works on a machine that has neither."""
    try:
        import docker.errors

        from . import engine
    except ImportError:
        raise UserError("exec=docker:... needs the docker Python package (pip install docker)") from None
    try:
        return engine.client().containers.get(name)
    except docker.errors.NotFound:
        raise UserError(f"exec channel: no container named {name!r}") from None
