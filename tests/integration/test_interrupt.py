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


def _leftovers(pid: int) -> list[str]:
    flt = {"label": f"{engine.LABEL_OWNER_PID}={pid}"}
    client = engine.client()
    return [c.name for c in client.containers.list(all=True, filters=flt)] + \
           [v.name for v in client.volumes.list(filters=flt)]


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


def test_ctrl_c_on_parallel_imapwright_run_removes_every_server(tmp_path):
    """Ctrl-C reaches the whole process group: the run, its xdist workers and their servers."""
    client = engine.client()
    flt = {"label": engine.LABEL_MANAGED}
    before = {c.id for c in client.containers.list(all=True, filters=flt)}
    proc = subprocess.Popen(["imapwright", "run", "health", "--server", "cyrus:3.6", "--server", "dovecot:2.3",
                             "--reports", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while len({c.id for c in client.containers.list(filters=flt)} - before) < 2:
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the run did not start both servers"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    deadline = time.monotonic() + 10
    while {c.id for c in client.containers.list(all=True, filters=flt)} - before:
        assert time.monotonic() < deadline, "containers left behind after Ctrl-C"
        time.sleep(0.2)
