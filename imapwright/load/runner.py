"""`imapwright load`: prepare the population, run headless Locust, check the server, write the run.

A run directory (reports/<run-id>/) holds Locust's CSV, JSON and HTML, the ledgers, the server's
log lines of the run's window, summary.json (the harness's figures and checks) and index.html.
It is written under a temporary name and renamed when complete, so a run is whole or absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from ..endpoints import parse_host_port
from ..errors import ServerError, UserError
from ..params import duration, run_id as new_run_id
from ..progress import Progress, console
from ..catalogue import lookup
from ..resources import loadtests_dir
from ..servers import ports
from ..servers.managed import start_server
from ..servers.handle import ServerHandle
from ..servers import log_gate
from ..servers.logs import trouble, trouble_tail
from . import ledger as ledger_mod
from . import results
from .results import lost_workers, statistics_check, unchecked_server
from .config import LoadConfig
from .grow import FILLS
from .scenarios import LARGE_MAILBOX_DEFAULT, SCENARIOS
from .cpu import CPUSampler, cgroup_cpu_file
from .verify import found_on_server



@dataclass
class LoadParams:
    scenario: str
    users: int = 10  # concurrent Locust users
    spawn_rate: float = 10
    duration: float = 30  # seconds; every run is bounded
    population: int = 20  # mailbox accounts the load goes to
    workers: int = 0  # Locust worker processes (0: one process)
    stop_timeout: float = 15  # seconds users get to finish their task at the end
    mailboxes: int = 0  # large-list: entries to seed
    messages: int = 0  # large-mailbox: messages its folder is grown to (0: LARGE_MAILBOX_DEFAULT)
    fill: str = "lmtp"  # large-mailbox: how the folder is grown (load/grow.py FILLS)
    prefix: str = "load"  # population accounts are PREFIX00000, PREFIX00001, ...
    max_requests: int = 0  # a bound by count beside the bound by time (0: time only)
    tls: bool = False  # IMAP sessions over TLS (the IMAPS port; a target's own TLS mode)
    expect_workers: int = 0  # a master for workers on other hosts (imapwright load-worker); 0: none
    master_bind: str = "127.0.0.1:5557"  # where such a master listens (HOST:PORT)
    worker_wait: float = 120  # seconds a master waits for its workers before it gives up
    options: dict[str, str] = field(default_factory=dict)  # scenario knobs (IMAPWRIGHT_LOAD_OPT_*)

    def check(self) -> None:
        if self.scenario not in SCENARIOS:
            raise UserError(f"no load scenario {self.scenario!r}; scenarios: {', '.join(SCENARIOS)}")
        for name in ("users", "population", "spawn_rate"):
            if getattr(self, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive")
        duration(str(self.duration))  # the one place the bounds are (params.py)
        if self.workers < 0 or self.mailboxes < 0 or self.max_requests < 0 or self.messages < 0:
            raise UserError("--workers, --mailboxes, --messages and --max-requests cannot be negative")
        if self.fill not in FILLS:
            raise UserError(f"--fill {self.fill!r}: one of {', '.join(FILLS)}")
        if not self.prefix.isalnum() or not self.prefix[0].isalpha():
            raise UserError(f"--prefix {self.prefix!r}: letters and digits, starting with a letter")
        if self.expect_workers < 0:
            raise UserError("--expect-workers cannot be negative")
        if self.expect_workers and self.workers:
            raise UserError("--workers (processes here) and --expect-workers (workers on other hosts) "
                            "exclude each other; give one")
        if self.expect_workers:
            master_endpoint(self.master_bind)


def master_endpoint(text: str, option: str = "--master-bind") -> tuple[str, int]:
    try:
        return parse_host_port(text)
    except ValueError:
        raise UserError(f"{option} {text!r}: expected HOST:PORT, e.g. "
                        f"{'0.0.0.0' if option == '--master-bind' else 'master.example.org'}:5557") from None


def population_names(count: int, prefix: str = "load") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]


def _bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description:<22}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                    TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console)


def prepare(server: ServerHandle, params: LoadParams, ledger_dir: Path) -> LoadConfig:
    """Population accounts (one generated password), seeded mailbox list, scenario knobs."""
    missing = (SCENARIOS[params.scenario].needs | {"exec"}) - set(server.features)
    if missing:
        raise UserError(f"scenario {params.scenario} needs {', '.join(sorted(missing))}, which {server.name} "
                        "does not offer here (a --target gives exec with ?exec=docker:NAME)")
    users = population_names(params.population, params.prefix)
    password = secrets.token_urlsafe(16)
    with _bar() as bar:
        task = bar.add_task("population", total=len(users), note="")
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in pool.map(lambda u: server.create_user(u, password), users):
                bar.advance(task)
        if params.mailboxes:
            from ..stores.seed import SeedError, seed_mailboxes, seed_names

            task = bar.add_task("mailbox list", total=params.mailboxes, note="pipelined CREATE x4")
            since = datetime.now(UTC)
            try:
                seed_mailboxes(server.dialer(), server.admin_user, server.admin_password,
                               seed_names(0, params.mailboxes, server.user_mailbox), progress=lambda n: bar.advance(task, n))
            except (OSError, SeedError) as exc:  # the server's failure, reported with its own words
                raise ServerError(f"{server.name} failed while seeding the mailbox list ({exc}); "
                                  f"server log: {(trouble_tail(server, since, 1) or ['(nothing readable)'])[0]}") from None
        if params.scenario == "large-mailbox":
            _grow_large_folder(server, params, users[0], ledger_dir, bar)
    family = server.family
    options = {"own_prefix": server.mailbox_name(users[0], "x", users[0])[:-1],
               "quota_root": server.quota_root("{user}") if "quota-roots" in server.features else "",
               "tool_user": family.tool_user, "timings": "1" if SCENARIOS[params.scenario].windows else "",
               # recorded, so compare names it against runs before it or with --knob lmtp_pipeline=0
               "lmtp_pipeline": "1",
               **{key: command.format(mailbox=server.user_mailbox(users[0]), user=users[0])
                  for key, command in family.reconstruct_commands.items()}}
    if params.max_requests:
        options["max_requests"] = str(params.max_requests)
        if params.workers or params.expect_workers:  # each worker takes its part of the budget
            options["workers"] = str(params.workers or params.expect_workers)
    if params.scenario == "large-mailbox":
        # Deliveries go on at a pace a real site sees, not flat out (--knob delivery_pause=0: flat out).
        options.update(large_user=users[0], delivery_pause="0.05")
    options.update(params.options)
    imap, tls, ca_file = _imap_endpoint(server, params)
    return LoadConfig(imap=(imap.host, imap.port), tls=tls, tls_ca=ca_file, tls_verify=server.tls_trust != "none",
                      lmtp=(server.lmtp.host, server.lmtp.port) if server.lmtp else None,
                      users=users, password=password, admin=server.admin_user,
                      admin_password=server.admin_password, ledger=str(ledger_dir),
                      exec=server.channel.name if "exec" in server.features else "",
                      family=family.name, options=options)


def _grow_large_folder(server: ServerHandle, params: LoadParams, user: str, ledger_dir: Path, bar) -> None:
    """large-mailbox: `user`'s INBOX grown to params.messages over LMTP (only what it lacks: a
    population reused from an earlier run on a --target already holds some), its count checked
    with STATUS before and after; what it took goes to large-mailbox.json beside the ledger."""
    from .grow import copy_inbox, grow_inbox

    def held() -> int:
        with server.user_session(user) as client:
            return client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"]

    def uidnext() -> int:
        with server.user_session(user) as client:
            return client.folder_status("INBOX", [b"UIDNEXT"])[b"UIDNEXT"]

    target, before = params.messages or LARGE_MAILBOX_DEFAULT, held()
    count = max(0, target - before)
    how = "pipelined LMTP x4" if params.fill == "lmtp" else "files into the spool, then the server's repair"
    task = bar.add_task("large folder", total=count, note=f"{how}, {before} there before")
    since = datetime.now(UTC)
    try:
        if params.fill == "copy":
            grown = copy_inbox(server, user, count, progress=lambda n: bar.advance(task, n),
                               phase=lambda text: bar.update(task, note=text))
        else:
            grown = grow_inbox(server.lmtp.host, server.lmtp.port, user, count,
                               progress=lambda n: bar.advance(task, n))
    except (ServerError, RuntimeError) as exc:  # RuntimeError: the spool transfer failed
        raise ServerError(f"{server.name}: {exc}; server log: "
                          f"{(trouble_tail(server, since, 1) or ['(nothing readable)'])[0]}") from None
    after = held()
    if after != before + count:
        done = "acknowledged deliveries" if params.fill == "lmtp" else "message files copied and repaired"
        raise ServerError(f"{server.name}: {user}'s INBOX holds {after} messages after {count} {done} "
                          f"to the {before} it held")
    ledger_dir.mkdir(parents=True, exist_ok=True)
    (ledger_dir / "large-mailbox.json").write_text(json.dumps({"user": user, **grown, "messages": after,
                                                               "delivered": count, "before": before,
                                                               "fill": params.fill, "uidnext": uidnext()}))


def _imap_endpoint(server: ServerHandle, params: LoadParams):
    """(endpoint, TLS mode, CA file for the Locust processes): a target's sessions keep its own
    TLS mode; --tls on a server the harness starts uses its IMAPS port and the run's CA."""
    if server.session_tls:
        return (server.imaps if server.session_tls == "imaps" else server.imap), server.session_tls, ""
    if not params.tls:
        return server.imap, "", ""
    if server.imaps is None:
        raise UserError(f"--tls: {server.name} has no IMAPS port here (a target gives TLS as imaps:// "
                        "or ?starttls=1)")
    from ..servers.tls import run_ca

    return server.imaps, "imaps", str(run_ca().ca_file) if server.tls_trust == "run" else ""


def locust_command(params: LoadParams, out: Path, master_port: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(loadtests_dir() / SCENARIOS[params.scenario].file),
           "--headless", "-u", str(params.users), "-r", str(params.spawn_rate), "-t", f"{int(params.duration)}s",
           "--stop-timeout", str(int(params.stop_timeout)), "--csv", str(out / "locust"), "--csv-full-history",
           "--json-file", str(out / "locust"), "--html", str(out / "locust.html"), "--only-summary",
           "--exit-code-on-error", "0", "--logfile", str(out / "locust.log")]
    if params.workers:
        cmd += ["--processes", str(params.workers), "--master-bind-host", ports.HOST,
                "--master-bind-port", str(master_port), "--master-port", str(master_port)]  # workers dial this
    elif params.expect_workers:  # workers on other hosts: imapwright load-worker --master HOST:PORT
        host, port = master_endpoint(params.master_bind)
        cmd += ["--master", "--expect-workers", str(params.expect_workers), "--master-bind-host", host,
                "--master-bind-port", str(port), "--expect-workers-max-wait", str(int(params.worker_wait))]
    return cmd


def _last_history(path: Path) -> str:
    """Live figures for the progress bar from the last Aggregated history row."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 4096))
            rows = [r for r in fh.read().decode(errors="replace").splitlines() if ",Aggregated," in r]
    except OSError:
        return ""
    if not rows:
        return ""
    cells = rows[-1].split(",")
    return f"{cells[1]} users, {float(cells[4]):.0f} req/s, p95 {cells[11]} ms"


def _stopping_note(out: Path, seconds: float) -> str:
    """While Locust stops: the master's own word on what it waits for (load/users.py), if any."""
    with contextlib.suppress(OSError):
        said = [line.split("imapwright: ")[-1] for line in (out / "locust.log").read_text(errors="replace").splitlines()
                if "imapwright: " in line]
        if said:
            return f"stopping {seconds:.0f} s: {said[-1]}"
    return f"stopping {seconds:.0f} s: users finish their tasks"


def _last_log_line(out: Path) -> str:
    lines = []
    for name in ("locust.log", "locust.out"):
        with contextlib.suppress(OSError):
            lines += (out / name).read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(none)"


def run_locust(config: LoadConfig, params: LoadParams, out: Path, server_cpu_file: str | None = None) -> int:
    """Run Locust to its end (or a hard deadline); Ctrl-C stops it before the harness goes on.
    The Locust processes' CPU and the server's (`server_cpu_file`, its cgroup counter) are sampled
    throughout into out/cpu-samples.json (load/cpu.py says who saturated first)."""
    master_port = ports.free_port() if params.workers else None
    env = {**os.environ, **config.to_env(), "PYTHONUNBUFFERED": "1"}
    deadline = params.duration + params.stop_timeout + 60 + (params.worker_wait if params.expect_workers else 0)
    log = (out / "locust.out").open("w")
    proc = subprocess.Popen(locust_command(params, out, master_port), env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=out, start_new_session=True)
    sampler = CPUSampler(proc.pid, server_cpu_file).start()
    try:
        with _bar() as bar:
            task = bar.add_task(f"load {params.scenario}", total=params.duration, note="")
            launched = start = time.monotonic()
            waiting = bool(params.expect_workers)  # the run time starts once the workers have users
            while proc.poll() is None:
                now = time.monotonic()
                if now - launched > deadline:
                    raise UserError(f"Locust did not stop {deadline - params.duration:.0f} s after the run "
                                    f"time; its last log line: {_last_log_line(out)}")
                note = _last_history(out / "locust_stats_history.csv")
                if waiting and note and not note.startswith("0 users"):  # Locust's history: users spawned
                    waiting, start = False, now
                if waiting:
                    bar.update(task, completed=0, note=f"waiting for {params.expect_workers} worker{'s' * (params.expect_workers != 1)} "
                                                       f"({now - launched:.0f} s of {params.worker_wait:.0f})")
                elif now - start > params.duration + 1:  # the users are stopping: say what it waits for
                    bar.update(task, completed=params.duration, note=_stopping_note(out, now - start - params.duration))
                else:
                    bar.update(task, completed=min(now - start, params.duration), note=note)
                time.sleep(0.5)
            bar.update(task, completed=params.duration)
        return proc.returncode
    finally:
        if proc.poll() is None:  # interrupted or past the deadline: stop the whole process group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # Locust shuts down gracefully on TERM
            try:
                proc.wait(timeout=params.stop_timeout + 5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        if master_port:
            ports.release(master_port)
        samples = sampler.stop()
        (out / "cpu-samples.json").write_text(json.dumps([[t, {str(k): v for k, v in gen.items()}, srv]
                                                           for t, gen, srv in samples]))


def search_floors(ledger_dir: Path) -> dict[tuple[str, str], int]:
    """The large-mailbox folder is searched for load mail only from the UID its growth ended at:
    SEARCH HEADER over a million grown messages cost minutes, and on dovecot:2.3 its imap process."""
    path = ledger_dir / "large-mailbox.json"
    grown = json.loads(path.read_text()) if path.exists() else {}
    return {(grown["user"], "INBOX"): grown["uidnext"]} if grown.get("uidnext") else {}


def check_server(server: ServerHandle, config: LoadConfig, ledger_dir: Path,
                 baseline: dict) -> dict:
    """Acknowledged == stored (nothing missing, nothing unacknowledged), and the server's own
    consistency check has nothing to repair for the population."""
    expected = ledger_mod.read_ledgers(ledger_dir)
    keys = sorted({(u, "INBOX") for u in config.users} | set(expected.present) | set(expected.maybe))
    with console.status("checking the server against the ledger"):
        found = found_on_server(server, keys, floors=search_floors(ledger_dir))
    for key, ids in baseline.items():  # a --target may hold load mail of earlier runs
        found[key] = found.get(key, ids) - ids
    lost = lost_workers(ledger_dir)
    _attribute_to_lost_workers(expected, found, lost)
    check = ledger_mod.compare(expected, found).as_dict()
    if lost:
        check["lost_workers"] = lost
    consistency: list[str] = []
    if "exec" in server.features:
        with console.status("consistency check (quota and reconstruct dry runs)"):
            touched = sorted({u for u, _ in keys} & set(config.users))
            consistency = server.consistency_problems(touched)
    statistics = statistics_check(results.read_stats(ledger_dir.parent / "locust.json"), expected.finished)
    return {"ledger": check, "consistency": consistency[:100], "consistency_count": len(consistency),
            "statistics": statistics, "passed": check["passed"] and not consistency and statistics["agree"]}


def _attribute_to_lost_workers(expected, found: dict, lost: list[dict]) -> None:
    """Mail a lost worker had in flight reached the server while its ledger lines did not reach
    the master: its Message-IDs carry the worker's pid (load/mail.py), so those messages count as
    sent with an unknown outcome, not as unacknowledged."""
    pids = {str(w["pid"]) for w in lost if "pid" in w}
    if not pids:
        return
    for key, ids in found.items():
        known = set(expected.present.get(key, {})) | expected.maybe.get(key, set())
        stray = {mid for mid in ids if mid not in known and mid.split("@")[0].rsplit(".", 1)[-1] in pids}
        if stray:
            expected.maybe.setdefault(key, set()).update(stray)


def run_on_server(name: str, settings: dict[str, str], params: LoadParams, reports: Path) -> tuple[Path, dict]:
    """Start the catalogue server `name` with `settings`, run, and stop it whatever happens."""
    spec = lookup(name)
    with console.status(f"starting {name}"):
        handle = start_server(spec, settings)
    try:
        info = {"name": spec.name, "family": spec.family, "version": handle.version, "options": settings}
        return run_load(handle, params, reports, info)
    finally:
        with console.status(f"stopping {name}"):
            handle.stop()


def run_on_target(handle: ServerHandle, params: LoadParams, reports: Path) -> tuple[Path, dict]:
    info = {"name": handle.name, "family": handle.family_name, "version": handle.version, "target": True}
    return run_load(handle, params, reports, info)


def interrupt_reason(exc: BaseException) -> str:
    return "SIGTERM" if str(exc) == "SIGTERM" else "Ctrl-C (SIGINT)"


def run_load(server: ServerHandle, params: LoadParams, reports: Path, server_info: dict) -> tuple[Path, dict]:
    """The whole run; returns (run directory, summary). Interrupted while Locust runs or the server
    is checked, the run still writes its report, marked partial, then the interrupt goes on."""
    params.check()
    run_id = new_run_id(f"load-{params.scenario}")
    reports = reports.resolve()  # Locust runs inside the run folder: every path it gets is absolute
    final = reports / run_id
    out = reports / f".{run_id}.partial"
    out.mkdir(parents=True)
    interrupted: BaseException | None = None
    try:
        ledger_dir = out / "ledger"
        seed_start = time.monotonic()
        config = prepare(server, params, ledger_dir)
        prepared_s = time.monotonic() - seed_start
        baseline = found_on_server(server, [(u, "INBOX") for u in config.users], floors=search_floors(ledger_dir))
        started = datetime.now(UTC)
        try:
            server_id = getattr(server.container, "id", None)
            code = run_locust(config, params, out, cgroup_cpu_file(server_id) if server_id else None)
        except KeyboardInterrupt as exc:  # Locust was stopped (TERM): what it measured is reported
            interrupted, code = exc, None
        finished = datetime.now(UTC)
        if interrupted is None and (code != 0 or not (out / "locust.json").exists()):
            lines = []  # Locust logs to locust.log (--logfile); tracebacks go to locust.out
            for name in ("locust.log", "locust.out"):
                with contextlib.suppress(OSError):
                    lines += (out / name).read_text(errors="replace").strip().splitlines()
            errors = [line for line in lines if "rror" in line] or lines  # Error, error, ERROR
            raise UserError(f"Locust failed (exit {code}): {errors[-1] if errors else 'no output'}")
        try:
            checks = check_server(server, config, ledger_dir, baseline)
        except KeyboardInterrupt as exc:
            interrupted = interrupted or exc
            checks = unchecked_server("interrupted before the server was checked")
        except ServerError as exc:
            # The server gave way under the check (dovecot:2.3's imap process out of memory opening
            # a folder of a million): a finding, and what the run measured before it stands.
            checks = unchecked_server(f"the server failed while it was checked: {exc}")
        summary = results.summarize(
            run_id=run_id, params=params, server_info=server_info, options=config.options, out=out,
            ledger_dir=ledger_dir, checks=checks, started=started, finished=finished, prepared_s=prepared_s,
            interrupted=interrupt_reason(interrupted) if interrupted is not None else "",
            server_log=_server_log(server, started, finished, out))
        text = json.dumps(summary, indent=1) + "\n"
        (out / "summary.json").write_text(text)
        summary = json.loads(text)  # the caller sees exactly what was written
        from ..report.load_html import render_load

        (out / "index.html").write_text(render_load(summary))
        out.rename(final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    if interrupted is not None:
        console.print(f"[red]INTERRUPTED[/]: partial report {final / 'index.html'}")
        raise interrupted
    return final, summary


def _server_log(server: ServerHandle, since: datetime, until: datetime, out: Path) -> dict:
    """The server's log lines of the run's window, to server.log, and the error-looking ones."""
    if "logs" not in server.features:
        return {"lines": 0, "errors": [], "health": log_gate.unchecked("the server's log cannot be read")}
    try:
        lines = server.logs(since, until)
    except Exception as exc:  # the run's figures stand without its log
        return {"lines": 0, "errors": [f"log not read: {exc}"], "health": log_gate.unchecked(f"log not read: {exc}")}
    (out / "server.log").write_text("".join(f"{line.raw}\n" for line in lines))
    errors = [line.raw for line in trouble(lines)]
    return {"lines": len(lines), "errors": errors[-50:], "error_count": len(errors),
            "health": log_gate.health(server.family_name, server.version_tuple, lines, "load")}
