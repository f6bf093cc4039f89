"""A run that is interrupted (Ctrl-C, SIGTERM) leaves no container or volume behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

from imapwright.servers import engine

INNER = '''
import pathlib, time
def test_waits(server):
    pathlib.Path({marker!r}).write_text(server.container.name)
    time.sleep(60)
'''


def _containers(pid: int) -> list[str]:
    return [c.name for c in engine.find([f"{engine.LABEL_OWNER_PID}={pid}"], ("container",))]


def _leftovers(pid: int) -> list[str]:
    return [item.name for item in engine.find([f"{engine.LABEL_OWNER_PID}={pid}"])]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_pytest_run_removes_its_server(tmp_path, sig):
    marker = tmp_path / "started"
    (tmp_path / "test_inner.py").write_text(INNER.format(marker=str(marker)))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                             str(tmp_path), str(tmp_path / "test_inner.py"), "--server", "cyrus:3.6"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "inner run did not start its server"
        time.sleep(0.2)
    assert _leftovers(proc.pid), "the running server should carry its owner's pid"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert _leftovers(proc.pid) == []


def _family(pid: int) -> set[int]:
    """pid and its descendants (xdist workers are children of the run)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    family, grew = {pid}, True
    while grew:
        new = {p for p, pp in parents.items() if pp in family} - family
        family |= new
        grew = bool(new)
    return family


def test_ctrl_c_on_parallel_imapwright_run_removes_every_server(tmp_path):
    """Ctrl-C reaches the whole process group: the run, its xdist workers and their servers."""
    proc = subprocess.Popen(["imapwright", "run", "health", "--server", "cyrus:3.6", "--server", "dovecot:2.3",
                             "--reports", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    pids: set[int] = set()
    while True:
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the run did not start both servers"
        pids |= _family(proc.pid)
        if sum(len(_containers(pid)) for pid in pids) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    deadline = time.monotonic() + 10
    while any(_leftovers(pid) for pid in pids):
        assert time.monotonic() < deadline, "containers or volumes left behind after Ctrl-C"
        time.sleep(0.2)


def test_interrupted_load_run_leaves_no_server_locust_or_half_written_run(tmp_path):
    """SIGTERM (as a CI runner sends it) during a load run: Locust is stopped, the server and its
    volume removed, and no run directory is left half-written."""
    reports = tmp_path / "reports"
    proc = subprocess.Popen(["imapwright", "load", "delivery", "--server", "cyrus:3.6", "--duration", "60",
                             "--population", "3", "--reports", str(reports)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(reports.glob(".*partial/locust_stats_history.csv")):  # Locust is running
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the load run did not start"
        time.sleep(0.2)
    pids = _family(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids - {proc.pid}), "Locust outlived the run"
    assert list(reports.iterdir()) == []
    assert all(_leftovers(pid) == [] for pid in pids)
