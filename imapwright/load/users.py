"""Locust users the scenarios in loadtests/ are made of. Importing this module imports Locust
(which patches the standard library for gevent): only locustfiles import it.

Abstract bases here; a locustfile makes concrete classes (`class Deliverer(LMTPDeliverer): pass`)
so Locust runs exactly the users that file names. Everything about the server and the population
comes from LoadConfig (environment variables), so plain `locust -f` can run each file too.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import random
import re
import time
import uuid

import gevent
from locust import User, between, constant, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner
from locust.user.users import LOCUST_STATE_STOPPING

from ..errors import UserError
from ..protocol import imap_wire
from ..protocol.imap_wire import astring, mailbox
from . import budget, distributed, imap_loop
from .config import LoadConfig
from .distributed import current_config
from .exec import ExecLoadClient
from .imap import IMAPLoadClient
from . import ledger as ledger_mod
from .ledger import LedgerWriter
from .lmtp import LMTPLoadClient
from .mail import SizeMix, make_message
from .mixes import DEFAULT_MIX, parse_mix
from .scenarios import REPAIR

logger = logging.getLogger("imapwright")

_ledger: LedgerWriter | None = None
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
BURST_SECONDS = 0.5  # longest run of back-to-back deliveries in one Locust task (no pause set)


@events.init.add_listener
def _request_budget(environment, **_kwargs) -> None:
    """IMAPWRIGHT_LOAD_OPT_MAX_REQUESTS ends a run the way -t does (runner.quit). One process
    refuses to start more than its budget (load/budget.py) and quits once the last has finished;
    workers each refuse more than their part, and the master (distributed.Master) quits on the
    totals they report."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # A worker on another host learns the budget with the master's first spawn message.
        def worker_part(**_kw) -> None:
            config = current_config()
            limit = int(config.option("max_requests") or 0)
            if limit:
                budget.set_worker_part(limit, int(config.option("workers") or 1), lambda: runner.worker_index)
        environment.events.test_start.add_listener(worker_part)
        return
    config = LoadConfig.from_env()
    limit = int(config.option("max_requests") or 0)
    if not limit:
        return
    if isinstance(runner, MasterRunner):
        return  # distributed.Master watches the workers' totals
    budget.set_limit(limit)
    seen = [0]

    def count(**_kw) -> None:
        seen[0] += 1
        if seen[0] == limit:
            gevent.spawn(runner.quit)
    environment.events.request.add_listener(count)


@events.quitting.add_listener
def _close_ledger(**_kwargs) -> None:
    """The ledger's last lines on disk before the process exits. A "sent" line waits in the
    buffer for its outcome's line, and a user Locust's stop kills in mid-request (it kills users
    it finds waiting, and the kill can land after the wait has ended) never writes one: lost, the
    message it sent, if it arrived, was counted unacknowledged (seen on dovecot:2.3 with
    large-mailbox's paced deliverers); kept, it is a request whose outcome is unknown."""
    if _ledger is not None:
        _ledger.close()


def ledger(config: LoadConfig) -> LedgerWriter:
    """One ledger file per process, shared by its users."""
    global _ledger
    if _ledger is None:
        _ledger = LedgerWriter(config.ledger, timings=config.option("timings") == "1",
                               sink=distributed.remote_ledger)
    return _ledger


class LoadUser(User):
    abstract = True

    def __init__(self, environment):
        super().__init__(environment)
        self.config = current_config()
        self.rng = random.Random()


class LMTPDeliverer(LoadUser):
    """Delivers to random users of the population, sizes from SizeMix, to each user's INBOX;
    IMAPWRIGHT_LOAD_OPT_DELIVERY_PAUSE seconds between deliveries (default none)."""
    abstract = True

    def on_start(self) -> None:
        self.config.need("LMTP", "USERS")
        self.sizes = SizeMix(self.config.option("size"), self.rng)
        self.lmtp = LMTPLoadClient(*self.config.lmtp, self.environment, ledger(self.config))
        self.pause = float(self.config.option("delivery_pause"))
        # The next envelope behind each message (lmtp_wire.py): only in back-to-back runs, where
        # the server would otherwise wait a round trip for it.
        self.pipeline = not self.pause and self.config.option("lmtp_pipeline") == "1"

    def wait_time(self) -> float:
        return self.pause

    @task
    def deliver(self) -> None:
        """With no pause, one task makes deliveries for up to BURST_SECONDS: Locust's way round its
        loop between tasks (a task pick, wait_time, a gevent.sleep(0) through the hub) cost about
        15 us of user CPU per delivery against smtp-sink, a fifth of the whole. A stop is still seen
        between two deliveries, as Locust sees it between two tasks (a delivery whose envelope went
        out ahead is made first, so the session ends cleanly); other users run whenever this one
        waits for an answer."""
        end = time.monotonic() + BURST_SECONDS if not self.pause else 0.0
        users = self.config.users
        user = self.rng.choice(users)
        while True:
            going_on = (self.pipeline and self._state != LOCUST_STATE_STOPPING
                        and time.monotonic() < end and budget.left())
            after = self.rng.choice(users) if going_on else None
            mid, message = make_message(self.sizes.pick())
            self.lmtp.deliver(message, user, message_id=mid, user=user, wire=True,  # make_message: wire form
                              then=after)
            if not self.lmtp.pending and (self._state == LOCUST_STATE_STOPPING or time.monotonic() >= end):
                return
            user = after if self.lmtp.pending else self.rng.choice(users)

    def on_stop(self) -> None:
        self.lmtp.close()


class IMAPSession(LoadUser):
    """A logged-in IMAP user of the population on one persistent connection."""
    abstract = True
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        self.config.need("IMAP", "USERS", "PASSWORD")
        self.user = self.account()
        self.imap = IMAPLoadClient(*self.config.imap, self.environment, ledger(self.config),
                                   tls=self.config.tls, context=self.config.ssl_context(),
                                   pipeline=self.config.option("imap_pipeline") == "1")
        self.imap.login(self.user, self.config.password)

    def account(self) -> str:
        return self.rng.choice(self.config.users)

    def on_stop(self) -> None:
        if self.imap.connected:
            self.imap.logout()
        self.imap.close()


class MixedSession(LoadUser):
    """Dovecot imaptest's way: every step picks a state by weight (IMAPWRIGHT_LOAD_OPT_MIX), after
    a think time of IMAPWRIGHT_LOAD_OPT_THINK seconds ("0.05-0.3" by default; "0": none, as the
    generator benchmark drives it). The session runs in the process's IMAP loop
    (load/imap_loop.py) as MixedSteps; this user starts it and waits for its end."""
    abstract = True
    loop_session = None
    wait_time = constant(0)  # the session thinks inside the loop (MixedSteps)

    def on_start(self) -> None:
        self.config.need("IMAP", "USERS", "PASSWORD")
        low, _, high = self.config.option("think").partition("-")
        try:
            self.think = (float(low), float(high or low))
        except ValueError:
            raise SystemExit(f"IMAPWRIGHT_LOAD_OPT_THINK={self.config.option('think')!r}: "
                             "expected SECONDS or LOW-HIGH") from None
        try:
            mix = parse_mix(self.config.option("mix") or DEFAULT_MIX)
        except UserError as exc:
            raise SystemExit(str(exc)) from None
        self.states = [s for s in mix if mix[s] > 0]
        self.cum_weights = list(itertools.accumulate(mix[s] for s in self.states))
        self.sizes = SizeMix(self.config.option("size"), self.rng)
        self.user = self.rng.choice(self.config.users)
        if self.states:
            self.loop_session = imap_loop.loop_for(self.environment).start(
                MixedSteps(self).run(), *self.config.imap, self.user, tls=self.config.tls,
                context=self.config.ssl_context())

    def on_stop(self) -> None:
        if self.loop_session is not None:
            self.loop_session.loop.abort(self.loop_session)  # killed mid-session: dropped (ended: nothing)

    @task
    def step(self) -> None:
        """The loop runs the session; this user waits for its end (a stop, the budget, or an error
        in its steps, which it raises)."""
        if self.loop_session is None:  # a mix of no state
            raise StopUser()
        self.loop_session.done.wait()
        if self.loop_session.error is not None:
            raise self.loop_session.error
        raise StopUser()


class MixedSteps:
    """MixedSession's states as steps for the IMAP loop (load/imap_loop.py): imaptest's states as
    commands, one request event each, the ledger's lines for what APPEND adds and EXPUNGE
    removes."""

    def __init__(self, session: MixedSession):
        self.session, self.rng, self.config = session, session.rng, session.config
        self.ledger = ledger(session.config)
        self.pipeline = session.config.option("imap_pipeline") == "1"
        self.connected = False
        self.selected = False
        self.appended: list[tuple[int, str]] = []

    def run(self):
        session, rng = self.session, self.rng
        # imaptest's weighted pick (random.choices' own rule, without its list per call)
        steps, cum = [getattr(self, "do_" + s) for s in session.states], session.cum_weights
        total, last = cum[-1], len(cum) - 1
        yield from self.login()
        while True:
            yield from steps[bisect.bisect(cum, rng.random() * total, 0, last)]()
            if session._state == LOCUST_STATE_STOPPING or not budget.left():
                break
            if session.think[1]:
                yield imap_loop.Think(self.rng.uniform(*session.think))
                if session._state == LOCUST_STATE_STOPPING:
                    break
        yield from self.logout()

    def _seen(self, answer) -> None:
        if answer.lost:
            self.connected = self.selected = False

    def command(self, name: str, text: bytes, literal: bytes | None = None):
        answer = yield imap_loop.Command(name, text, literal, non_sync=self.pipeline)
        self._seen(answer)
        return answer

    def login(self):
        if not self.connected:
            answer = yield imap_loop.CONNECT
            if not answer.ok:
                return False
            self.connected = True
        return (yield from self.command("LOGIN", imap_wire.login_text(self.session.user,
                                                                      self.config.password))).ok

    def logout(self):
        if not self.connected:
            return True
        answer = yield from self.command("LOGOUT", b"LOGOUT")
        yield imap_loop.HANGUP  # closes whatever the answer
        self.connected = self.selected = False
        return answer.ok

    def select(self):
        self.selected = (yield from self.command("SELECT", imap_wire.select_text("INBOX"))).ok
        return self.selected

    def ensure_selected(self):
        if not self.connected and not (yield from self.login()):
            return False
        return self.selected or (yield from self.select())

    def some_uids(self, n: int):
        if not (yield from self.ensure_selected()):
            return []
        answer = yield from self.command("SEARCH", imap_wire.search_text(b"ALL"))
        uids = imap_wire.search_hits(answer.untagged) if answer.ok else []
        if not uids:
            return []
        return [self.rng.choice(uids)] if n == 1 else self.rng.sample(uids, min(n, len(uids)))

    def do_list(self):
        if (yield from self.ensure_selected()):
            yield from self.command("LIST", imap_wire.list_text("", "*"))

    def do_select(self):
        if self.connected or (yield from self.login()):
            yield from self.select()

    def do_fetch(self):
        uids = yield from self.some_uids(10)
        if uids:
            yield from self.command("FETCH", imap_wire.fetch_text(uids, ["UID", "FLAGS", "INTERNALDATE",
                                                                         "RFC822.SIZE", "ENVELOPE"]))

    def do_fetch2(self):
        uids = yield from self.some_uids(1)
        if uids:
            yield from self.command("FETCH BODY", imap_wire.fetch_text(uids, ["BODY.PEEK[]"]))

    def do_search(self):
        if (yield from self.ensure_selected()):
            yield from self.command("SEARCH", imap_wire.search_text(b"UNSEEN"))

    def do_store(self):
        uids = yield from self.some_uids(3)
        if uids:
            flag = self.rng.choice([b"\\Seen", b"\\Flagged", b"$Label1"])
            op = b"+FLAGS" if self.rng.random() < 0.7 else b"-FLAGS"
            yield from self.command("STORE", imap_wire.store_text(uids, op, [flag]))

    def do_append(self):
        if not (yield from self.ensure_selected()):
            return
        mid, message = make_message(self.session.sizes.pick(), subject="appended")
        user = self.session.user
        self.ledger.record("sent", user, "INBOX", mid, flush=False)  # its outcome's line flushes
        answer = yield from self.command("APPEND", imap_wire.append_text("INBOX", (b"\\Seen",)), message)
        if answer.ok:
            self.ledger.record("add", user, "INBOX", mid)
            uid = imap_loop.appended_uid(answer)
            if uid is not None:
                self.appended.append((uid, mid))
        else:  # a NO or BAD: it must not be there; a broken connection: the outcome is unknown
            self.ledger.record("unknown" if answer.lost else "refused", user, "INBOX", mid)

    def do_expunge(self):
        # Only messages this session appended: the ledger knows exactly what left.
        if not (self.appended and (yield from self.ensure_selected())):
            return
        uid, mid = self.appended.pop(self.rng.randrange(len(self.appended)))
        user, store = self.session.user, imap_wire.store_text([uid], b"+FLAGS", [b"\\Deleted"])
        if self.pipeline:  # STORE and UID EXPUNGE in one write (the recorded imap_pipeline option)
            self.ledger.record("removing", user, "INBOX", mid)
            answers = yield imap_loop.Pipelined(["STORE", "EXPUNGE"], [store, imap_wire.expunge_text([uid])])
            for answer in answers:
                self._seen(answer)
            if len(answers) == 2 and all(a.ok for a in answers):
                self._removed(uid, mid, [line for a in answers for line in a.untagged])
            return
        stored = yield from self.command("STORE", store)
        if not stored.ok:
            return
        self.ledger.record("removing", user, "INBOX", mid)
        answer = yield from self.command("EXPUNGE", imap_wire.expunge_text([uid]))
        if answer.ok:
            self._removed(uid, mid, stored.untagged + answer.untagged)

    def _removed(self, uid: int, mid: str, untagged: list[bytes]) -> None:
        """An expunge answered OK: what its answers say of the message (ledger.expunge_outcome)."""
        outcome = ledger_mod.expunge_outcome(untagged, uid)
        if outcome:
            self.ledger.record(outcome, self.session.user, "INBOX", mid)

    def do_idle(self):
        if (yield from self.ensure_selected()):
            self._seen((yield imap_loop.Idle(float(self.config.option("idle_seconds")))))

    def do_logout(self):  # imaptest LOGOUT: the session ends, the next begins
        yield from self.logout()
        self.appended.clear()
        yield from self.login()


class FolderChurner(IMAPSession):
    """Admin churn as users do it: create a folder, rename it, share it (SETACL), take the share
    back, delete it. Folder names are the user's own (IMAPWRIGHT_LOAD_OPT_OWN_PREFIX)."""
    abstract = True
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        super().on_start()
        self.prefix = self.config.option("own_prefix")

    @task
    def churn(self) -> None:
        if not self.imap.connected and not self.imap.login(self.user, self.config.password):
            return
        name = f"{self.prefix}churn-{uuid.uuid4().hex[:10]}"
        renamed = name + "-renamed"
        others = [u for u in self.config.users if u != self.user] or [self.user]
        other = self.rng.choice(others)  # an owner cannot take its own rights away
        conn = self.imap
        if not conn.command("CREATE", lambda: conn.conn.run(b"CREATE " + mailbox(name)))[0]:
            return
        if conn.command("RENAME", lambda: conn.conn.run(b"RENAME " + mailbox(name) + b" " + mailbox(renamed)))[0]:
            name = renamed
        # A failed command may have dropped the connection (conn.conn is None): the folder is left
        # for the next round's churn to ignore, as a real client that lost its connection would.
        if not conn.connected:
            return
        if conn.command("SETACL", lambda: conn.conn.run(b"SETACL " + mailbox(name) + b" " + astring(other) + b" lrs"))[0] \
                and conn.connected:
            conn.command("DELETEACL", lambda: conn.conn.run(b"DELETEACL " + mailbox(name) + b" " + astring(other)))
        if conn.connected:
            conn.command("DELETE", lambda: conn.conn.run(b"DELETE " + mailbox(name)))


class QuotaChurner(LoadUser):
    """The admin sets and changes quota limits while everything else runs (SETQUOTA, RFC 9208).
    Root names come from IMAPWRIGHT_LOAD_OPT_QUOTA_ROOT ("user.{user}"); without it, no task."""
    abstract = True
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.config.need("IMAP", "USERS", "ADMIN", "ADMIN_PASSWORD")
        self.root_form = self.config.option("quota_root")
        self.imap = IMAPLoadClient(*self.config.imap, self.environment, tls=self.config.tls,
                                   context=self.config.ssl_context())
        self.imap.login(self.config.admin, self.config.admin_password)

    @task
    def set_quota(self) -> None:
        if not self.root_form:
            raise StopUser()
        if not self.imap.connected and not self.imap.login(self.config.admin, self.config.admin_password):
            return
        root = self.root_form.format(user=self.rng.choice(self.config.users))
        limit = self.rng.choice([500_000, 1_000_000, 2_000_000])  # KB; never low enough to refuse mail
        conn = self.imap
        conn.command("SETQUOTA", lambda: conn.conn.run(b"SETQUOTA " + mailbox(root) + b" (STORAGE %d)" % limit))

    def on_stop(self) -> None:
        self.imap.logout()
        self.imap.close()


class Lister(LoadUser):
    """The admin lists the whole mailbox list (LIST "" "*"), as a client with many shared folders
    or an admin tool does."""
    abstract = True
    wait_time = constant(1)

    def on_start(self) -> None:
        self.config.need("IMAP", "ADMIN", "ADMIN_PASSWORD")
        self.imap = IMAPLoadClient(*self.config.imap, self.environment, timeout=600, tls=self.config.tls,
                                   context=self.config.ssl_context())
        self.imap.login(self.config.admin, self.config.admin_password)

    @task
    def list_all(self) -> None:
        if self.imap.connected or self.imap.login(self.config.admin, self.config.admin_password):
            self.imap.list("*")

    def on_stop(self) -> None:
        self.imap.logout()
        self.imap.close()


class Reconstructor(LoadUser):
    """Runs the server's reconstruct through its exec channel, one event per run ("reconstruct one
    user", "reconstruct full list"). Commands come from IMAPWRIGHT_LOAD_OPT_RECONSTRUCT_USER and
    _FULL (set by the harness from the server family); a failing exit status is a failure."""
    abstract = True
    wait_time = constant(2)
    COMMANDS = (("reconstruct one user", "reconstruct_user"), ("reconstruct full list", "reconstruct_full"))

    def on_start(self) -> None:
        self.config.need("EXEC")
        self.exec = ExecLoadClient(self.config.exec, self.environment, self.config.option("tool_user"),
                                   ledger(self.config))
        self.commands = [(name, self.config.option(key)) for name, key in self.COMMANDS]
        self.commands = [(n, c) for n, c in self.commands if c]
        self.turn = 0

    @task
    def reconstruct(self) -> None:
        if not self.commands:
            raise StopUser()
        name, command = self.commands[self.turn % len(self.commands)]
        self.turn += 1
        self.exec.run(name, command)

    def on_stop(self) -> None:
        self.exec.close()


class FolderRepairer(Reconstructor):
    """The large folder's repair, timed: Cyrus's reconstruct of that mailbox, Dovecot's
    force-resync of that INBOX (IMAPWRIGHT_LOAD_OPT_REPAIR_FOLDER, from the server family)."""
    abstract = True
    COMMANDS = ((REPAIR, "repair_folder"),)


class LargeFolderSession(IMAPSession):
    """A mail client on the large folder (IMAPWRIGHT_LOAD_OPT_LARGE_USER's INBOX): SELECT, FETCH of
    the newest 20, SEARCH, STORE on the newest, then APPEND and EXPUNGE of a message of its own,
    each request named "large ..." so the report shows what the folder's size costs them."""
    abstract = True
    wait_time = between(0.2, 0.5)

    def account(self) -> str:
        user = self.config.option("large_user")
        if not user:
            raise SystemExit("IMAPWRIGHT_LOAD_OPT_LARGE_USER is not set: the large folder's account")
        return user

    def on_start(self) -> None:
        super().on_start()
        self.sizes = SizeMix(self.config.option("size"), self.rng)

    @task
    def read_and_change(self) -> None:
        imap = self.imap
        if not imap.connected and not imap.login(self.user, self.config.password):
            return
        selected = imap.select("INBOX", name="large SELECT")
        if selected is None:
            return
        uidnext = next((int(m.group(1)) for line in selected if (m := _UIDNEXT.search(line))), 0)
        newest = list(range(max(1, uidnext - 20), uidnext))
        if newest:
            imap.fetch(newest, ["UID", "FLAGS", "ENVELOPE"], name="large FETCH newest 20")
            imap.store_flags(newest[-3:], [b"\\Flagged"], add=self.rng.random() < 0.5, name="large STORE")
        imap.search(b"UNSEEN", name="large SEARCH UNSEEN")
        imap.search(b'HEADER SUBJECT "appended"', name="large SEARCH SUBJECT")
        mid, message = make_message(self.sizes.pick(), subject="appended")
        uid = imap.append("INBOX", message, mid, flags=(b"\\Seen",), name="large APPEND")
        if uid is not None:
            imap.expunge_uid(uid, mid, prefix="large ")
