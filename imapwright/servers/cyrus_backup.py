"""A Cyrus backup as the rehearsal loads it: imapd.conf read as the server reads it, each folder it
names (configdirectory, partitions, meta and archive partitions, sievedir) found in the backup and
mapped to the image's layout, which Cyrus wrote the store, and the settings the copy starts with:
the admin's, paths rewritten, and the few the harness must override (listed with the reason).

Refused in one line before anything starts: a folder the store needs that the backup lacks, a
store written by a newer Cyrus than FROM (or an older one, unless the admin says the store was
upgraded in place without `reconstruct -V max`), and settings the image cannot honour."""

from __future__ import annotations

from collections import Counter

from ..errors import UserError
from .backup import LoadPlan, Scan

CONFIG_NAMES = ("etc/imapd.conf", "imapd.conf", "etc/cyrus/imapd.conf")
HEAD_NAMES = ("cyrus.index",)

# cyrus.index's minor version (a 32-bit big-endian number at offset 8), as each catalogue version
# writes it: measured on the images (3.2.6: 16, 3.6.1: 17, 3.10.2 and 3.12.4: 19).
INDEX_VERSION = {(3, 2): 16, (3, 6): 17, (3, 10): 19, (3, 12): 19}

# The folders a store is made of: setting -> where its copy goes under the volume's root.
FOLDER_SETTINGS = {"configdirectory": "config", "sievedir": "sieve"}
PARTITION_KINDS = {"partition-": "spool", "metapartition-": "meta", "archivepartition-": "archive"}
# Settings whose file lives in the configuration directory unless set: a path outside the backup
# is the store's data missing from it.
DATA_PATHS = ("mboxlist_db_path", "quota_db_path", "annotation_db_path", "subscription_db_path",
              "seenstate_db_path", "statuscache_db_path", "userdeny_db_path", "duplicate_db_path",
              "conversations_db_path", "backup_db_path", "search_db_path", "zoneinfo_db_path")
# Runtime state under the configuration directory, not copied: the server makes it afresh.
RUNTIME = ("proc", "socket", "lock")

HARNESS_ADMIN = "cyrus"
# What the harness needs of the copy (it logs in as its own admin, with a password it sets in
# the copy's sasldb, and acts for each user by proxy authorization; names as the admin sees them
# in the standard namespace). Presentation and authentication only: the store on disk is the same.
OVERRIDES = {
    "sasl_pwcheck_method": ("auxprop", "the harness's admin logs in from the copy's own sasldb"),
    "sasl_auxprop_plugin": ("sasldb", "the harness's admin logs in from the copy's own sasldb"),
    "sasl_sasldb_path": ("{data}/config/sasldb2", "the copy's sasldb, holding the harness admin's password"),
    "sasl_mech_list": ("PLAIN LOGIN", "the harness logs in with PLAIN (users by proxy authorization)"),
    "allowplaintext": ("yes", "the harness logs in over loopback without TLS"),
    "unixhierarchysep": ("no", "the snapshot names mailboxes in the standard namespace (presentation only)"),
    "altnamespace": ("no", "the snapshot names mailboxes in the standard namespace (presentation only)"),
    "syslog_prefix": ("cyrus", "the log gate reads the server's lines by this prefix"),
}
# Settings naming files of the admin's machine that the image has its own of (TLS: the harness's
# certificate; sockets and process state: the image's runtime folders).
DROPPED_PREFIXES = ("tls_", "lmtpsocket", "idlesocket", "notifysocket", "proc_path", "mboxname_lockpath",
                    "sasl_saslauthd_path", "ptloader_sock")
REFUSED = {
    "virtdomains": ("off", "no", "0", "false"),
}
AUTH_MECHS = ("unix",)


def parse_config(text: str) -> tuple[dict[str, str], list[str]]:
    """imapd.conf as Cyrus reads it: "key: value" lines, '#' comments; notes for lines it would not
    take (the server itself refuses a key given twice: so do we)."""
    settings: dict[str, str] = {}
    notes = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or " " in key.strip():
            if line.startswith("@include"):
                raise UserError(f"imapd.conf line {n}: '@include' files are not in the backup; put their settings in "
                                "imapd.conf for the rehearsal")
            notes.append(f"imapd.conf line {n} is not 'key: value' (skipped): {line[:80]}")
            continue
        key = key.strip().lower()
        if key in settings:
            raise UserError(f"imapd.conf line {n}: {key} is given twice (Cyrus refuses that too)")
        settings[key] = value.strip()
    return settings, notes


def index_version(head: bytes) -> int | None:
    return int.from_bytes(head[8:12], "big") if len(head) >= 12 else None


def writers(version: int) -> str:
    names = [f"{a}.{b}" for (a, b), v in sorted(INDEX_VERSION.items()) if v == version]
    return "Cyrus " + " or ".join(names) if names else f"a Cyrus the catalogue does not have (index version {version})"


def plan(scan: Scan, from_version: tuple[int, ...], data_root: str, older_store: bool = False) -> LoadPlan:
    configs = {name: text for name, text in scan.configs.items() if name in CONFIG_NAMES or name.endswith("/imapd.conf")
               or name == "imapd.conf"}
    if not configs:
        raise UserError("no imapd.conf in the backup (expected etc/imapd.conf, as the README's tar command makes it)")
    conf_name = min(configs, key=lambda n: (n != "etc/imapd.conf", len(n)))
    settings, notes = parse_config(configs[conf_name].decode("utf-8", "replace"))
    for key, allowed in REFUSED.items():
        if key in settings and settings[key].lower() not in allowed:
            raise UserError(f"imapd.conf {key}: {settings[key]}: stores with virtual domains are not supported by the "
                            "rehearsal yet")
    mech = settings.get("auth_mech", "unix")
    if mech not in AUTH_MECHS:
        raise UserError(f"imapd.conf auth_mech: {mech}: the image cannot honour it (group membership from "
                        f"{'ptloader, e.g. LDAP' if mech == 'pts' else mech} is not available to the copy; ACLs naming "
                        "groups would not resolve as on your server)")
    if "configdirectory" not in settings:
        raise UserError("imapd.conf names no configdirectory (Cyrus does not start without one)")

    def inside(path: str) -> str:
        return path.strip().lstrip("/").rstrip("/")

    mapping: list[tuple[str, str]] = []
    rows: list[dict] = []
    used: dict[str, str] = {}
    folders = dict(FOLDER_SETTINGS)
    for key in settings:
        for prefix, kind in PARTITION_KINDS.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                folders[key] = f"{kind}/{key[len(prefix):]}"
    for key, dest in folders.items():
        if key not in settings:
            continue
        given = settings[key]
        rel = inside(given)
        if rel not in scan.dirs:
            if key == "sievedir":
                notes.append(f"sievedir {given} is not in the backup: the copy starts with no Sieve scripts in it "
                             "(3.x keeps them there; include the folder to compare them)")
                continue
            raise UserError(f"imapd.conf {key}: {given} is not in the backup (the store's data would be missing); "
                            f"add {rel}/ to the archive")
        mapping.append((rel, dest))
        used[key] = f"{data_root}/{dest}"
        rows.append({"setting": key, "given": given, "used": used[key], "why": "the backup's folder, in the image's layout"})
    mapping.sort(key=lambda m: -len(m[0]))
    config_rel = inside(settings["configdirectory"])
    probe = LoadPlan(mapping)
    for key, given in settings.items():
        if key in folders or key in used:
            continue
        if key in OVERRIDES:
            continue
        if key.startswith(DROPPED_PREFIXES):
            rows.append({"setting": key, "given": given, "used": "", "why": "a file of your machine the image has its own of"})
            continue
        if given.startswith("/") and (key.endswith("_path") or key.endswith("dir") or key in DATA_PATHS):
            dest = probe.target(inside(given))
            if dest is not None:
                used[key] = f"{data_root}/{dest}"
                rows.append({"setting": key, "given": given, "used": used[key], "why": "inside the backup, rewritten"})
            elif key in DATA_PATHS:
                raise UserError(f"imapd.conf {key}: {given} is outside the backup's folders (the store's data would be "
                                "missing); add it to the archive")
            else:
                rows.append({"setting": key, "given": given, "used": "", "why": "a path outside the backup: left to "
                             "the image's default"})
            continue
        used[key] = given
    admins = settings.get("admins", "").split()
    if HARNESS_ADMIN not in admins:
        used["admins"] = " ".join([*admins, HARNESS_ADMIN])
        rows.append({"setting": "admins", "given": settings.get("admins", "(unset)"), "used": used["admins"],
                     "why": "the harness's admin reads every account"})
    for key, (value, why) in OVERRIDES.items():
        value = value.format(data=data_root)
        used[key] = value
        if settings.get(key) != value:
            rows.append({"setting": key, "given": settings.get(key, "(unset)"), "used": value, "why": why})

    # Which Cyrus wrote the store: every cyrus.index under a mapped partition.
    versions = Counter(v for name, head in scan.heads if probe.target(name) is not None
                       and (v := index_version(head)) is not None)
    native = INDEX_VERSION.get(tuple(from_version[:2]))
    store = {"index_versions": {str(v): n for v, n in sorted(versions.items())}, "from_writes": native,
             "configuration": conf_name, "files": scan.files, "bytes": scan.bytes}
    if not versions:
        notes.append("no cyrus.index in the backup's partitions: an empty store, or mailboxes not yet written")
    elif native is not None:
        newest, oldest = max(versions), min(versions)
        counts = ", ".join(f"version {v} in {n}" for v, n in sorted(versions.items()))
        if newest > native:
            raise UserError(f"the backup was written by {writers(newest)} (cyrus.index {counts}); FROM writes version "
                            f"{native}: give the version your server runs as FROM")
        if newest < native and not older_store:
            raise UserError(f"the backup was written by {writers(newest)} (cyrus.index {counts}), not by FROM (version "
                            f"{native}): give the version your server runs as FROM, or --older-store if it was "
                            "upgraded in place and `reconstruct -V max` never ran")
        if oldest < native:
            notes.append(f"cyrus.index versions older than FROM writes ({counts}): mailboxes not upgraded by "
                         "`reconstruct -V max` since an earlier upgrade")
    image_only = {k: v for k, v in image_settings().items() if k not in used and not k.startswith(tuple(PARTITION_KINDS))
                  and k not in folders}
    if image_only:
        notes.append("the image's settings your imapd.conf does not name, kept: "
                     + ", ".join(f"{k}: {v}" for k, v in image_only.items()))
    return LoadPlan(mapping, tuple(f"{config_rel}/{r}" for r in RUNTIME), used, rows, store, notes)


def image_settings() -> dict[str, str]:
    from ..resources import docker_dir

    settings, _notes = parse_config((docker_dir() / "cyrus" / "imapd.conf").read_text())
    return settings
