"""The contract a user's own server image follows (docker/README.md), checked at start: one line
per broken clause, before any suite runs against a server that cannot be driven."""

from __future__ import annotations

import contextlib
import re
import socket
from dataclasses import replace

import docker.errors
import imapclient

from ..catalogue import ServerSpec, register, version_tuple
from ..errors import ServerError, UserError
from . import engine, identify
from .families import DATA, FAMILIES
from .logs import LOG_FILE

# Beside the family's own tools (Family.required_tools), what the harness runs in every image.
COMMON_TOOLS = ("sh", "awk", "tar", "cat", "stat", "id", "find")
SYSLOG_DAEMONS = ("rsyslogd", "syslog-ng", "syslogd")


class ContractError(ServerError):
    """An image that breaks the contract: each broken clause on its own line."""

    def __init__(self, image: str, broken: list[str]):
        self.broken = broken
        super().__init__(f"image {image} breaks the server image contract (docker/README.md):\n"
                         + "\n".join(f"  - {b}" for b in broken))


def own_image(family: str, image: str, name: str | None = None, version: str = "") -> ServerSpec:
    """FAMILY:custom for --image IMAGE (or a catalogue entry): the image found, its version read
    (label, else the server's own tool), registered for lookup()."""
    if family not in FAMILIES:
        raise UserError(f"--image: unknown family {family!r}; expected {' or '.join(FAMILIES)}")
    spec = ServerSpec(name or f"{family}:custom", family, version, "", image=image)
    found = find_own_image(spec)
    if not version:
        full = found.labels.get(engine.LABEL_VERSION) or tool_version(spec)
        if not version_tuple(full):
            raise ContractError(image, [f"version: neither a label {engine.LABEL_VERSION} nor "
                                        f"`{FAMILIES[family].version_command.split(';')[0]}...` tells the server's version"])
        spec = replace(spec, version=".".join(str(p) for p in version_tuple(full)[:2]))
    return register(spec)


def find_own_image(spec: ServerSpec):
    try:
        return engine.client().images.get(spec.image)
    except docker.errors.ImageNotFound:
        raise UserError(f"{spec.name}: no image {spec.image!r} here (docker images lists them; "
                        "this harness does not pull)") from None
    except docker.errors.APIError as exc:
        raise UserError(f"{spec.name}: image {spec.image!r}: {exc.explanation or exc}") from None


def _sh(image: str, script: str) -> tuple[int, str]:
    """A throwaway container of the image, its entrypoint bypassed, no network."""
    try:
        out = engine.client().containers.run(image, ["-c", script], entrypoint="sh", network_mode="none",
                                             remove=True, stdout=True, stderr=True)
        return 0, out.decode(errors="replace")
    except docker.errors.ContainerError as exc:
        return exc.exit_status, (exc.stderr or b"").decode(errors="replace")
    except docker.errors.APIError as exc:
        return 127, str(exc.explanation or exc)


def tool_version(spec: ServerSpec) -> str:
    _code, out = _sh(spec.image, FAMILIES[spec.family].version_command)
    return identify.from_tool_output(spec.family, out).version


def image_problems(spec: ServerSpec) -> list[str]:
    """The clauses an image breaks before it runs: entrypoint, tools, users, syslog."""
    family = FAMILIES[spec.family]
    image = find_own_image(spec)
    broken = []
    config = image.attrs.get("Config") or {}
    if not (config.get("Entrypoint") or config.get("Cmd")):
        broken.append("entrypoint: the image has no ENTRYPOINT or CMD to start the server")
    users = sorted({family.tool_user, family.spool_user} - {"root"})
    script = (
        'for t in "$@"; do command -v "$t" >/dev/null 2>&1 || echo "tool $t"; done; '
        f'for u in {" ".join(users)}; do id "$u" >/dev/null 2>&1 || echo "user $u"; done; '
        f'{" || ".join(f"command -v {d} >/dev/null 2>&1" for d in SYSLOG_DAEMONS)} || echo syslog'
    )
    code, out = _sh(spec.image, f"set -- {' '.join(family.required_tools + COMMON_TOOLS)}; {script}")
    if code == 127 and not out.startswith(("tool", "user", "syslog")):
        return [f"shell: `sh -c` cannot run in the image ({out.strip()[:120]})"]
    for line in out.splitlines():
        kind, _, what = line.partition(" ")
        if kind == "tool":
            broken.append(f"tools: {what} is missing (the harness runs it over the exec channel)")
        elif kind == "user":
            broken.append(f"users: no user {what} (the server's tools run as it)")
        elif kind == "syslog":
            broken.append(f"logs: no syslog daemon ({', '.join(SYSLOG_DAEMONS)}) to write {LOG_FILE}")
    return broken


def running_problems(server) -> list[str]:
    """The clauses a started server breaks: ports, admin password, data volume, log file."""
    broken = []
    with contextlib.suppress(docker.errors.APIError):
        server.container.reload()
    if server.container is None or server.container.status != "running":
        return ["entrypoint: the container is not running (the entrypoint must run the server in the "
                "foreground)"]
    greeting = _banner(server.imap.host, server.imap.port)
    if not greeting.startswith("* OK"):
        broken.append(f"ports: nothing answers IMAP on IMAP_PORT={server.imap.port} ({greeting or 'no answer'})")
    else:
        try:
            client = imapclient.IMAPClient(server.imap.host, port=server.imap.port, ssl=False, timeout=5)
            try:
                client.login(server.admin_user, server.admin_password)
            finally:
                with contextlib.suppress(Exception):
                    client.logout()
        except (OSError, imapclient.exceptions.IMAPClientError) as exc:
            broken.append(f"admin: LOGIN as {server.admin_user} with ADMIN_PASSWORD refused ({str(exc)[:100]})")
    lmtp = _banner(server.lmtp.host, server.lmtp.port)
    if not lmtp.startswith("220"):
        broken.append(f"ports: nothing answers LMTP on LMTP_PORT={server.lmtp.port} ({lmtp or 'no answer'})")
    res = server.exec(["sh", "-c", f'[ -s {LOG_FILE} ] || echo nolog; '
                                   f'[ -n "$(find {DATA} -mindepth 1 -print -quit 2>/dev/null)" ] || echo nodata'],
                      user="root")
    if "nolog" in res.stdout:
        broken.append(f"logs: {LOG_FILE} is missing or empty (syslog lines with RFC 3339 times)")
    if "nodata" in res.stdout:
        broken.append(f"data: nothing under {DATA} (the server's state belongs on that volume)")
    if server.family_name == "cyrus" and not broken:
        conf = server.exec(["sh", "-c", f"{server.family.bin}/cyr_info conf 2>&1 | grep '^configdirectory:'"])
        if not re.search(rf"configdirectory:\s*{re.escape(DATA)}/", conf.stdout):
            broken.append(f"config: Cyrus's tools must read an imapd.conf whose configdirectory is under {DATA} "
                          f"(cyr_info conf says {conf.stdout.strip()[:80] or 'nothing'})")
    return broken


def _banner(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            s.settimeout(3)
            return s.recv(200).decode(errors="replace").strip()
    except OSError as exc:
        return f"{exc.strerror or exc}"


def register_own(names: list[str], image: str | None = None, catalogue=None) -> None:
    """The user's servers of a run: entries of a catalogue file, and FAMILY:custom for --image."""
    from ..catalogue import read_user_catalogue

    if catalogue is not None:
        for spec in read_user_catalogue(catalogue):
            if spec.image:
                own_image(spec.family, spec.image, spec.name, spec.version)
            else:
                register(spec)
    custom = [n for n in names if n.endswith(":custom")]
    if image is None:
        return
    if not custom:
        raise UserError("--image is the image of a server named cyrus:custom or dovecot:custom; name one")
    for name in custom:
        own_image(name.partition(":")[0], image, name)
