"""`imapwright load-worker`: a Locust worker for a master on another host, with the lifetime a user
expects of it. It says where it waits and gives up after a bounded wait; it ends within seconds of
the master's end however that comes (the run's quit, Ctrl-C, a crash: Locust's own worker would
wait 60 s for heartbeats); a Ctrl-C or SIGTERM of its own stops Locust cleanly, in one line."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from ..errors import UserError
from .config import REMOTE_ENV  # not .distributed: importing Locust patches this process with gevent

PR_SET_PDEATHSIG = 1
GONE_AFTER = 3  # seconds of refused connections before the master counts as ended
STOP_GRACE = 10  # seconds Locust gets to stop after SIGTERM before it is killed


def master_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts connections at the master's address (Locust's master port)."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def wait_for_master(host: str, port: int, wait: float, say: Callable[[str], None]) -> None:
    say(f"waiting for the master at {host}:{port} (up to {wait:.0f} s, --master-wait)")
    deadline = time.monotonic() + wait
    while not master_answers(host, port):
        if time.monotonic() >= deadline:
            raise UserError(f"no master answered at {host}:{port} within {wait:.0f} s: is `imapwright load ... "
                            "--master` running there, its --master-bind reachable from here?")
        time.sleep(0.5)


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGKILL when its parent dies (Linux prctl)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to Locust's process group (its own session), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def run_worker(host: str, port: int, wait: float, say: Callable[[str], None]) -> int:
    """Locust's worker against host:port until the master's run ends; the exit status."""
    wait_for_master(host, port, wait, say)
    say(f"working for the master at {host}:{port}")
    cmd = [sys.executable, "-m", "locust", "--worker", "--master-host", host, "--master-port", str(port), "-f", "-",
           "--loglevel", "WARNING"]
    # Locust writes the master's locustfile into the temp directory under its own name: two workers
    # on one host wrote /tmp/delivery.py at once and one imported it half-written ("No User class
    # found!", CI 2026-12-03), so each worker gets a temp directory of its own.
    private = tempfile.mkdtemp(prefix="imapwright-worker-")
    env = {**os.environ, REMOTE_ENV: "1", "PYTHONUNBUFFERED": "1", "TMPDIR": private}
    # A session of its own: a Ctrl-C at the terminal reaches this process, which stops Locust in order;
    # and Locust dies with this process however it ends (SIGKILL included), as the worker it is.
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=_die_with_parent)
    refused_since: float | None = None
    try:
        while True:
            try:
                code = proc.wait(timeout=1)
                say(f"the master's run ended; worker done (Locust exit {code})")
                return code
            except subprocess.TimeoutExpired:
                pass
            if master_answers(host, port):
                refused_since = None
                continue
            refused_since = refused_since or time.monotonic()
            if time.monotonic() - refused_since >= GONE_AFTER:
                _stop(proc)
                say(f"the master at {host}:{port} is gone (no answer for {GONE_AFTER} s); worker stopped")
                return 1
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the command turns it into one)
        _stop(proc)
        say("interrupted; worker stopped")
        return 130
    finally:
        _stop(proc)
        shutil.rmtree(private, ignore_errors=True)
