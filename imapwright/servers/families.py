"""What differs between server families: settings syntax, users, tools, consistency checks."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shlex
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from imapclient import imap_utf7

from ..errors import ServerError, UserError
from ..protocol.imap import command, list_names, quote, status_text
from .cyrus_tools import check_problems, quota_tool_arguments

if TYPE_CHECKING:
    from ..catalogue import ServerSpec
    from .handle import ExecResult, ServerHandle

DATA = "/srv/imapwright"  # the data volume's mount point in every image


class Family:
    name = ""
    admin_user = ""
    tool_user = "root"  # server tools run as this user
    reconstruct_commands: dict[str, str] = {}  # shell commands, {mailbox} and {user} filled in
    spool_user = "root"  # owner of message files in the store
    # What the server's documentation has an admin run after the spool came back from a backup.
    after_restore: tuple[tuple[str, ...], ...] = ()
    # Features every managed server of the family offers (markers ask for them by name).
    features: frozenset[str] = frozenset()
    # What the server logs for a refused login (health suite: bad logins show in the log).
    bad_login_marker = ""
    # Shell command printing the server's own account of its version (identify.from_tool_output).
    version_command = ""
    # Log lines that mean the server is unwell, by class (servers/log_gate.py), matched on the
    # message in order: the first class that matches names the line.
    log_classes: tuple[tuple[str, str], ...] = ()

    def settings_text(self, options: dict[str, object]) -> str:
        raise NotImplementedError

    def user_mailbox(self, user: str) -> str:
        """The admin's name for a user's top-level mailbox (account)."""
        raise NotImplementedError

    def mailbox_name(self, owner: str, folder: str, viewer: str | None = None) -> str:
        """How `viewer` (None: the admin) names `owner`'s `folder` ("" for the account itself)."""
        if viewer == owner and not folder:
            return "INBOX"
        base = self.user_mailbox(owner)
        return f"{base}.{folder}" if folder else base

    def create_user(self, server: ServerHandle, user: str, password: str) -> None:
        raise NotImplementedError

    def set_password(self, server: ServerHandle, user: str, password: str) -> None:
        raise NotImplementedError

    # Accounts live in a user database the admin reaches only through the exec channel (Dovecot's
    # passwd-file), not in the mailbox list an admin's CREATE user.NAME writes (Cyrus).
    accounts_in_userdb = False

    def ensure_account(self, server: ServerHandle, user: str) -> bool:
        """Make `user` an account if it is none yet (True when made); the password is random, for
        the admin's own (master) logins. A no-op where CREATE user.NAME makes the account."""
        return False

    def is_internal_mailbox(self, mailbox: str) -> bool:
        return False

    def delete_user(self, server: ServerHandle, user: str) -> None:
        """Remove an account and all its mail (cleanup on servers the harness did not start)."""
        raise NotImplementedError

    def repair_tree(self, server: ServerHandle, mailbox: str) -> None:
        """Run the server's own repair over a mailbox and everything below it."""
        raise NotImplementedError

    def quota_root(self, user: str) -> str:
        """The name GETQUOTAROOT gives the quota root of a user's account."""
        return self.user_mailbox(user)

    def set_quota(self, server: ServerHandle, root: str, storage_kb: int | None = None,
                  messages: int | None = None, settle: bool = True) -> None:
        """Set (or, with no limits, remove) a quota root's limits as the admin. `settle=False`:
        the caller does not need the new limit in force at once (bulk population)."""
        raise NotImplementedError

    def share_seen_state(self, server: ServerHandle, mailbox: str) -> None:
        """Make one \\Seen state for all users of a mailbox (the book's shared folder)."""
        raise NotImplementedError(f"{self.name} has no per-mailbox shared seen state")

    def create_group(self, server: ServerHandle, group: str) -> None:
        """Make a group exist (empty), for servers that refuse ACL entries naming unknown groups."""

    def set_groups(self, server: ServerHandle, user: str, groups: list[str], settle: bool = True) -> None:
        """Make `user` a member of exactly these groups (for group ACL identifiers); new sessions see
        it (with settle=False: from a second later, where the server re-reads a changed userdb)."""
        raise NotImplementedError

    def consistency_problems(self, server: ServerHandle, users: list[str]) -> list[str]:
        raise NotImplementedError

    def mailbox_path(self, server: ServerHandle, mailbox: str) -> str:
        raise NotImplementedError

    # The right `anyone` needs on a folder before LMTP to user+folder files mail there (None: no
    # right needed); without it Cyrus files the message in INBOX instead.
    detail_delivery_right: str | None = None

    def tool_name(self, mailbox: str) -> str:
        """A mailbox name as the server's command-line tools take it (Dovecot's: UTF-8)."""
        return mailbox

    def copy_into(self, server: ServerHandle, mailbox: str, messages: Iterable[tuple[bytes, float | None]],
                  first_uid: int) -> None:
        """The book's extract-and-copy: message files (CRLF content, mtime as internal date)
        written straight into the mailbox's directory, then the server's repair adopts them.
        Needs the feature "spool-copy"."""
        raise NotImplementedError

    def partitions(self, server: ServerHandle) -> dict[str, str]:
        """Partition name -> directory, as the server's configuration tool reports them."""
        return {}

    def tool_argv(self, name: str) -> list[str]:
        """The command line of one of the server's own admin tools, by its name."""
        return [name]

    def config(self, server: ServerHandle) -> dict[str, str]:
        """The server's effective settings, as its own configuration tool prints them."""
        return {}

    def settle(self, server: ServerHandle) -> None:
        """Wait until changes made through the server's files (userdb) are seen by new sessions."""

    # The server's own tools the harness runs over an exec channel: a target lacking one is refused
    # at the start, in one line, rather than half-way through a suite.
    required_tools: tuple[str, ...] = ()

    def missing_tools(self, channel) -> list[str]:
        script = 'for t in "$@"; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done'
        code, out, _err = channel.run(["sh", "-c", script, "sh", *self.required_tools], "root")
        return out.decode(errors="replace").split() if code == 0 else list(self.required_tools)

    def plaintext_settings(self, server: ServerHandle, allowed: bool) -> dict[str, str]:
        """Settings (for ManagedServer.reconfigure) that allow or refuse passwords in clear text
        before TLS: the book's warning about plaintext passwords, as configuration."""
        raise NotImplementedError

    def starttls_settings(self, server: ServerHandle) -> dict[str, str]:
        """Settings under which the IMAP port offers STARTTLS (none where it does by default)."""
        return {}

    def delivery_grace(self, server: ServerHandle) -> str:
        """How far past a quota limit the last delivery may go ("10%", "10 M"; see models/quota)."""
        return "0"

    def list_users(self, server: ServerHandle) -> list[str]:
        """Every account on the server, as the admin can list them."""
        with server.admin_imap() as admin:
            return sorted(n[len("user."):] for n in list_names(admin, "user.%"))

    def mailboxes_outside_accounts(self, server: ServerHandle) -> list[str]:
        """Top-level mailboxes that belong to no account (shared folders, bulletin boards made
        as top-level mailboxes): snapshots read accounts only, so a rehearsal names these."""
        with server.admin_imap() as admin:
            return sorted(n for n in list_names(admin, "%") if n not in ("user", "INBOX")
                          and not self.is_internal_mailbox(n) and n != "DELETED")

    # The mailbox list (the book's checkpoint, restore and rebuild): Cyrus's mailboxes.db.
    mailbox_list_formats: tuple[str, ...] = ()

    def mailbox_list(self):
        """The module that handles this family's mailbox list (servers/cyrus_mailbox_list.py)."""
        raise UserError(f"{self.name} keeps no mailbox list of its own (the book's checkpoint and rebuild are Cyrus's)")

    # Replication (upgrade --via replication): a master of this family replicating to a replica.
    # rolling "daemon": the master's own process replicates each change as it is logged (drained
    # when replication_backlog is 0); "passes": the harness repeats replication_pass (a pass over
    # every account) until the switch, then runs one last pass.
    replicates = False
    rolling = "daemon"

    def replication_settings(self, replica: ServerHandle) -> dict[str, str]:
        """The master's settings (ManagedServer options) that make it log changes for `replica`."""
        raise UserError(f"upgrade by replication is not available for {self.name} servers yet")

    def replication_pass(self, master: ServerHandle, replica: ServerHandle) -> ExecResult:
        """Copy every account to the replica (the initial sync; with rolling "passes", each pass)."""
        raise UserError(f"upgrade by replication is not available for {self.name} servers yet")

    def replication_backlog(self, master: ServerHandle) -> int:
        """Changes logged on the master that the replica has not been sent yet (0: drained)."""
        raise UserError(f"upgrade by replication is not available for {self.name} servers yet")

    def share_directory(self, master: ServerHandle, replica: ServerHandle) -> None:
        """Give the replica what a site's shared directory gives both servers (accounts' groups):
        replication copies the mail store, not the authentication and group databases."""

    def backup_plan(self, archive, version: tuple[int, ...], older_store: bool = False):
        """How an admin's backup (servers/backup.BackupArchive) becomes a volume this family's
        image starts on (a servers/backup.LoadPlan); UserError for what cannot be loaded."""
        raise UserError(f"the rehearsal on an admin's backup is not available for {self.name} servers yet")


# Every family: glibc's assert(), and the reports of GCC/Clang sanitizers (ASan, UBSan, LSan, ...).
_COMMON_LOG_CLASSES = (
    ("sanitizer", r"(Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|: runtime error: "),
    ("assertion", r"[Aa]ssertion [`'\"].*[\"'] failed|assertion failed"),
)


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Cyrus(Family):
    name = "cyrus"
    admin_user = "cyrus"
    tool_user = "cyrus"
    spool_user = "cyrus"
    # quota-roots: a quota root on any mailbox (nested roots); quota-repair: usage kept on disk,
    # repaired by `quota -f`.
    features = frozenset({"exec", "files", "lmtp", "partitions", "restart", "logs", "anonymous", "sieve", "mailbox-list", "spool-copy",
                          "quota-roots", "quota-repair"})
    bad_login_marker = "badlogin"
    # master(8) logs a child's death ("process type:imap path:... pid:N signaled to death by
    # signal 11 (Segmentation fault)", and the service "terminated abnormally"); fatal() logs
    # "Fatal error: ..."; the database layer logs DBERROR, file operations IOERROR.
    log_classes = (*_COMMON_LOG_CLASSES,
                   # SIGTERM (15) is a request to end (a stop or restart), not a crash.
                   ("crash", r"signaled to death by signal (?!15\b)|terminated abnormally|core dumped|[Ff]atal error"),
                   ("error", r"\bDBERROR\b|\bIOERROR\b"))
    bin = "/usr/lib/cyrus/bin"
    # The master binary's name and place differ by distribution (Debian renames it cyrmaster).
    version_command = ("for m in /usr/sbin/cyrmaster /usr/lib/cyrus/bin/master /usr/libexec/cyrus-imapd/master "
                       "/usr/cyrus/bin/master /usr/local/libexec/master; do [ -x \"$m\" ] && exec \"$m\" -V 2>&1; "
                       "done; exit 127")
    # Load scenario "large-list": reconstruct of one account, and of every mailbox (no argument:
    # reconstruct walks the whole mailbox list), run as tool_user.
    reconstruct_commands = {"reconstruct_user": f"{bin}/reconstruct -r {{mailbox}}",
                            "reconstruct_full": f"{bin}/reconstruct",
                            "repair_folder": f"{bin}/reconstruct {{mailbox}}"}
    # Databases are recovered by ctl_cyrusdb -r at every start (cyrus.conf START); then the book's
    # rule: after any restore or reconstruct, quota -f.
    after_restore = ((f"{bin}/quota", "-f"),)
    sasldb = f"{DATA}/config/sasldb2"
    required_tools = (f"{bin}/reconstruct", f"{bin}/quota", f"{bin}/mbpath", f"{bin}/cyr_info",
                      f"{bin}/ctl_mboxlist", "saslpasswd2", "flock")
    # saslpasswd2 opens the Berkeley DB file without an environment, so without locking: two
    # writers at once lose entries ("user not found" at login) or leave a file whose listing
    # never ends. Every writer takes this lock first.
    _sasldb_write = f"flock {sasldb}.lock saslpasswd2"

    mailbox_list_formats = ("flat", "skiplist", "twoskip")

    def mailbox_list(self):
        from . import cyrus_mailbox_list

        return cyrus_mailbox_list

    # Replication: the master logs every change (sync_log) and its rolling sync_client (run by
    # the master process: ManagedServer.rolling_sync) sends them to the replica's sync_server.
    # sync_try_imap off: a 3.x client first tries the IMAP protocol and waits 10 s for it (the
    # replica's syncserver logs the attempt as an IOERROR).
    replicates = True

    def replication_settings(self, replica):
        return {"sync_log": "1", "sync_host": replica.imap.host, "sync_port": str(replica.sync_port),
                "sync_authname": replica.admin_user, "sync_password": replica.admin_password,
                "sync_repeat_interval": "1", "sync_try_imap": "no"}

    def replication_pass(self, master, replica):
        return master.exec([f"{self.bin}/sync_client", "-v", "-A"])

    def share_directory(self, master, replica):
        # The harness's groups file (see set_groups); the replica's next start applies it.
        groups = master.exec(["cat", f"{DATA}/config/groups"], user="root")
        if groups.exit_code == 0:
            replica.write_file(f"{DATA}/config/groups", groups.raw_stdout, mode=0o644)

    def replication_backlog(self, master):
        # The rolling client renames the log to log-PID while it works through it, then removes it.
        res = master.exec(["sh", "-c", f"cat {DATA}/config/sync/log* 2>/dev/null | wc -l"], user="root")
        return int(res.check("sync log").stdout.strip() or 0)

    def backup_plan(self, archive, version, older_store=False):
        from . import cyrus_backup

        scan = archive.scan(cyrus_backup.CONFIG_NAMES, cyrus_backup.HEAD_NAMES)
        return cyrus_backup.plan(scan, version, DATA, older_store)

    def settings_text(self, options):
        return "\n".join(f"{k}: {_fmt(v)}" for k, v in options.items())

    def plaintext_settings(self, server, allowed):
        return {"allowplaintext": "yes" if allowed else "no"}

    def starttls_settings(self, server):
        # 3.10.2 and 3.12.1 turned STARTTLS off by default (implicit TLS preferred, RFC 8314).
        return {"allowstarttls": "on"} if server.version_tuple >= (3, 10) else {}

    def user_mailbox(self, user):
        return f"user.{user}"

    def mailbox_name(self, owner, folder, viewer=None):
        # In Cyrus's standard namespace an owner sees its own mailboxes under INBOX.
        if viewer == owner:
            return f"INBOX.{folder}" if folder else "INBOX"
        return super().mailbox_name(owner, folder, viewer)

    def is_internal_mailbox(self, mailbox):
        # Cyrus 3.x stores Sieve scripts (and DAV/JMAP data) in mailboxes whose names start with
        # '#' (user.bob.#sieve); the admin sees them in LIST but cannot SELECT them.
        return any(part.startswith("#") for part in mailbox.split("."))

    def set_password(self, server, user, password):
        # The password travels in the exec's environment, never on a command line or in a log.
        res = server.exec(
            ["sh", "-c", f'printf %s "$IW_PW" | {self._sasldb_write} -p -c -f {self.sasldb} "$1"', "sh", user],
            environment={"IW_PW": password},
        )
        res.check(f"saslpasswd2 for {user}")

    def create_user(self, server, user, password):
        self.set_password(server, user, password)
        with server.admin_imap() as imap:
            typ, data = command(imap, "CREATE", quote(self.user_mailbox(user)))
            if typ != "OK" and "already exists" not in status_text(data):
                raise RuntimeError(f"CREATE {self.user_mailbox(user)}: {typ} {status_text(data)}")

    def delete_user(self, server, user):
        # As the book says, the admin must first grant itself the right to delete the account.
        with server.admin_imap() as admin:
            if list_names(admin, self.user_mailbox(user)):
                admin.setacl(self.user_mailbox(user), server.admin_user, "lrswipkxtecda")
                typ, data = command(admin, "DELETE", quote(self.user_mailbox(user)))
                if typ != "OK":
                    raise RuntimeError(f"DELETE {self.user_mailbox(user)}: {status_text(data)}")
        if "exec" in server.features:
            server.exec(["sh", "-c", f'{self._sasldb_write} -d -f {self.sasldb} "$1"', "sh", user])

    def repair_tree(self, server, mailbox):
        server.exec([f"{self.bin}/reconstruct", "-r", mailbox]).check(f"reconstruct -r {mailbox}")

    def set_quota(self, server, root, storage_kb=None, messages=None, settle=True):
        limits = [f"STORAGE {storage_kb}"] * (storage_kb is not None) + [f"MESSAGE {messages}"] * (messages is not None)
        with server.admin_imap() as admin:
            typ, data = command(admin, "SETQUOTA", quote(root), f"({' '.join(limits)})")
        if typ != "OK":
            raise RuntimeError(f"SETQUOTA {root}: {typ} {status_text(data)}")

    def share_seen_state(self, server, mailbox):
        # Cyrus keeps seen state per user unless the mailbox's sharedseen annotation is true.
        with server.admin_imap() as admin:
            typ, data = command(admin, "SETMETADATA", quote(mailbox),
                                '(/shared/vendor/cmu/cyrus-imapd/sharedseen "true")')
            if typ != "OK":
                raise RuntimeError(f"sharedseen on {mailbox}: {status_text(data)}")

    # The groups the harness made, with their members, kept on the data volume as NAME:MEMBERS
    # lines: /etc/group belongs to the container, and an upgrade starts a new one (an admin's
    # /etc/group outlives a package upgrade). The image's entrypoint puts them back.
    _SAVE_GROUPS = f"""
f={DATA}/config/groups; touch "$f"
{{ cut -d: -f1 "$f"; printf '%s\\n' "$@"; }} | sort -u | while read -r g; do
    grep "^$g:" /etc/group | cut -d: -f1,4; done > "$f.new" && mv "$f.new" "$f" && chown cyrus:mail "$f"
"""

    def create_group(self, server, group):
        # SETACL naming group:NAME fails with "Invalid identifier" unless the group exists.
        script = 'grep -q "^$1:" /etc/group || groupadd "$1"' + self._SAVE_GROUPS
        server.exec(["sh", "-c", script, "sh", group], user="root").check(f"group {group}")

    def set_groups(self, server, user, groups, settle=True):
        # Cyrus's default auth_mech (unix) takes groups from the system group database, members
        # by name: the user needs no unix account. Read at login, so new sessions see changes.
        script = r"""
u="$1"; shift
for g in "$@"; do grep -q "^$g:" /etc/group || groupadd "$g"; done
awk -F: -v u="$u" -v want=" $* " 'BEGIN { OFS = ":" } NF >= 4 {
    n = split($4, m, ","); out = ""
    for (i = 1; i <= n; i++) if (m[i] != u && m[i] != "") out = out (out == "" ? "" : ",") m[i]
    if (index(want, " " $1 " ")) out = out (out == "" ? "" : ",") u
    $4 = out } { print }' /etc/group > /etc/group.new && cat /etc/group.new > /etc/group && rm /etc/group.new
""" + self._SAVE_GROUPS
        server.exec(["sh", "-c", script, "sh", user, *groups], user="root").check(f"groups of {user}")

    def consistency_problems(self, server, users):
        """Cassandane's check: `quota -f` and `reconstruct` have nothing to fix for these users."""
        if not users:
            return []
        mailboxes = [self.user_mailbox(u) for u in users]
        boxes = " ".join(shlex.quote(b) for b in mailboxes)  # reconstruct -r: each box and its children
        roots = " ".join(shlex.quote(b) for b in quota_tool_arguments(mailboxes))  # quota: prefixes
        # quota's dry run (-n) came with Cyrus 3.4; before it, `quota -f` repairs and reports the
        # same "usage was X, now Y" lines, so a problem still fails the test.
        script = (f"if {self.bin}/quota -h 2>&1 | grep -q -- '-n'; then dry=-n; else dry=; fi; "
                  f"{self.bin}/quota $dry -f {roots} 2>&1; echo '@@reconstruct'; "
                  f"{self.bin}/reconstruct -n -r -G {boxes} 2>&1")
        output = server.exec(["sh", "-c", script]).stdout
        # The mailboxes reconstruct walks are named on lines of their own; knowing the exact names
        # tells those apart from repairs ("user.bob.sub uid 2 found - adding"), spaces in names included.
        with server.admin_imap() as admin:
            # reconstruct prints names as stored: modified UTF-7 (RFC 3501 5.1.3), not decoded.
            names = {imap_utf7.encode(n).decode() for u in users
                     for p in (self.user_mailbox(u), self.user_mailbox(u) + ".*") for n in list_names(admin, p)}
        return check_problems(output, names)

    def mailbox_path(self, server, mailbox):
        res = server.exec([f"{self.bin}/mbpath", mailbox])
        res.check(f"mbpath {mailbox}")
        return res.stdout.strip()

    # https://www.cyrusimap.org/imap/concepts/features/mail-delivery.html: "the folder must allow
    # anyone to post (p)" for plus-addressed delivery.
    detail_delivery_right = "p"

    def tool_name(self, mailbox):
        # mbpath and reconstruct take names as IMAP sends them: modified UTF-7 (RFC 3501 5.1.3).
        return imap_utf7.encode(mailbox).decode()

    def copy_into(self, server, mailbox, messages, first_uid):
        # Cyrus names message files UID. and reconstruct indexes files it finds (mtime: internal date).
        server.write_files(self.mailbox_path(server, mailbox),
                           ((f"{first_uid + i}.", content, mtime) for i, (content, mtime) in enumerate(messages)))
        server.exec([f"{self.bin}/reconstruct", mailbox]).check(f"reconstruct {mailbox}")

    def tool_argv(self, name):
        return [f"{self.bin}/{name}"]

    def config(self, server):
        out = server.exec([f"{self.bin}/cyr_info", "conf"]).check("cyr_info conf").stdout
        return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if k}

    def partitions(self, server):
        return {k.removeprefix("partition-"): v for k, v in self.config(server).items() if k.startswith("partition-")}




class Dovecot(Family):
    # Indexes are caches of the Maildirs; force-resync makes them agree with what was restored.
    # (userdb has no iteration here: one passwd-file per user, so walk those.)
    after_restore = (("sh", "-c", 'for f in /srv/imapwright/users/*; do u="${f##*/}"; '
                      '[ "$u" = admin ] || doveadm force-resync -u "$u" "*" || exit 1; done'),)
    name = "dovecot"
    admin_user = "admin"
    tool_user = "root"
    # force-resync is Dovecot's reconstruct of one folder (index against the Maildir)
    reconstruct_commands = {"repair_folder": "doveadm force-resync -u {user} INBOX"}
    spool_user = "vmail"  # mail_uid in the image's configuration
    features = frozenset({"exec", "files", "lmtp", "restart", "logs", "anonymous", "sieve", "spool-copy"})
    bad_login_marker = "auth failed"
    # Dovecot's log levels: "Panic:" (an assertion, then abort), "Fatal:" (the process exits),
    # the master's "child N killed with signal 11"; "Error:" is its error level.
    log_classes = (*_COMMON_LOG_CLASSES,
                   ("crash", r"\bPanic: |\bFatal: |killed with signal|core dumped"),
                   ("error", r"\bError: "))
    version_command = "dovecot --version"
    required_tools = ("doveadm", "doveconf", "dovecot")
    users_dir = f"{DATA}/users"  # one passwd-file per user
    accounts_in_userdb = True

    # Replication: dsync, one-way (`doveadm backup`) from the master to the replica's doveadm
    # server (SYNC_PORT; doveadm_password = the replica's admin password). 2.4 has no replicator
    # service any more, so rolling replication is repeated passes over every account.
    replicates = True
    rolling = "passes"

    def replication_settings(self, replica):
        return {"doveadm_password": replica.admin_password}

    def replication_pass(self, master, replica) -> ExecResult:
        users = [u for u in self.list_users(master) if u != "anonymous"]
        script = ('for u in "$@"; do doveadm backup -u "$u" "tcp:' + f'{replica.imap.host}:{replica.sync_port}'
                  + '" || { echo "doveadm backup -u $u failed" >&2; exit 1; }; done')
        return master.exec(["sh", "-c", script, "sh", *users], user="root")

    def replication_backlog(self, master):
        raise ServerError("Dovecot replication has no change log: its passes are drained by one more pass")

    def backup_plan(self, archive, version, older_store=False):
        from . import dovecot_backup

        scan = archive.scan((), (), (dovecot_backup.CONFIG_PREFIX,))
        return dovecot_backup.plan(archive, scan, version, DATA)

    def share_directory(self, master, replica):
        # The users' passwd-files (passwords, quota and ACL group fields): the site's directory,
        # in one archive (a read and a write per user cost two execs each: a minute at 300
        # accounts). Not the admin's: each server keeps its own admin password.
        users = [u for u in self.list_users(master) if u != "anonymous"]
        if not users:
            return
        archive = master.exec(["tar", "-C", self.users_dir, "-cf", "-", "--", *users], user="root")
        if archive.exit_code != 0 or not replica.channel.put_archive(self.users_dir, archive.raw_stdout):
            raise ServerError(f"{master.name}: the users' files did not reach {replica.name}: "
                              f"{archive.stderr.strip()[:200] or 'the copy was refused'}")
        replica.exec(["sh", "-c", f"chown root:dovecot {self.users_dir}/* && chmod 640 {self.users_dir}/*"],
                     user="root").check("users on the replica")

    def list_users(self, server):
        # The userdb has no iteration here (a passwd-file per user): the files are the accounts.
        if "exec" not in server.features:
            raise ServerError("Dovecot's accounts are listed from its userdb: give an exec channel (?exec=docker:NAME) "
                              "or a --users file")
        names = server.exec(["ls", "-1", self.users_dir], user="root").check("ls users").stdout.split()
        return sorted(n for n in names if n != server.admin_user)

    def ensure_account(self, server, user):
        if server.exec(["test", "-e", f"{self.users_dir}/{user}"], user="root").exit_code == 0:
            return False
        self.set_password(server, user, secrets.token_urlsafe(18))
        return True
    _generation = 0  # distinct mtimes for rewritten passwd-files (see set_groups)

    def settings_text(self, options):
        return "\n".join(f"{k} = {_fmt(v)}" for k, v in options.items())

    def plaintext_settings(self, server, allowed):
        if server.version_tuple >= (2, 4):
            return {"auth_allow_cleartext": "yes" if allowed else "no"}
        return {"disable_plaintext_auth": "no" if allowed else "yes"}

    def delivery_grace(self, server):
        # 2.3: plugin setting quota_grace (unset: 10%); 2.4: quota_storage_grace (default 10 M).
        setting, default = ("quota_storage_grace", "10 M") if server.version_tuple >= (2, 4) \
            else ("plugin/quota_grace", "10%")
        if "exec" not in server.features:
            return default
        value = server.exec(["doveconf", "-h", setting], user="root").check(f"doveconf {setting}").stdout.strip()
        return value or default

    def user_mailbox(self, user):
        return f"user.{user}"

    def mailbox_name(self, owner, folder, viewer=None):
        # Dovecot names mailboxes per viewer: the owner's own are in its private namespace
        # ("INBOX", "folder"), everyone else sees them under the shared prefix user.OWNER.
        if viewer == owner:
            return folder or "INBOX"
        return f"user.{owner}.{folder or 'INBOX'}" if viewer else super().mailbox_name(owner, folder)

    def create_user(self, server, user, password):
        self.set_password(server, user, password)
        # Touching the INBOX makes the account exist on disk, so the admin sees it.
        server.exec(["doveadm", "mailbox", "status", "-u", user, "messages", "INBOX"]).check(f"INBOX of {user}")

    def set_password(self, server, user, password):
        salt = os.urandom(8)
        digest = base64.b64encode(hashlib.sha256(password.encode() + salt).digest() + salt).decode()
        line = f"{user}:{{SSHA256}}{digest}::::::"
        script = f'umask 027; printf "%s\\n" "$2" > {self.users_dir}/$1 && chgrp dovecot {self.users_dir}/$1'
        server.exec(["sh", "-c", script, "sh", user, line]).check(f"passwd-file of {user}")

    def set_groups(self, server, user, groups, settle=True):
        # Dovecot's ACL groups come from the userdb field acl_groups.
        self._set_userdb_fields(server, user, {"acl_groups": ",".join(groups) if groups else None}, settle)

    def repair_tree(self, server, mailbox):
        user, _, folder = mailbox.removeprefix("user.").partition(".")
        server.exec(["doveadm", "force-resync", "-u", user, f"{folder}*" if folder else "*"]).check(
            f"force-resync {mailbox}")

    def quota_root(self, user):
        return "User quota"

    def set_quota(self, server, root, storage_kb=None, messages=None, settle=True):
        # Dovecot has one root per user, its limits from userdb: SETQUOTA needs a quota_set dict
        # and a master login. `root` is the account's mailbox name as the admin sees it.
        user = root.removeprefix("user.")
        if server.version_tuple >= (2, 4):
            fields = {"quota_storage_size": f"{storage_kb}K" if storage_kb is not None else None,
                      "quota_message_count": str(messages) if messages is not None else None}
        else:
            limits = [f"storage={storage_kb}K"] * (storage_kb is not None) + [f"messages={messages}"] * (messages is not None)
            fields = {"quota_rule": "*:" + ":".join(limits) if limits else None}
        self._set_userdb_fields(server, user, fields, settle)

    def _set_userdb_fields(self, server, user, fields: dict[str, str | None], settle: bool = True) -> None:
        """Set (value) or drop (None) userdb extra fields on the user's passwd-file line.

        Dovecot re-reads a passwd-file only when its mtime (whole seconds) or size changed, and
        checks at most once a second: so the file gets a fresh mtime of its own, and the change
        is visible from the next second on.
        """
        path = f"{self.users_dir}/{user}"
        line = server.read_file(path).decode().strip()
        head = line.split(":")[:7]
        extra = dict(f.split("=", 1) for f in ":".join(line.split(":")[7:]).split() if "=" in f)
        for key, value in fields.items():
            extra.pop(f"userdb_{key}", None)
            if value is not None:
                extra[f"userdb_{key}"] = value
        head += [""] * (7 - len(head))
        new_line = ":".join(head) + ":" + " ".join(f"{k}={v}" for k, v in extra.items())
        self._generation += 1
        server.write_file(path, (new_line + "\n").encode())
        server.exec(["touch", "-d", f"@{1_000_000_000 + self._generation}", path], user="root").check()
        if settle:
            self.settle(server)

    def settle(self, server):
        # A passwd-file is re-read when its mtime changes; mtimes have whole seconds here.
        time.sleep(1.05 - time.time() % 1)

    def delete_user(self, server, user):
        # Dovecot never deletes an INBOX over IMAP: the account goes with its passwd-file and home.
        if "exec" not in server.features:
            raise RuntimeError(f"cannot remove Dovecot user {user} without an exec channel")
        server.exec(["doveadm", "kick", user], user="root")
        server.exec(["rm", "-rf", f"{self.users_dir}/{user}", f"{DATA}/home/{user}"], user="root").check()

    def consistency_problems(self, server, users):
        """Quota recalculation changes nothing, and a forced index resync finds nothing to fix."""
        problems = []
        for user in users:
            script = ('doveadm -f flow quota get -u "$1"; doveadm quota recalc -u "$1"; echo @@after; '
                      'doveadm -f flow quota get -u "$1"; doveadm force-resync -u "$1" "*" 2>&1')
            out = server.exec(["sh", "-c", script, "sh", user]).stdout
            before, _, after = out.partition("@@after\n")
            after_quota = "\n".join(line for line in after.splitlines() if line.startswith("Quota name"))
            if before.strip() and after_quota and before.strip() != after_quota.strip():
                problems.append(f"quota recalc for {user} changed usage: {before.strip()} -> {after_quota.strip()}")
            problems += [f"force-resync {user}: {line}" for line in after.splitlines()
                         if line.strip() and not line.startswith("Quota name")]
        return problems

    def mailbox_path(self, server, mailbox):
        user, _, rest = mailbox.removeprefix("user.").partition(".")
        res = server.exec(["doveadm", "mailbox", "path", "-u", user, rest or "INBOX"])
        res.check(f"doveadm mailbox path {mailbox}")
        return res.stdout.strip()

    def copy_into(self, server, mailbox, messages, first_uid):
        # Maildir (mail_location in the image): files in cur/ with unique names; Dovecot takes
        # the mtime as the received date and assigns UIDs at its next sync.
        user, _, rest = mailbox.removeprefix("user.").partition(".")
        stamp = f"{int(time.time())}.M{{}}P{os.getpid()}Q{secrets.token_hex(3)}.imapwright:2,"
        server.write_files(self.mailbox_path(server, mailbox) + "/cur",
                           ((stamp.format(i), content, mtime) for i, (content, mtime) in enumerate(messages)))
        server.exec(["doveadm", "force-resync", "-u", user, rest or "INBOX"]).check(f"force-resync {mailbox}")


FAMILIES: dict[str, Family] = {f.name: f for f in (Cyrus(), Dovecot())}


def spec_features(spec: ServerSpec) -> frozenset[str]:
    """What a server started from `spec` offers: its family's features, and TLS on the catalogue's
    images (an own image need not know the TLS variables, docker/README.md)."""
    return FAMILIES[spec.family].features | ({"tls"} if not spec.is_own else set())
