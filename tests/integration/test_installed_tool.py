"""The tool as users get it (issue 26): an sdist built from a copy of the checkout, a wheel built from
that sdist, installed into a fresh virtualenv outside the checkout, run from an empty folder.
Nothing of the checkout is on the way: not its files, not its editable install, not its cwd."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from imapwright.servers.target import PASSWORD_ENV, format_target

ROOT = Path(__file__).resolve().parents[2]
# One server is enough: the point is the installation, not the server.
pytestmark = [pytest.mark.requires("cyrus>=3.6", "cyrus<3.10")]

USER_SUITE = '''
import pytest


@pytest.mark.requires("cyrus")
def test_a_message_appended_is_in_the_inbox(server, users):
    user = users.create()
    client = users.login(user)
    client.append("INBOX", b"From: a@example.org\\r\\nSubject: mine\\r\\n\\r\\nhello\\r\\n")
    assert client.select_folder("INBOX")[b"EXISTS"] == 1


@pytest.mark.requires("dovecot")
def test_only_for_dovecot(server):
    assert server.family_name == "dovecot"
'''


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(virtualenv, wheel): sdist -> wheel -> fresh virtualenv, dependencies from the registry."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "reports", "build", "*.egg-info", "__pycache__",
                                                                ".pytest_cache", ".hypothesis"))
    _run([sys.executable, "setup.py", "-q", "sdist", "-d", str(base / "sdist")], cwd=source)
    [sdist] = (base / "sdist").glob("imapwright-*.tar.gz")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "wheel"), str(sdist)], cwd=base)
    [wheel] = (base / "wheel").glob("imapwright-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], cwd=base, timeout=600)
    return venv, wheel


@pytest.fixture
def user_env(installed, tmp_path):
    """An empty working folder and a user's environment: the virtualenv's tools first, a home of its own."""
    venv, _ = installed
    work = tmp_path / "work"
    work.mkdir()
    home = tmp_path / "home"
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(home),
           "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache")}
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "IMAPWRIGHT_REPORTS", "PYTHONPYCACHEPREFIX"):
        env.pop(name, None)
    return work, env


def _install_tree(venv: Path) -> dict[str, tuple[int, int]]:
    [package] = venv.glob("lib/python3*/site-packages/imapwright")
    return {str(p.relative_to(package)): (p.stat().st_size, p.stat().st_mtime_ns) for p in package.rglob("*")}


def test_the_wheel_carries_suites_loadtests_fixtures_and_docker_contexts(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("imapwright/_shipped/suites/acl/test_rights.py", "imapwright/_shipped/suites/acl/scene.py",
                   "imapwright/_shipped/loadtests/delivery.py", "imapwright/_shipped/fixtures/deviations/cyrus.toml",
                   "imapwright/_shipped/fixtures/upgrade/pairs.toml", "imapwright/_shipped/fixtures/migration/methods.toml",
                   "imapwright/_shipped/docker/cyrus/Dockerfile", "imapwright/_shipped/docker/loadworker/Dockerfile"):
        assert needed in names, needed
    assert not [n for n in names if n.endswith(".secret") or "__pycache__" in n]


def test_the_installed_tool_runs_shipped_suites_from_an_empty_folder(installed, user_env):
    venv, _ = installed
    work, env = user_env
    before = _install_tree(venv)
    run = subprocess.run(["imapwright", "run", "health", "--server", "cyrus:3.6"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert sorted(p.name for p in work.iterdir()) == ["reports"]  # nothing else lands where the user is
    [summary] = (work / "reports").glob("*/summary.json")
    import json

    result = json.loads(summary.read_text())
    assert result["status"] == "complete" and result["verdict"] == "PASS" and result["counts"].get("passed", 0) >= 10, result["counts"]
    assert all(c["test"].startswith("suites/health/") for c in result["checks"])  # ids as the deviation lists name them
    # ...and so does the terminal, not by a path up from the user's folder into site-packages
    assert "\nsuites/health/test_session.py " in run.stdout and "_shipped/suites/" not in run.stdout, run.stdout[:2000]
    assert _install_tree(venv) == before, "the run wrote into the install tree"


def test_a_users_own_suite_runs_with_the_plugins_fixtures(installed, user_env):
    work, env = user_env
    (work / "my_suites").mkdir()
    (work / "my_suites" / "test_mine.py").write_text(USER_SUITE)
    run = subprocess.run(["imapwright", "run", "my_suites/test_mine.py", "--server", "cyrus:3.6"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 passed, 1 skipped" in run.stdout
    plain = subprocess.run(["pytest", "--server", "cyrus:3.6", "my_suites", "-p", "no:cacheprovider", "-rs"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-3000:]
    assert "1 passed, 1 skipped" in plain.stdout and "needs dovecot" in plain.stdout


def test_target_commands_work_without_docker(installed, user_env, server, tmp_path):
    """No docker package importable, no engine (DOCKER_HOST points nowhere), no docker tools on PATH."""
    if not server.owned:
        pytest.skip("needs a server imapwright started (it stands in for the user's own)")
    venv, _ = installed
    work, env = user_env
    hidden = tmp_path / "hide" / "docker"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'docker'\", name='docker')\n")
    env = {**env, "PATH": str(venv / "bin"), "DOCKER_HOST": "unix:///nonexistent/docker.sock",
           "PYTHONPATH": str(hidden.parent), PASSWORD_ENV: server.admin_password}
    url = format_target(server.admin_user, server.imap, lmtp=server.lmtp)
    snap = subprocess.run(["imapwright", "snapshot", "--target", url, "--all"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert snap.returncode == 0, snap.stdout[-3000:] + snap.stderr[-3000:]
    assert len(list((work / "reports").glob("snapshot-*.json"))) == 1
    check = subprocess.run(["imapwright", "run", "production", "health", "--read-only", "--target", url], cwd=work,
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert " passed" in check.stdout and "deselected" in check.stdout
    refused = subprocess.run(["imapwright", "servers", "list"], cwd=work, env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0 and "pip install docker" in refused.stderr and "Traceback" not in refused.stderr


def test_the_installed_tool_runs_a_load_scenario_from_an_empty_folder(installed, user_env):
    """Locust imports the shipped scenario and runs inside the run folder: relative --reports included."""
    work, env = user_env
    run = subprocess.run(["imapwright", "load", "delivery", "--server", "cyrus:3.6", "--duration", "5", "--users", "4"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    said = " ".join((run.stdout + run.stderr).split())  # the console wraps long lines
    assert "server check passed" in said and " 0 missing" in said
    assert sorted(p.name for p in work.iterdir()) == ["reports"]
    [summary] = (work / "reports").glob("load-delivery-*/summary.json")
    import json

    assert json.loads(summary.read_text())["passed"] is True


def test_the_installed_distribution_packs_again_into_a_wheel_that_installs(installed, tmp_path):
    """What the load worker image is built from when there is no checkout (load/worker_image.py)."""
    venv, _ = installed
    packed = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; from pathlib import Path; "
                             "from imapwright.load.worker_image import installed_wheel; "
                             "print(installed_wheel(Path(sys.argv[1])))", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert packed.returncode == 0, packed.stderr
    wheel = Path(packed.stdout.strip())
    names = zipfile.ZipFile(wheel).namelist()
    assert "imapwright/_shipped/suites/acl/test_rights.py" in names and not [n for n in names if n.endswith(".pyc")]
    other = tmp_path / "venv2"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(other)])  # dependencies: this machine's
    _run([str(other / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)], cwd=tmp_path)
    where = _run([str(other / "bin" / "imapwright"), "paths"], cwd=tmp_path).stdout
    assert f"{other}/lib/" in where.split("suites:")[1].splitlines()[0]
