"""A release engineer's or packager's own build as a server: an image that follows the contract
(docker/README.md) runs the suites and the report names it; one that breaks it is refused clause
by clause; .deb files with one changed default, installed over a catalogue image, turn red exactly
the test of that behaviour."""

import json
import os
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

from imapwright.servers import engine
from imapwright.servers.families import FAMILIES

ROOT_DIR = Path(__file__).resolve().parents[2]
BASE = "imapwright/cyrus:3.6"
# A tool the contract requires (the family knows where it lives).
CTL_MBOXLIST = next(t for t in FAMILIES["cyrus"].required_tools if t.endswith("/ctl_mboxlist"))


@pytest.fixture
def images(starts_servers):
    """Builds images FROM the catalogue's cyrus:3.6 and removes them (only those) afterwards."""
    made = []

    def build(name: str, dockerfile: str, tmp: Path) -> str:
        tag = f"imapwright-test/{name}:latest"
        folder = tmp / name
        folder.mkdir()
        (folder / "Dockerfile").write_text(f"FROM {BASE}\n{dockerfile}")
        engine.client().images.build(path=str(folder), tag=tag, rm=True, network_mode="none")
        made.append(tag)
        return tag

    subprocess.run([sys.executable, "-m", "imapwright", "servers", "build", "cyrus:3.6"], check=True,
                   capture_output=True)
    yield build
    for tag in made:
        try:
            engine.client().images.remove(tag, noprune=False)
        except docker.errors.APIError:
            pass


def _iw(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "imapwright", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT_DIR)


def _containers_of(tag: str) -> list:
    image = engine.client().images.get(tag)
    return [c for c in engine.client().containers.list(all=True) if c.image.id == image.id]


def test_an_image_following_the_contract_runs_the_suites_and_is_named(images, tmp_path):
    # No version label: the server's own tool says which version the deviations are for.
    tag = images("follows", 'LABEL imapwright.server-version=""\n', tmp_path)
    run = _iw("run", "health", "--server", "cyrus:custom", "--image", tag, "--reports", str(tmp_path))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-1000:]
    [summary] = [json.loads(p.read_text()) for p in tmp_path.glob("*/summary.json")]
    image_id = engine.client().images.get(tag).id
    assert summary["servers"]["cyrus:custom"].startswith("cyrus 3.6.")
    assert f"image {tag} {image_id}" in summary["servers"]["cyrus:custom"]
    assert summary["counts"]["passed"] > 10
    assert not _containers_of(tag)


def test_an_image_breaking_the_contract_is_refused_clause_by_clause(images, tmp_path):
    static = images("no-tools", f"RUN rm {CTL_MBOXLIST} /usr/sbin/rsyslogd\n", tmp_path)
    run = _iw("servers", "start", "cyrus:custom", "--image", static, "--password-file", str(tmp_path / "pw"))
    assert run.returncode != 0
    assert run.stderr.splitlines() == [
        f"imapwright: error: image {static} breaks the server image contract (docker/README.md):",
        f"  - tools: {CTL_MBOXLIST} is missing (the harness runs it over the exec channel)",
        "  - logs: no syslog daemon (rsyslogd, syslog-ng, syslogd) to write /var/log/imapwright/server.log"]
    assert not _containers_of(static) and not (tmp_path / "pw").exists()

    running = images("ignores-password", r"""
RUN sed -i 's#/var/log/imapwright/server.log#/var/log/elsewhere.log#' /etc/rsyslog.conf \
 && printf '#!/bin/sh\nADMIN_PASSWORD=not-the-one-given exec /usr/local/bin/entrypoint.sh\n' > /wrapped.sh \
 && chmod +x /wrapped.sh
ENTRYPOINT ["/wrapped.sh"]
""", tmp_path)
    run = _iw("servers", "start", "cyrus:custom", "--image", running)
    assert run.returncode != 0
    assert run.stderr.splitlines()[1:] == [
        "  - admin: LOGIN as cyrus with ADMIN_PASSWORD refused (b'Login failed: authentication failure')",
        "  - logs: /var/log/imapwright/server.log is missing or empty (syslog lines with RFC 3339 times)"]
    assert not _containers_of(running)


def test_a_catalogue_file_names_your_servers(images, tmp_path):
    tag = images("catalogued", "", tmp_path)
    (tmp_path / "mine.toml").write_text(f'[servers."cyrus:candidate"]\nfamily = "cyrus"\nimage = "{tag}"\n')
    run = subprocess.run([sys.executable, "-m", "pytest", "suites/health/test_mailboxes.py", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(ROOT_DIR), "--server", "cyrus:candidate", "--catalogue",
                          str(tmp_path / "mine.toml"), f"--imapwright-report={tmp_path / 'r'}"],
                         cwd=ROOT_DIR, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert set(summary["per_server"]) == {"cyrus:candidate"} and summary["counts"]["passed"] > 3


def test_candidate_debs_turn_red_only_the_test_of_the_changed_default(starts_servers, tmp_path):
    debs = tmp_path / "debs"
    made = subprocess.run(["bash", "scripts/candidate-debs", str(debs)], cwd=ROOT_DIR, capture_output=True,
                          text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-1000:]
    _package(debs, "imapwright-extra")  # as a packager's build folder holds packages the image lacks
    built = _iw("servers", "build", "cyrus:3.6", "--debs", str(debs))
    assert built.returncode == 0, built.stderr[-1000:]
    assert "left out (not installed in cyrus:3.6): imapwright-extra_1.0_all.deb" in built.stdout
    use = built.stdout.strip().splitlines()[-1]
    assert use.startswith("use: --server cyrus:custom --image imapwright/cyrus:3.6-debs-")
    tag = use.split()[-1]
    try:
        run = _iw("run", "acl", "health", "--server", "cyrus:custom", "--image", tag, "--reports", str(tmp_path),
                  timeout=900)
        assert run.returncode == 1, run.stdout[-2000:]
        [summary] = [json.loads(p.read_text()) for p in tmp_path.glob("*/summary.json")]
        failed = sorted(c["test"] for c in summary["checks"] if c["outcome"] in ("failed", "error"))
        assert failed == ["suites/acl/test_inheritance.py::test_toplevel_mailbox_gets_the_default_acl"]
        assert "server has extra 'p'" in next(c["message"] for c in summary["checks"] if c["test"] == failed[0])
        assert summary["counts"]["passed"] > 60
        assert tag in summary["servers"]["cyrus:custom"]
        labels = engine.client().images.get(tag).labels
        assert labels["imapwright.debs"] == "cyrus-common_3.6.1-4+deb12u4_amd64.deb"
        assert labels["imapwright.debs-left-out"] == "imapwright-extra_1.0_all.deb"
    finally:
        engine.client().images.remove(tag)


def test_debs_that_replace_nothing_in_the_image_are_refused_in_one_line(starts_servers, tmp_path):
    _package(tmp_path, "imapwright-extra")
    built = _iw("servers", "build", "cyrus:3.6", "--debs", str(tmp_path))
    assert built.returncode != 0
    [line] = [ln for ln in built.stderr.splitlines() if ln.startswith("imapwright: error:")]  # beside progress
    assert line.startswith("imapwright: error: cyrus:3.6: image build failed") and \
        "none of these packages is installed in the image: imapwright-extra_1.0_all.deb" in line, line


def _package(folder: Path, name: str) -> Path:
    """A minimal Debian package the catalogue images do not have installed."""
    root = folder / f".{name}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(f"Package: {name}\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: imapwright <test@example.org>\nDescription: test\n")
    out = folder / f"{name}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "-b", "--root-owner-group", str(root), str(out)], check=True, capture_output=True)
    return out
