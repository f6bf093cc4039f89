"""pytest plugin: servers as parametrized fixtures, users per test, consistency checks, server logs on
failure, deviations as data. Options and fixtures are listed by `pytest --help` under "imapwright"."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import threading
import warnings
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ..catalogue import CATALOGUE, DEFAULT_SERVER, lookup
from ..errors import ServerError, UserError
from ..params import key_values
from ..resources import shipped_root
from ..servers.target import TARGET_HELP, started_by_servers_start
from ..report.plugin import ReportWriter
from ..servers.families import spec_features
from . import deviations as deviations_mod
from . import log_gate as log_gate_mod
from . import completeness
from .completeness import Completeness
from .pool import TARGET, ServerPool
from .requirements import parse as parse_requirement
from .users import UserFactory

STARTED = pytest.StashKey[datetime]()
LOG_SETTLE = 0.3  # seconds: syslog is asynchronous; let the last lines of a failure arrive


class State:
    def __init__(self, config: pytest.Config):
        self.target = config.getoption("target")
        catalogue, image = config.getoption("catalogue"), config.getoption("image")
        try:
            if catalogue or image:  # the user's own servers: docker is needed for them alone
                from ..servers.contract import register_own

                register_own(list(config.getoption("server") or []), image, Path(catalogue) if catalogue else None)
        except (UserError, ServerError) as exc:
            raise pytest.UsageError(str(exc)) from None
        self.names = server_names(config)
        self.allow_destructive = config.getoption("allow_destructive")
        self.check_consistency = not config.getoption("no_consistency_check")
        directory = config.getoption("deviations")
        try:
            lists = deviations_mod.read(Path(directory) if directory else None)
        except UserError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.deviations, self.check_noise, self.log_noise = lists.deviations, lists.check_noise, lists.log_noise
        self.log_gate = config.getoption("log_gate")
        self.log_watches = log_gate_mod.Watches()
        self.pool = ServerPool(self.names, self.target, parse_options(config.getoption("server_option")),
                               config.getoption("target_version"),
                               lambda h: deviations_mod.refuse_unknown_version(
                                   h, self.deviations, [*self.check_noise, *self.log_noise]),
                               insecure=config.getoption("insecure"))


def parse_options(items: list[str]) -> dict[str, str]:
    try:
        return key_values(items, "--server-option")
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None


def server_names(config: pytest.Config) -> list[str]:
    names = list(dict.fromkeys(config.getoption("server") or []))
    target = config.getoption("target")
    if not names and not target:
        names = [DEFAULT_SERVER]
    for name in names:
        try:
            lookup(name)  # the catalogue's, or the user's own (--image, --catalogue)
        except UserError as exc:
            raise pytest.UsageError(str(exc)) from None
    return names + ([TARGET] if target else [])


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imapwright", "IMAP servers under test")
    group.addoption("--server", action="append", default=[], metavar="NAME",
                    help=f"catalogue server to test, repeatable ({', '.join(CATALOGUE)}); "
                         f"default {DEFAULT_SERVER}")
    group.addoption("--image", metavar="IMAGE",
                    help="your own server image for --server cyrus:custom or dovecot:custom (docker/README.md)")
    group.addoption("--catalogue", metavar="FILE",
                    help="TOML file of your own servers ([servers.\"NAME\"] family, image or context)")
    group.addoption("--target", metavar="URL", help=f"external server {TARGET_HELP}")
    group.addoption("--target-version", metavar="[FAMILY:]VERSION",
                    help="the --target server's version (e.g. 3.6.1 or cyrus:3.6), where it does not say itself")
    group.addoption("--insecure", action="store_true",
                    help="accept a --target TLS certificate that does not verify (imaps:// or ?starttls=1)")
    group.addoption("--server-option", action="append", default=[], metavar="KEY=VALUE",
                    help="server setting for every server imapwright starts (imapd.conf / dovecot.conf), "
                         "repeatable, e.g. --server-option allowusermoves=yes")
    group.addoption("--allow-destructive", action="store_true",
                    help="let suites that create and delete data run against --target")
    group.addoption("--read-only", action="store_true",
                    help="run only the checks that change nothing on the server (for a production server)")
    group.addoption("--no-consistency-check", action="store_true",
                    help="skip the quota/reconstruct check after each test")
    group.addoption("--log-gate", choices=log_gate_mod.MODES, default="fail",
                    help="server log lines of a crash, a database error, an assertion or a sanitizer in a "
                         "test's window: fail the test (default), only report them, or do not read them")
    group.addoption("--imapwright-report", metavar="DIR",
                    help="write summary.json and index.html of this run into DIR")
    group.addoption("--run-id", default="", help="name of this run in its report")
    group.addoption("--deviations", metavar="DIR", help="folder of <family>.toml deviation lists, "
                    "instead of the shipped ones (copy them from `imapwright paths`)")


def _terminate_like_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (CI timeouts, kill) ends the run like Ctrl-C, so session teardown removes containers.
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _terminate_like_interrupt)
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: where a stuck run is
    config.addinivalue_line("markers", "requires(*specs): server needs, e.g. 'cyrus>=3.6', 'partitions', 'lmtp'")
    config.addinivalue_line("markers", "destructive: creates or deletes data on the server")
    config.addinivalue_line("markers", "provokes(*classes, reason): the test makes the server log lines of these "
                                       "log-gate classes (crash, error, assertion, sanitizer) on purpose")
    config.addinivalue_line("markers", "xdist_group(name): run in one pytest-xdist worker (set per server)")
    config.stash[_STATE] = State(config)
    if hasattr(config, "workerinput"):
        _watch_controller()
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Completeness(config), "imapwright-completeness")
        config.pluginmanager.register(StableIds(config.stash[_STATE].names), "imapwright-stable-ids")
        noise_use = log_gate_mod.NoiseUse(config.stash[_STATE].log_noise)
        config.pluginmanager.register(noise_use, "imapwright-log-noise")
    report_dir = config.getoption("imapwright_report")
    if report_dir and not hasattr(config, "workerinput"):  # xdist workers send reports to the controller
        run_id = config.getoption("run_id") or Path(report_dir).name
        config.pluginmanager.register(ReportWriter(Path(report_dir), run_id, completeness.status,
                                                   lambda: {"unused_log_noise": noise_use.unused()}),
                                      "imapwright-report")


_STATE = pytest.StashKey[State]()


def _name_shipped_suites_by_their_ids(config: pytest.Config) -> None:
    """Shipped suites run from wherever the tool is installed: the terminal names their files as
    the deviation lists and reports do ("suites/acl/test_rights.py"), not by a path from the
    user's folder up and into site-packages. (A failure's traceback keeps the real path.)"""
    if config.rootpath != shipped_root() or config.invocation_params.dir == config.rootpath:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.startpath = config.rootpath
    config.cwd_relative_nodeid = lambda nodeid: nodeid  # the short summary's names (shadows the method)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers, which would wait in silence
def pytest_sessionstart(session: pytest.Session) -> None:
    """Build missing server images where the terminal shows it (plain pytest too), a line a step."""
    config = session.config
    _name_shipped_suites_by_their_ids(config)
    if hasattr(config, "workerinput") or config.getoption("collectonly"):
        return
    names = [n for n in _state(config).names if n != TARGET]
    if not names:
        return  # a --target run: no image, no docker
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    try:
        from ..servers.images import ensure_image, is_current

        todo = [lookup(n) for n in names if not is_current(lookup(n))]
        for spec in todo:
            say = (lambda message, *_: reporter.write_line(f"imapwright: {message}")) if reporter else \
                (lambda *_: None)
            say(f"{spec.name}: building the image (docker/{spec.family}/ changed or missing)")
            ensure_image(spec, say)
    except UserError:
        return  # no engine, a failed build: each server's tests say so through the server fixture


def _watch_controller() -> None:
    """In a pytest-xdist worker: if the controlling pytest dies (Ctrl-C, kill), remove our servers
    at once instead of running on until the next report fails to send."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.3)
        with contextlib.suppress(ImportError):
            from ..servers.managed import stop_all

            stop_all()
        os._exit(3)

    threading.Thread(target=watch, name="imapwright-controller-watch", daemon=True).start()


def _state(config: pytest.Config) -> State:
    return config.stash[_STATE]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STATE in config.stash:
        config.stash[_STATE].pool.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" in metafunc.fixturenames:
        names = _state(metafunc.config).names
        metafunc.parametrize("server", names, indirect=True, scope="session", ids=names)


def _server_name(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("server") if callspec else None


def _test_id(item: pytest.Item) -> str:
    """Node id without the server: "f.py::test_x[k]" for "f.py::test_x[cyrus:3.6-k]@cyrus:3.6".
    A shipped suite's file is named from the folder holding suites/ whatever pytest's rootdir, so
    the deviation lists match however the suites were started."""
    name = _server_name(item)
    nodeid = item.nodeid
    if item.path.is_relative_to(shipped_root()) and "::" in nodeid:
        nodeid = item.path.relative_to(shipped_root()).as_posix() + "::" + nodeid.split("::", 1)[1]
    if not name:
        return nodeid
    nodeid = nodeid.removesuffix(f"@{name}")  # pytest-xdist's loadgroup suffix
    if "[" not in nodeid:
        return nodeid
    base, params = nodeid.split("[", 1)
    rest = params.rstrip("]").replace(name, "", 1).strip("-")
    return f"{base}[{rest}]" if rest else base


def _is_destructive(item: pytest.Item) -> bool:
    return "users" in getattr(item, "fixturenames", ()) or item.get_closest_marker("destructive") is not None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups of --dist loadgroup
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("read_only"):
        # A production server: only checks that change nothing (no test users, no destructive
        # marker) run; the rest is deselected, and pytest's summary counts it.
        changing = [i for i in items if _is_destructive(i)]
        if changing:
            config.hook.pytest_deselected(items=changing)
            items[:] = [i for i in items if not _is_destructive(i)]
    for item in items:
        name = _server_name(item)
        if name:
            # All tests of one server run in one worker: each worker starts only its own server.
            item.add_marker(pytest.mark.xdist_group(name))


def pytest_collection_finish(session: pytest.Session) -> None:
    # After -k/-m deselection: judge only what will run.
    state = _state(session.config)
    refused = [i.nodeid for i in session.items if _server_name(i) == TARGET and _is_destructive(i)]
    if refused and not state.allow_destructive and started_by_servers_start(session.config.getoption("target")):
        state.allow_destructive = True  # `imapwright servers start` made it: a test server of the harness's
    if refused and not state.allow_destructive:
        raise pytest.UsageError(
            f"{len(refused)} selected tests create or delete data and --target is a server imapwright did not "
            "start; pass --allow-destructive to run them there (e.g. " + refused[0] + ")")


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest):
    """The server under test (one per --server, started once per session)."""
    try:
        return _state(request.config).pool.get(request.param)
    except UserError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def starts_servers(request: pytest.FixtureRequest) -> None:
    """For tests that start catalogue servers of their own (upgrades): skipped in a run that
    names only a --target, which may have no docker engine at hand."""
    if request.config.getoption("target") and not request.config.getoption("server"):
        pytest.skip("starts catalogue servers of its own; this run names only a --target")


@pytest.fixture
def users(server):
    """Factory of fresh accounts for this test: `users.create('bob')`, `users.login(user)`."""
    factory = UserFactory(server)
    yield factory
    factory.close_clients()
    if not server.owned:
        failures = factory.remove_all()
        if failures:
            warnings.warn(f"imapwright could not remove test users from {server.imap}: {'; '.join(failures)}")


@pytest.fixture
def admin_imap(server):
    """An IMAP connection logged in as the server's administrator."""
    with server.admin_imap() as client:
        yield client


@pytest.fixture
def login(users):
    """`login(user)` returns an IMAP connection logged in as that user (closed after the test)."""
    return users.login


@pytest.fixture
def lmtp(server):
    """An LMTP connection to the server (LHLO done)."""
    if server.lmtp is None:
        pytest.skip("server has no LMTP address")
    client = server.lmtp_client()
    yield client
    client.close()


@pytest.fixture
def private_server(request, server):
    """A fresh container of the same catalogue server, for tests that restart, kill or reconfigure it."""
    if not server.owned:
        pytest.skip("needs a server imapwright starts (not --target)")
    from ..servers.managed import start_server

    state = _state(request.config)
    handle = start_server(server.spec, dict(state.pool.options))
    yield handle
    log_gate_mod.before_stop(state, handle, request.node.stash[STARTED])
    handle.stop()


@pytest.fixture
def test_started(request) -> datetime:
    """When this test's setup began: the start of its server log window."""
    return request.node.stash[STARTED]


# -- hooks around each test ---------------------------------------------------------------------
def _requirement_failure(item: pytest.Item, state: State) -> str | None:
    name = _server_name(item)
    marks = list(item.iter_markers("requires"))
    if not name or not marks:
        return None
    if name == TARGET:
        handle = state.pool.get(TARGET)
        family, version, features = handle.family_name, handle.version_tuple, handle.features
    else:
        spec = lookup(name)
        family, version, features = spec.family, spec.version_tuple, spec_features(spec)
    for mark in marks:
        for text in mark.args:
            why = parse_requirement(text).unmet(family, version, features)
            if why:
                return f"{name}: {why}"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[STARTED] = datetime.now(UTC)
    why = _requirement_failure(item, _state(item.config))
    if why:
        pytest.skip(why)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    state = _state(item.config)
    try:
        result = yield
    except pytest.skip.Exception:
        # A test that skips part-way may have made the server crash before it did: judged.
        log_gate_mod.after_call(item, state, _test_id(item), item.stash[STARTED], passed=True)
        raise
    except BaseException:
        # The test is red already: its server lines are read (and reported), not judged again.
        log_gate_mod.after_call(item, state, _test_id(item), item.stash[STARTED], passed=False)
        raise
    # In the manner of Cassandane: after a passing test, the server's own repair tools must find
    # nothing to fix for the users the test touched, and its log must show no crash or error.
    factory = getattr(item, "funcargs", {}).get("users")
    try:
        if isinstance(factory, UserFactory) and factory.created and state.check_consistency \
                and "exec" in factory.server.features:
            problems = _real_problems(state, factory.server, [u.name for u in factory.created])
            if problems:
                raise AssertionError("consistency check after the test found problems:\n  " + "\n  ".join(problems))
    except BaseException:
        log_gate_mod.after_call(item, state, _test_id(item), item.stash[STARTED], passed=False)
        raise
    log_gate_mod.after_call(item, state, _test_id(item), item.stash[STARTED], passed=True)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    result = yield  # fixtures are torn down: what they made the server log is in the window
    log_gate_mod.after_teardown(item, _state(item.config), _test_id(item), item.stash[STARTED])
    return result


def _real_problems(state, server, users: list[str]) -> list[str]:
    """The server's consistency problems for `users`, less the lines its version prints although
    nothing is wrong (listed as check_noise, each tied to a deviation-listed test that shows it)."""
    return [p for p in server.consistency_problems(users)
            if not any(n.hides(p, server.family_name, server.version_tuple) for n in state.check_noise)]


@pytest.fixture
def consistency(request):
    """`consistency(server, users)`: what the after-test check would report, for tests whose own
    assertion is that the repair tools find nothing (after a crash, a restore, a repair)."""
    state = _state(request.config)
    return lambda server, users: _real_problems(state, server, list(users))


class StableIds:
    """pytest-xdist's loadgroup appends "@group" (the server) to node ids; a test's id must not
    depend on how many servers a run has (CI history follows tests by id). Registered only where
    reports are written (not in xdist workers, which check reports against their own ids)."""

    def __init__(self, names: list[str]):
        self.suffixes = [f"]@{name}" for name in names]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for suffix in self.suffixes:
            if report.nodeid.endswith(suffix):
                report.nodeid = report.nodeid[: -len(suffix) + 1]
                return


def _describe_server(item: pytest.Item, state: State, name: str) -> list[tuple[str, str]]:
    """What every report of a server's test carries (junit.xml properties, the run report)."""
    handle = getattr(item, "funcargs", {}).get("server") or state.pool.peek(name)
    test_id = _test_id(item)
    props = [("server", name), ("test_id", test_id)]
    if handle is None:  # skipped or failed before the server was reached
        return props + [("server_version", "unknown"), ("deviation", "none")]
    deviation = deviations_mod.find(state.deviations, test_id, handle.family_name, handle.version_tuple)
    item.stash[DEVIATION] = deviation
    build = [("server_build", handle.build)] if getattr(handle, "build", "") else []
    return props + build + [("server_version", handle.version or "unknown"), ("server_family", handle.family_name),
                    ("version_source", handle.version_source or "unknown"),
                    ("deviation", deviation.describe() if deviation else "none")]


DEVIATION = pytest.StashKey[object]()


def _attach_log(rep: pytest.TestReport, item: pytest.Item, handle, name: str, private: bool) -> tuple[str, str]:
    started = item.stash[STARTED]
    time.sleep(LOG_SETTLE)
    watch = _state(item.config).log_watches.peek(handle)
    if watch is not None and watch.closed:
        text = "(the server was removed at the test's end; its last lines were judged by the log gate)"
    else:
        try:
            lines = handle.logs(since=started)
            text = "\n".join(line.raw for line in lines) or "(no server log lines in this test's window)"
        except Exception as exc:  # the report must not hide the failure behind a log problem
            text = f"(server log unavailable: {exc})"
    which = f"the test's private server {name}" if private else name
    # "Captured stdout" sections go to junit.xml's system-out (junit_logging = system-out).
    rep.sections.append((f"Captured stdout {rep.when}: server log {which} since {started:%H:%M:%S.%f}", text))
    return which, text


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    rep = yield
    state = _state(item.config)
    name = _server_name(item)
    handle = getattr(item, "funcargs", {}).get("server")
    if name:
        if rep.when == "setup":
            props = _describe_server(item, state, name)
            item.user_properties.extend(props)  # later reports (call, teardown: junit.xml) copy these
            rep.user_properties.extend(props)
    deviation = item.stash.get(DEVIATION, None)
    if name and rep.when == "call" and deviation is not None:
        test_id = _test_id(item)
        if rep.failed:
            rep.outcome = "skipped"
            rep.wasxfail = f"known deviation: {deviation.describe()}"
        elif rep.passed:
            rep.outcome = "failed"
            rep.longrepr = (f"fixed, still listed: {test_id} passes on {name} but fixtures/deviations/"
                            f"{deviation.family}.toml lists it ({deviation.reason}); remove the entry")
    if rep.failed and STARTED in item.stash:
        # Every server the test used: a test on its own private server fails on that one's log.
        shown = [_attach_log(rep, item, used, name, private=used is not handle)
                 for used in log_gate_mod.servers_of(item)]
        if len(shown) == 1:
            rep.user_properties.append(("server_log", shown[0][1]))
        elif shown:
            rep.user_properties.append(("server_log", "\n".join(f"== {which} ==\n{text}" for which, text in shown)))
    return rep
