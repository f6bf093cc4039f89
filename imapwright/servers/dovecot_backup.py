"""A Dovecot backup as the rehearsal loads it: the configuration tree (etc/dovecot, its !include
files read from the backup) read for what the store is made of (mail_location, the passwd-file
userdb and its home template, the Sieve location), each user's home and mail found in the backup
and mapped to the image's layout (home /srv/imapwright/home/NAME, one passwd-file per user in
/srv/imapwright/users). The copy runs on the image's configuration with your mail format, users and
their userdb fields; your other settings are listed in the report, not applied (Dovecot's
configuration is one tree, and the image's carries the ACL, quota and shared-namespace setup the
harness reads the store through).

Refused in one line before anything starts: a configuration written for 2.4 when FROM is 2.3 (or
the reverse), a userdb other than a passwd-file in the backup, virtual domains, a mail location
the rehearsal cannot place."""

from __future__ import annotations

import fnmatch
import posixpath
import re

from ..errors import UserError
from .backup import BackupArchive, LoadPlan, Scan

CONFIG_PREFIX = "etc/dovecot"
MAIN = f"{CONFIG_PREFIX}/dovecot.conf"
FORMATS = {"maildir": "Maildir", "mdbox": "mdbox", "sdbox": "sdbox"}
_SECTION = re.compile(r"^([\w-]+)(?:\s+([^{\s]+))?\s*\{$")


def parse_config(files: dict[str, bytes], name: str = MAIN, depth: int = 0) -> list[tuple[str, str, str]]:
    """(section path, key, value) of every setting, includes expanded from the backup's files
    (glob patterns as Dovecot's !include takes them, relative to the including file)."""
    if depth > 10:
        raise UserError(f"{name}: !include nested more than 10 deep")
    out: list[tuple[str, str, str]] = []
    stack: list[str] = []
    text = files[name].decode("utf-8", "replace")
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        if line.startswith(("!include_try ", "!include ")):
            pattern = line.split(None, 1)[1].strip()
            path = pattern.lstrip("/") if pattern.startswith("/") else \
                posixpath.normpath(posixpath.join(posixpath.dirname(name), pattern))
            matched = sorted(f for f in files if fnmatch.fnmatch(f, path))
            if not matched and line.startswith("!include ") and not any(c in pattern for c in "*?["):
                raise UserError(f"{name} line {n}: !include {pattern}: not in the backup (add etc/dovecot whole)")
            for f in matched:
                out += [(("/".join(stack) + "/" + s).strip("/") if stack else s, k, v)
                        for s, k, v in parse_config(files, f, depth + 1)]
            continue
        if line == "}":
            if stack:
                stack.pop()
            continue
        section = _SECTION.match(line)
        if section:
            stack.append(section[1] + (f" {section[2]}" if section[2] else ""))
            continue
        key, sep, value = line.partition("=")
        if sep:
            out.append(("/".join(stack), key.strip(), value.strip()))
    return out


def _expand(template: str, user: str, home: str) -> str:
    local, _, domain = user.partition("@")
    path = template.replace("%{home}", home).replace("%h", home)
    if path.startswith("~"):
        path = home + path[1:]
    for a, b in (("%{user}", user), ("%u", user), ("%Lu", user.lower()), ("%n", local), ("%Ln", local.lower()),
                 ("%{username}", local), ("%d", domain), ("%{domain}", domain)):
        path = path.replace(a, b)
    return path


def plan(archive: BackupArchive, scan: Scan, from_version: tuple[int, ...], data_root: str) -> LoadPlan:
    files = {name: text for name, text in scan.configs.items() if name.startswith(CONFIG_PREFIX + "/")}
    if MAIN not in files:
        raise UserError(f"no {MAIN} in the backup (tar -C / ... etc/dovecot, as the README's command makes it)")
    settings = parse_config(files)
    top = {k: v for s, k, v in settings if not s}
    written_for_24 = "dovecot_config_version" in top
    if written_for_24 != (tuple(from_version[:2]) >= (2, 4)):
        raise UserError(f"the backup's configuration is written for Dovecot {'2.4' if written_for_24 else '2.3'} "
                        f"(dovecot_config_version {'set' if written_for_24 else 'absent'}); FROM is "
                        f"{'.'.join(map(str, from_version[:2]))}: give the version your server runs as FROM")
    location = top.get("mail_location", "")
    fmt, _, rest = location.partition(":")
    if fmt not in FORMATS:
        raise UserError(f"mail_location = {location or '(unset)'}: the rehearsal places maildir, mdbox and sdbox "
                        "stores (mail_location = FORMAT:PATH)")
    mail_template, *params = rest.split(":")
    userdbs = [(s, k, v) for s, k, v in settings if s.startswith("userdb")]
    drivers = {v for s, k, v in userdbs if k == "driver"}
    if drivers != {"passwd-file"}:
        raise UserError(f"userdb driver {', '.join(sorted(drivers)) or '(none)'}: the rehearsal reads a passwd-file "
                        "userdb from the backup (export other userdbs to one for the rehearsal)")
    args = [v for s, k, v in userdbs if k == "args"]
    path = args[0].split()[-1] if args else ""
    if not path.startswith("/") or "%" in path:
        raise UserError(f"userdb args = {args[0] if args else '(unset)'}: the rehearsal reads one passwd-file "
                        "(per-user or per-domain files: not yet)")
    rel = path.lstrip("/")
    content = scan.configs.get(rel) or archive.read(rel)
    if content is None:
        raise UserError(f"the userdb {path} is not in the backup; add it to the archive")
    home_template = ""
    for s, k, v in userdbs:
        if k in ("default_fields", "override_fields"):
            for field_ in v.split():
                if field_.startswith("home="):
                    home_template = field_[len("home="):]
    mapping, generated, rows, notes = [], {}, [], []
    users = []
    for n, line in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        user = parts[0]
        if "@" in user:
            raise UserError(f"userdb {path} line {n}: {user}: virtual domains are not supported by the rehearsal yet")
        home = parts[5] if len(parts) > 5 and parts[5] else _expand(home_template, user, "")
        # passwd-file: user:password:uid:gid:gecos:home:shell:extra fields (which contain ':' themselves)
        extra = [f for f in ":".join(parts[7:]).split() if not f.startswith(("userdb_home=", "home="))]
        name = user.lower()
        users.append(name)
        generated[f"users/{name}"] = f"{name}:{parts[1] if len(parts) > 1 else ''}::::::{' '.join(extra)}\n".encode()
        mail = _expand(mail_template, user, home).rstrip("/")
        if home and home.lstrip("/") in scan.dirs:
            mapping.append((home.strip("/"), f"home/{name}"))
        if mail.lstrip("/") in scan.dirs and not (home and mail.startswith(home.rstrip("/") + "/")):
            mapping.append((mail.strip("/"), f"home/{name}/{FORMATS[fmt]}"))
        elif not mail.lstrip("/") in scan.dirs:
            notes.append(f"{user}: no mail at {mail} in the backup (an account that never received mail?)")
    if not users:
        raise UserError(f"the userdb {path} lists no users")
    if fmt == "maildir" and not mail_template.startswith("~/Maildir"):
        notes.append(f"mail_location {location}: placed at ~/Maildir in each copied home")
    used = {"mail_location": f"{fmt}:~/{FORMATS[fmt]}"} if fmt != "maildir" else {}
    rows.append({"setting": "mail_location", "given": location, "used": f"{fmt}:~/{FORMATS[fmt]}",
                 "why": "each user's mail in the image's home folder" + (f" (your parameters {':'.join(params)} not used)"
                                                                         if params else "")})
    rows.append({"setting": "userdb", "given": f"passwd-file {path}", "used": f"passwd-file {data_root}/users/NAME",
                 "why": "one passwd-file per user (the image's layout), with each user's password hash and fields"})
    for s, k, v in settings:
        if (s, k) in (("", "mail_location"),) or s.startswith(("userdb", "passdb")) or k in ("dovecot_config_version",):
            continue
        if k in ("acl", "quota", "sieve", "mail_plugins", "namespace", "auth_mechanisms", "ssl", "ssl_cert", "ssl_key"):
            rows.append({"setting": f"{s + '/' if s else ''}{k}", "given": v, "used": "",
                         "why": "the image's own (ACL, quota, Sieve and TLS set up as the harness reads them)"})
    mapping.sort(key=lambda m: -len(m[0]))
    store = {"configuration": MAIN, "files": scan.files, "bytes": scan.bytes, "users": len(users),
             "format": fmt, "config_for": "2.4" if written_for_24 else "2.3"}
    notes.append("Dovecot: the copy runs on the image's configuration with your mail format, users and their userdb "
                 "fields; the settings listed as not used are yours that it does not apply")
    after = (f"chown -R vmail:vmail {data_root}/home && chown root:dovecot {data_root}/users/* "
             f"&& chmod 640 {data_root}/users/*")
    # The shared-mailbox dictionary is the server's cache (acl_shared_dict), not in the copy: built
    # once FROM serves it, as after any restore (`doveadm acl recalc`), with the indexes resynced.
    rebuild = (f"for f in {data_root}/users/*; do u=${{f##*/}}; case $u in admin|anonymous) ;; "
               '*) doveadm acl recalc -u "$u" || exit 1;; esac; done')
    return LoadPlan(mapping, (), used, rows, store, notes, generated, after, rebuild)
