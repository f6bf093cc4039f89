"""The pytest command line of a suite run (`imapwright run`, an upgrade's conformance runs): the
settings the shipped suites rely on, given on the command line because an installed tool has no
ini file of its own (the checkout's pyproject.toml says the same)."""

from __future__ import annotations

import os
from pathlib import Path

from .resources import shipped_root

# xunit1: per-testcase properties (server, deviation) in junit.xml; a failure's server log in system-out.
INI = {"junit_family": "xunit1", "junit_logging": "system-out", "junit_log_passing_tests": "false"}


def rootdir(paths: list[str]) -> Path:
    """Shipped suites run from the folder holding suites/ (node ids "suites/..." as in the
    deviation lists); a user's own tests from their common folder."""
    shipped = shipped_root()
    resolved = [Path(p).resolve() for p in paths]
    if all(p.is_relative_to(shipped) for p in resolved):
        return shipped
    folders = [p if p.is_dir() else p.parent for p in resolved]
    return Path(os.path.commonpath(folders))


def suite_args(paths: list[str]) -> list[str]:
    """Paths, rootdir and settings; no cache folder (it would land beside the suites)."""
    args = [*paths, "--rootdir", str(rootdir(paths)), "-p", "no:cacheprovider",
            # the command imported the plugin before pytest could rewrite its asserts: nothing to say
            "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"]
    for key, value in INI.items():
        args += ["-o", f"{key}={value}"]
    return args
