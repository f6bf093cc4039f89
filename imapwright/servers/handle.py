"""A handle on a running IMAP server: connection details, tools, files and logs inside its container."""

from __future__ import annotations

import contextlib
import io
import shlex
import socket
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import imapclient

from ..catalogue import version_tuple
from ..errors import ServerError, UserError
from ..protocol.dial import Dialer
from ..protocol.imap import authenticate_anonymous
from ..protocol.lmtp import LMTPClient
from ..protocol.managesieve import ManageSieveClient
from . import logs
from .channel import DockerChannel, ExecChannel
from .families import Family

PUT_BYTES = 32 << 20  # per transfer of files into a container (write_files)


@dataclass
class ExecResult:
    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    raw_stdout: bytes = b""

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self, what: str = "") -> ExecResult:
        if self.exit_code != 0:
            raise RuntimeError(f"{what or shlex.join(self.argv)} exited {self.exit_code}: {self.output.strip()[-500:]}")
        return self


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(eq=False)
class ServerHandle:
    name: str  # catalogue name, or "target" for an external server
    family: Family
    version: str  # as the server reports it
    imap: Endpoint
    lmtp: Endpoint | None
    admin_user: str
    admin_password: str = field(repr=False)
    container: object | None = None  # docker Container when the harness can exec into it
    features: frozenset[str] = frozenset()
    owned: bool = False  # started by the harness: destructive suites may run without asking
    sieve: Endpoint | None = None  # ManageSieve (RFC 5804), where the harness knows the port
    imaps: Endpoint | None = None  # IMAP over TLS (RFC 8314); STARTTLS is on `imap` when "tls"
    version_source: str = "image"  # where `version` came from (identify.Identity.source); "" unknown
    # An exec channel given explicitly (ssh); otherwise the container's, made when first needed.
    exec_channel: ExecChannel | None = None
    log_file: str = logs.LOG_FILE  # the server's syslog lines, beside it (a target may say log=PATH)
    # How sessions reach IMAP when a caller does not say: "" plain, "imaps" or "starttls" (a target
    # given as imaps:// or with ?starttls=1); and whose certificates are trusted (servers/tls.py).
    session_tls: str = ""
    tls_trust: str = "run"
    _docker: DockerChannel | None = field(default=None, repr=False)

    # -- identity -----------------------------------------------------------------------------
    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    @property
    def version_known(self) -> bool:
        return bool(self.version_tuple)

    def describe(self) -> str:
        version = self.version or "version unknown"
        return f"{self.name} ({self.family.name} {version}) imap={self.imap}" + (
            f" ({self.session_tls})" if self.session_tls else "") + (f" lmtp={self.lmtp}" if self.lmtp else "")

    @property
    def family_name(self) -> str:
        return self.family.name

    @property
    def bad_login_marker(self) -> str:
        """What the server logs for a refused login."""
        return self.family.bad_login_marker

    @property
    def tool_user(self) -> str:
        return self.family.tool_user

    @property
    def accounts_in_userdb(self) -> bool:
        """Accounts are userdb entries (made through the exec channel), not CREATE user.NAME."""
        return self.family.accounts_in_userdb

    @property
    def detail_delivery_right(self) -> str | None:
        """The right `anyone` needs on a folder before LMTP to user+folder files mail there."""
        return self.family.detail_delivery_right

    # -- protocol clients ---------------------------------------------------------------------
    def imap_client(self, timeout: float = 30, tls: str | None = None) -> imapclient.IMAPClient:
        """A connection, not logged in; `tls` "" plain, "imaps" (the IMAPS port) or "starttls"
        (upgraded at once), verified as `tls_trust` says; None: the server's session default."""
        tls = self.session_tls if tls is None else tls
        if tls == "imaps":
            if self.imaps is None:
                raise ServerError(f"{self.name}: no IMAPS port")
            client = imapclient.IMAPClient(self.imaps.host, port=self.imaps.port, ssl=True,
                                           ssl_context=self.tls_context(), timeout=timeout)
        else:
            client = imapclient.IMAPClient(self.imap.host, port=self.imap.port, ssl=False, timeout=timeout)
            if tls == "starttls":
                client.starttls(self.tls_context())
        # imapclient writes some commands in two pieces (line, then CRLF); with Nagle's algorithm
        # and delayed ACKs each such command waits about 40 ms for nothing.
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def tls_context(self):
        """Client TLS settings: the run's CA only for servers the harness starts; the system's
        trust (or none, --insecure) for a target."""
        from .tls import client_context

        return client_context(self.tls_trust)

    def dialer(self) -> Dialer:
        """Raw connections for the pipelined clients, with the sessions' TLS."""
        if self.session_tls == "imaps":
            return Dialer(self.imaps.host, self.imaps.port, "imaps", self.tls_context())
        return Dialer(self.imap.host, self.imap.port, self.session_tls,
                      self.tls_context() if self.session_tls else None)

    def login(self, user: str, password: str, tls: str | None = None) -> imapclient.IMAPClient:
        client = self.imap_client(tls=tls)
        try:
            client.login(user, password)
        except BaseException:  # a refused login closes its connection (callers may retry)
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    def login_anonymous(self) -> imapclient.IMAPClient:
        """A session authenticated with SASL ANONYMOUS (RFC 4505)."""
        client = self.imap_client()
        authenticate_anonymous(client)
        return client

    @contextlib.contextmanager
    def admin_imap(self) -> Iterator[imapclient.IMAPClient]:
        client = self.login(self.admin_user, self.admin_password)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def lmtp_client(self, starttls: bool = False) -> LMTPClient:
        if self.lmtp is None:
            raise ServerError(f"{self.name} has no LMTP address")
        return LMTPClient(self.lmtp.host, self.lmtp.port, tls_context=self.tls_context() if starttls else None)

    def sieve_client(self, user: str, password: str, starttls: bool = False) -> ManageSieveClient:
        if self.sieve is None:
            raise ServerError(f"{self.name} has no ManageSieve address")
        return ManageSieveClient(self.sieve.host, self.sieve.port, user, password,
                                 tls_context=self.tls_context() if starttls else None)

    def admin_sieve(self, user: str) -> ManageSieveClient:
        """ManageSieve as the admin acting for `user` (its scripts, without its password)."""
        if self.sieve is None:
            raise ServerError(f"{self.name} has no ManageSieve address")
        return ManageSieveClient(self.sieve.host, self.sieve.port, self.admin_user, self.admin_password,
                                 authzid=user)

    def is_internal_mailbox(self, mailbox: str) -> bool:
        """A server-internal mailbox (Cyrus keeps Sieve scripts in user.X.#sieve): not mail."""
        return self.family.is_internal_mailbox(mailbox)

    @contextlib.contextmanager
    def user_session(self, user: str) -> Iterator[imapclient.IMAPClient]:
        """An IMAP session as `user`, opened with the admin's credentials (SASL PLAIN authorization
        identity, RFC 4616): no user password needed. LoginError when the admin cannot act as
        `user` (no such account). Logged out on leaving."""
        client = self.imap_client()
        try:
            client.plain_login(self.admin_user, self.admin_password, authorization_identity=user)
            yield client
        except BaseException:
            # Cut off (Ctrl-C, an error) perhaps inside a command: LOGOUT would wait out the
            # socket timeout for an answer that is not coming; close the connection instead.
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        else:
            with contextlib.suppress(Exception):
                client.logout()

    # -- accounts -----------------------------------------------------------------------------
    def ensure_account(self, user: str) -> bool:
        """Make `user` an account where accounts live in a userdb (True when made)."""
        return self.family.ensure_account(self, user)

    def list_users(self) -> list[str]:
        """Every account on the server."""
        return self.family.list_users(self)

    def mailboxes_outside_accounts(self) -> list[str]:
        """Top-level mailboxes of no account (shared folders, boards made at the top level)."""
        return self.family.mailboxes_outside_accounts(self)

    # -- the mailbox list (checkpoint, restore, rebuild) ----------------------------------------
    def _mailbox_list(self):
        if "mailbox-list" not in self.features or "exec" not in self.features:
            raise UserError(f"{self.name}: no mailbox list tools reachable (Cyrus with an exec channel needed)")
        return self.family.mailbox_list()

    def dump_mailbox_list(self) -> bytes:
        return self._mailbox_list().dump(self)

    def restore_mailbox_list(self, dump: bytes) -> str:
        """Replace the live list with `dump`; the damaged one is kept aside; restart; quotas repaired."""
        return self._mailbox_list().restore(self, dump)

    def rebuild_mailbox_list(self) -> str:
        """Recreate the list from the mailboxes on disk; restart; quotas repaired."""
        return self._mailbox_list().rebuild(self)

    # -- replication (upgrade --via replication) ------------------------------------------------
    @property
    def replicates(self) -> bool:
        return self.family.replicates

    def replication_settings(self, replica: ServerHandle) -> dict[str, str]:
        return self.family.replication_settings(replica)

    @property
    def replication_rolling(self) -> str:
        return self.family.rolling

    def replication_pass(self, replica: ServerHandle) -> ExecResult:
        return self.family.replication_pass(self, replica)

    def replication_backlog(self) -> int:
        return self.family.replication_backlog(self)

    def share_directory(self, replica: ServerHandle) -> None:
        self.family.share_directory(self, replica)

    def delete_user(self, user: str) -> None:
        """Remove an account and all its mail."""
        self.family.delete_user(self, user)

    def create_user(self, user: str, password: str) -> None:
        self.family.create_user(self, user, password)

    def set_password(self, user: str, password: str) -> None:
        """Let `user` log in with `password` (no mailbox is created)."""
        self.family.set_password(self, user, password)

    def user_mailbox(self, user: str) -> str:
        return self.family.user_mailbox(user)

    def mailbox_name(self, owner: str, folder: str = "", viewer: str | None = None) -> str:
        """How `viewer` (None: the admin) names `owner`'s `folder` ("" for the account itself)."""
        return self.family.mailbox_name(owner, folder, viewer)

    def repair_tree(self, mailbox: str) -> None:
        """The server's own repair of a mailbox hierarchy (Cyrus reconstruct -r, Dovecot force-resync)."""
        self.family.repair_tree(self, mailbox)

    def quota_root(self, user: str) -> str:
        """The quota root name GETQUOTAROOT reports for a user's account."""
        return self.family.quota_root(user)

    def set_quota(self, root: str, storage_kb: int | None = None, messages: int | None = None,
                  settle: bool = True) -> None:
        """Set a quota root's limits (no limits: remove the root)."""
        self.family.set_quota(self, root, storage_kb, messages, settle)

    def share_seen_state(self, mailbox: str) -> None:
        """One \\Seen state for everybody on this mailbox (a shared folder, not a bulletin board)."""
        self.family.share_seen_state(self, mailbox)

    def create_group(self, group: str) -> None:
        """Make an (empty) group exist, so that ACL entries may name it."""
        self.family.create_group(self, group)

    def set_groups(self, user: str, groups: list[str], settle: bool = True) -> None:
        """Make `user` a member of exactly these groups; sessions opened afterwards see it (with
        settle=False, see Family.set_groups)."""
        self.family.set_groups(self, user, groups, settle)

    # -- the server's own tools ---------------------------------------------------------------
    def tool(self, name: str, *args: str, user: str | None = None, stdin_file: str | None = None) -> ExecResult:
        """Run one of the server's admin tools by name (reconstruct, quota, ctl_mboxlist, mbpath,
        doveadm ...): where it lives is the family's knowledge. `stdin_file`: a file inside the
        server fed to its standard input."""
        argv = [*self.tool_command(name), *args]
        if stdin_file is not None:
            argv = ["sh", "-c", 'f=$1; shift; exec "$@" < "$f"', "sh", stdin_file, *argv]
        return self.exec(argv, user=user)

    def tool_command(self, name: str) -> list[str]:
        """The command line that runs a tool, for pipelines written around it."""
        return self.family.tool_argv(name)

    def config(self) -> dict[str, str]:
        """The server's effective settings, as its configuration tool prints them."""
        return self.family.config(self)

    @property
    def required_tools(self) -> tuple[str, ...]:
        """The server's own tools the harness runs (its family's contract, docker/README.md)."""
        return self.family.required_tools

    def starttls_settings(self) -> dict[str, str]:
        """Settings under which the IMAP port offers STARTTLS (empty where it does by default)."""
        return self.family.starttls_settings(self)

    def plaintext_settings(self, allowed: bool) -> dict[str, str]:
        """Settings that allow or refuse clear-text passwords before TLS (for reconfigure)."""
        return self.family.plaintext_settings(self, allowed)

    def delivery_grace(self) -> str:
        """How far past a quota limit the delivery that crosses it may go (models/quota grace)."""
        return self.family.delivery_grace(self)

    def settle(self) -> None:
        """Wait until changes written without settling (userdb fields) are seen by new sessions."""
        self.family.settle(self)

    def consistency_problems(self, users: list[str]) -> list[str]:
        """What the server's own repair tools (dry runs) would fix for these users."""
        return self.family.consistency_problems(self, users)

    def after_restore(self) -> list[str]:
        """The steps the server's documentation has an admin run after a restore; their outputs."""
        return [self.exec(list(step)).check(" ".join(step)).output for step in self.family.after_restore]

    def tool_name(self, mailbox: str) -> str:
        """A mailbox name as the server's command-line tools take it."""
        return self.family.tool_name(mailbox)

    def copy_into(self, mailbox: str, messages: Iterable[tuple[bytes, float | None]], first_uid: int) -> None:
        """Message files written straight into a mailbox's directory, adopted by the repair."""
        self.family.copy_into(self, mailbox, messages, first_uid)

    # -- tools inside the container ------------------------------------------------------------
    @property
    def channel(self) -> ExecChannel:
        """How commands reach the server (see channel.py); ServerError when there is none."""
        if self.exec_channel is not None:
            return self.exec_channel
        if self.container is None:
            raise ServerError(f"{self.name}: no exec channel to this server")
        if self._docker is None or self._docker.container is not self.container:
            self.close_shells()  # a new container (reconfigure): the old shells went with the old one
            self._docker = DockerChannel(self.container)
        return self._docker

    def exec(self, argv: list[str], user: str | None = None, environment: dict[str, str] | None = None,
             workdir: str | None = None) -> ExecResult:
        """Run a command beside the server, by default as the server's own user."""
        code, out, err = self.channel.run(list(argv), user or self.family.tool_user, environment, workdir)
        return ExecResult(list(argv), code, out.decode(errors="replace"), err.decode(errors="replace"), out)

    def close_shells(self) -> None:
        for channel in (self._docker, self.exec_channel):
            if channel is not None:
                channel.close()

    def mailbox_path(self, mailbox: str) -> str:
        """On-disk folder of a mailbox, as the server's own path tool reports it."""
        return self.family.mailbox_path(self, mailbox)

    def partitions(self) -> dict[str, str]:
        """Partition name -> directory (empty for servers without partitions)."""
        return self.family.partitions(self)

    # -- files inside the container (for suites that damage real spool files) ------------------
    def read_file(self, path: str) -> bytes:
        res = self.exec(["cat", path], user="root")
        if res.exit_code != 0:
            raise FileNotFoundError(f"{self.name}:{path}: {res.stderr.strip()}")
        return res.raw_stdout

    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Write a file, keeping the owner and mode of the file it replaces (else the server user's)."""
        st = self.exec(["stat", "-c", "%u %g %a", path], user="root")
        if st.exit_code == 0:
            uid, gid, perm = st.stdout.split()
            owner, perm_i = (int(uid), int(gid)), int(perm, 8)
        else:
            owner, perm_i = self._ids(self.family.tool_user), 0o600
        directory, _, base = path.rpartition("/")
        self._put_files(directory or "/", [(base, data, None)], owner, mode if mode is not None else perm_i)

    def write_files(self, directory: str, files: Iterable[tuple[str, bytes, float | None]]) -> None:
        """New files (name, content, mtime or None for now), owned by the user that owns the store's
        message files, mode 0600: how message files are copied into a spool. Transfers of up to
        PUT_BYTES each: a copy of a million messages is not held in memory at once (#33)."""
        self._put_files(directory, files, self._ids(self.family.spool_user), 0o600)

    def _ids(self, user: str) -> tuple[int, int]:
        ids = self.exec(["sh", "-c", f"id -u {user}; id -g {user}"], user="root").stdout.split()
        return int(ids[0]), int(ids[1])

    def _put_files(self, directory: str, files: Iterable[tuple[str, bytes, float | None]],
                   owner: tuple[int, int], mode: int) -> None:
        buf, tar, count = None, None, 0

        def put() -> None:
            tar.close()
            if not self.channel.put_archive(directory, buf.getvalue()):
                raise RuntimeError(f"{self.name}: writing {count} files into {directory} failed")

        for name, data, mtime in files:
            if tar is None:
                buf = io.BytesIO()
                tar = tarfile.open(fileobj=buf, mode="w")
            info = tarfile.TarInfo(name)
            info.size, (info.uid, info.gid), info.mode = len(data), owner, mode
            info.mtime = int(mtime if mtime is not None else time.time())
            tar.addfile(info, io.BytesIO(data))
            count += 1
            if buf.tell() >= PUT_BYTES:
                put()
                tar = None
        if tar is not None:
            put()

    def truncate_file(self, path: str, size: int = 0) -> None:
        self.exec(["truncate", "-s", str(size), path], user="root").check(f"truncate {path}")

    def delete_file(self, path: str) -> None:
        self.exec(["rm", "-f", path], user="root").check(f"rm {path}")

    def list_dir(self, path: str) -> list[str]:
        res = self.exec(["ls", "-1A", path], user="root")
        if res.exit_code != 0:
            raise FileNotFoundError(f"{self.name}:{path}: {res.stderr.strip()}")
        return res.stdout.splitlines()

    # -- logs ---------------------------------------------------------------------------------
    def logs(self, since: datetime | None = None, until: datetime | None = None) -> list[logs.LogLine]:
        """The server's syslog lines, optionally only those in [since, until]."""
        if since is None:
            res = self.exec(["cat", self.log_file], user="root")
        else:
            res = self.exec(["awk", "-v", f"t={logs.stamp(since)}", "$1 >= t", self.log_file], user="root")
        lines = logs.parse(res.stdout)
        if until is not None:
            lines = [line for line in lines if line.time <= until]
        return lines

    def wait_for_log(self, *needles: str, since: datetime, timeout: float = 5.0) -> list[logs.LogLine]:
        """Log lines after `since` whose message contains every needle; syslog is asynchronous, and
        some servers log a refusal only when the connection closes, so poll until one appears."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.logs(since) if all(n in line.message for n in needles)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)
