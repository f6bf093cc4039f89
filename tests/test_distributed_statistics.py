"""A run with worker processes reports every request its workers made, the last ones included: a
worker's users stop (their on_stop requests too) before it says it has stopped, and its last
statistics come with its next periodic report, up to 3 s later; the harness's end of a run
(load/distributed.py Master.quit) waits for that report before Locust quits. (Locust's "Discarded
report from unrecognized worker" for such a report is about its user count only: the statistics
are still added.) Real Locust processes (a master and two workers on 127.0.0.1), no server: the
requests are the locustfile's own events."""

import csv
import json
import subprocess
import sys
import time

from imapwright.servers import ports

LOCUSTFILE = '''
import gevent
from locust import User, constant, task

import imapwright.load.distributed  # noqa: F401  (the harness's master and worker hooks)


def _fire(user, name):
    user.environment.events.request.fire(request_type="T", name=name, response_time=1, response_length=0,
                                         exception=None, context={})


class Once(User):
    wait_time = constant(600)  # one task, then asleep until the end

    @task
    def begin(self):
        _fire(self, "task")

    def on_stop(self):  # runs while the worker stops, after its last periodic report
        # Half-way between two of the worker's reports (every 3 s, counted from its start as the
        # run time is): a stop landing on a report's tick would be counted anyway.
        gevent.sleep(1.5)
        _fire(self, "stop")
'''


def test_the_last_requests_of_every_worker_reach_the_masters_figures(tmp_path):
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    port = ports.free_port()
    base = [sys.executable, "-m", "locust", "-f", str(tmp_path / "locustfile.py")]
    master = subprocess.Popen([*base, "--headless", "--master", "--master-bind-host", "127.0.0.1",
                               "--master-bind-port", str(port), "--expect-workers", "2", "-u", "4", "-r", "100",
                               "--run-time", "5s", "--stop-timeout", "15", "--csv", str(tmp_path / "run"), "--only-summary"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    workers = [subprocess.Popen([*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    try:
        output = master.communicate(timeout=120)[0].decode(errors="replace")
    finally:
        for proc in (master, *workers):
            proc.kill()
            proc.wait()
    with (tmp_path / "run_stats.csv").open() as fh:
        counts = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(fh)}
    assert counts.get("task") == 4, (counts, output[-3000:])
    assert counts.get("stop") == 4, (counts, output[-3000:])  # sent as the users stopped


SLOW_EXIT = '''
import time

from locust import User, constant, events, task
from locust.runners import WorkerRunner

import imapwright.load.distributed  # noqa: F401  (the harness's master and worker hooks)


class Busy(User):
    wait_time = constant(0.2)

    @task
    def one(self):
        self.environment.events.request.fire(request_type="T", name="task", response_time=1, response_length=0,
                                              exception=None, context={})


@events.init.add_listener
def _slow_exit(environment, **_kw):
    if isinstance(environment.runner, WorkerRunner):  # a worker slower to exit than its master (a busy machine)
        environment.events.quitting.add_listener(lambda **_k: time.sleep(2))
'''


def test_a_worker_process_that_exits_last_leaves_the_run_figures_whole(tmp_path):
    """`--processes`, as `imapwright load --workers` runs Locust: its children inherit --json-file
    and wrote their own (emptied) statistics over the master's when they exited after it."""
    (tmp_path / "locustfile.py").write_text(SLOW_EXIT)
    done = subprocess.run([sys.executable, "-m", "locust", "-f", str(tmp_path / "locustfile.py"), "--headless",
                           "-u", "4", "-r", "10", "-t", "3s", "--processes", "2", "--json-file", str(tmp_path / "run"),
                           "--only-summary"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    time.sleep(3)  # the workers' exit, after the master's
    entries = json.loads((tmp_path / "run.json").read_text())
    assert [e["name"] for e in entries] == ["task"] and entries[0]["num_requests"] > 10, (entries, done.stderr[-3000:])
