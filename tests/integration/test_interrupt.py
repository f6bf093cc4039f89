"""A run that is interrupted (Ctrl-C, SIGTERM) leaves no container or volume behind."""

import json
import os
import signal
import subprocess
import sys
import time

from xml.etree import ElementTree

import pytest

from imapwright.servers import engine
from imapwright.servers.target import target_url

INNER = '''
import pathlib, time
def test_waits(server):
    pathlib.Path({marker!r}).write_text(server.container.name)
    time.sleep(60)
'''


def _terminal_signals() -> None:
    """In the child: Ctrl-C and Ctrl-\\ as a terminal delivers them. A test run started in the
    background by a non-interactive shell inherits SIGINT ignored (bash does that for `cmd &`),
    and Python then never raises KeyboardInterrupt: the interrupt would not be tested at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


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
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_terminal_signals)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "inner run did not start its server"
        time.sleep(0.2)
    assert _leftovers(proc.pid), "the running server should carry its owner's pid"
    proc.send_signal(sig)
    _wait_or_show_where(proc, 60)
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
                            start_new_session=True, preexec_fn=_terminal_signals)
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
    _wait_or_show_where(proc, 120)
    assert proc.returncode != 0
    deadline = time.monotonic() + 10
    while any(_leftovers(pid) for pid in pids):
        assert time.monotonic() < deadline, "containers or volumes left behind after Ctrl-C"
        time.sleep(0.2)


def _wait_or_show_where(proc, timeout: float) -> None:
    """Wait for the interrupted run to end; one that does not is made to print where each of its
    processes' threads is (SIGUSR1: faulthandler in the CLI and the plugin), then killed."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        group = os.getpgid(proc.pid) == proc.pid  # started in its own session: signal its workers too
        for sig in (signal.SIGUSR1, signal.SIGKILL):
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
            time.sleep(3)
        output = b"".join(part for part in proc.communicate() if part).decode(errors="replace")
        pytest.fail(f"the run had not ended {timeout:.0f} s after Ctrl-C; where it was:\n{output[-12000:]}")


def _wait_for_output(proc, needle: bytes, timeout: float = 120) -> bytes:
    """Read the run's output until `needle` shows (the run is under way)."""
    seen = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while needle not in seen:
        assert proc.poll() is None, seen.decode(errors="replace")[-2000:]
        assert time.monotonic() < deadline, f"no {needle!r} in the run's output"
        seen += proc.stdout.read() or b""
        time.sleep(0.1)
    return seen


@pytest.mark.parametrize("servers", [["cyrus:3.6"], ["cyrus:3.6", "dovecot:2.3"]], ids=["one", "parallel"])
def test_interrupted_suite_run_says_so_in_every_output(tmp_path, servers):
    """Ctrl-C in the middle of a suite run: exit 130, and junit.xml, summary.json and index.html
    say INTERRUPTED with the tests that did not run (not a green page of what ran)."""
    args = [a for name in servers for a in ("--server", name)]
    proc = subprocess.Popen(["imapwright", "run", "acl", *args, "--reports", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_terminal_signals)
    if len(servers) == 1:
        _wait_for_output(proc, b"test_bad_input.py")
        time.sleep(1)
    else:  # xdist prints nothing per file: once the workers hold their tests, let them start some
        _wait_for_output(proc, b"items]")
        time.sleep(8)
    os.killpg(proc.pid, signal.SIGINT)
    _wait_or_show_where(proc, 90)
    assert proc.returncode == 130
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["verdict"] == "INTERRUPTED"
    assert summary["not_run"] > 0 and not summary["complete"]
    suite = ElementTree.parse(run / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("errors")) >= 1
    (case,) = [c for c in suite.iter("testcase") if c.get("name") == "run_incomplete"]
    assert "run interrupted by Ctrl-C (SIGINT)" in case.find("error").get("message")
    assert f"{summary['not_run']} did not" in case.find("error").get("message")
    page = (run / "index.html").read_text()
    assert "verdict-INTERRUPTED" in page and f"{summary['not_run']} tests did not run" in page


def test_interrupted_load_run_leaves_no_server_locust_or_half_written_run(tmp_path):
    """SIGTERM (as a CI runner sends it) during a load run: Locust is stopped, the server and its
    volume removed, and the run's report is whole and marked partial (INTERRUPTED, not passed)."""
    reports = tmp_path / "reports"
    proc = subprocess.Popen(["imapwright", "load", "delivery", "--server", "cyrus:3.6", "--duration", "60",
                             "--population", "3", "--reports", str(reports)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_terminal_signals)
    deadline = time.monotonic() + 120
    while not list(reports.glob(".*partial/locust_stats_history.csv")):  # Locust is running
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the load run did not start"
        time.sleep(0.2)
    pids = _family(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _wait_or_show_where(proc, 30)
    assert proc.returncode == 130
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids - {proc.pid}), "Locust outlived the run"
    (run,) = list(reports.iterdir())  # no ".partial" folder: the report was finished, then renamed
    assert not run.name.startswith(".")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and not summary["passed"] and not summary["complete"]
    assert summary["status_reason"].startswith("interrupted by SIGTERM after ")
    assert summary["stats"]["total"]["requests"] > 0  # what ran before the signal is reported
    assert "INTERRUPTED" in (run / "index.html").read_text()
    assert all(_leftovers(pid) == [] for pid in pids)


@pytest.mark.requires("cyrus")
@pytest.mark.parametrize("jobs", [1, 2], ids=["one-session", "jobs-2"])
def test_interrupted_migration_says_so_and_a_rerun_completes_it(server, users, tmp_path, jobs):
    """Ctrl-C half-way through `migrate apply`: exit 130 with the line saying so (click turns
    Ctrl-C into Abort, which used to exit silently), every session stopped there (with --jobs, the
    other users' threads too: not run to their end), and a re-run stores exactly the rest."""
    names = [users.create(f"cut{j}").name for j in range(jobs)]
    for user in names:
        (tmp_path / user).mkdir()
        # 4 KB messages in MULTIAPPEND batches of 1,000 (or 8 MB): a user takes five
        (tmp_path / user / "INBOX").write_bytes(b"".join(
            b"From a@example.org Mon Dec  2 15:26:33 2002\nSubject: m%d\nMessage-ID: <cut%d@x>\n\nbody %d\n%s\n"
            % (n, n, n, b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor\n" * 52)
            for n in range(5000)))
    env = {**os.environ, "IMAPWRIGHT_TARGET_PASSWORD": server.admin_password}
    cmd = ["imapwright", "migrate", "apply", str(tmp_path), "--target", target_url(server), "--jobs", str(jobs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=_terminal_signals)

    def stored() -> list[int]:
        counts = []
        for user in names:
            with server.user_session(user) as own:
                counts.append(own.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"])
        return counts

    deadline = time.monotonic() + 120
    while True:  # half-way: some messages stored for every user, the run still going
        assert proc.poll() is None and time.monotonic() < deadline, "the migration ended before it was cut"
        if min(stored()) > 200:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == 130 and "imapwright: interrupted" in out, out[-500:]
    assert "Traceback" not in out, out[-1500:]
    assert sum(stored()) < 5000 * jobs, "the sessions went on to the end after Ctrl-C"
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stdout[-1000:]
    verify = subprocess.run(["imapwright", "migrate", "verify", *cmd[3:6]], capture_output=True, text=True, env=env, timeout=300)
    assert verify.returncode == 0 and verify.stdout.strip().endswith(f"0 differences in {jobs} users"), verify.stdout[-500:]
