"""Each kind of knowledge has one home (issue 17): only imapwright/servers/ knows what is inside a
server (tool paths, tool names, its configuration tool, the family object), and the command line
stays a thin layer of small modules."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_KNOWLEDGE = re.compile(r"/usr/lib/cyrus|doveadm|cyr_info|\.family\.")
# Files that may name a server's insides outside servers/, and why.
ALLOWED = {
    "benchmarks/dovecot_acl_rebuild.py": "measures a variant of one Dovecot upgrade step: the command is its data",
    "tests/test_layout.py": "this check",
    "tests/test_log_gate.py": "recorded server log lines, as the servers write them, that the classifier is tested on",
}


def _python_files():
    for folder in ("imapwright", "suites", "tests", "loadtests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith("imapwright/servers/") and rel not in ALLOWED:
                yield rel, path


def test_nothing_outside_servers_names_a_servers_insides():
    found = [f"{rel}:{n}: {line.strip()}" for rel, path in _python_files()
             for n, line in enumerate(path.read_text().splitlines(), 1) if SERVER_KNOWLEDGE.search(line)]
    assert not found, "server knowledge outside imapwright/servers/:\n" + "\n".join(found)


def test_the_command_line_is_small_modules():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "imapwright" / "cli").glob("*.py")}
    assert sizes and max(sizes.values()) < 450, sizes
    assert not (ROOT / "imapwright" / "cli.py").exists()


def test_private_library_internals_are_used_in_one_place():
    users = [rel for rel, path in _python_files() if re.search(r"\._imap\b|_simple_command", path.read_text())
             and not rel.startswith("tests/test_imap_helpers.py")]
    assert users == ["imapwright/protocol/imap.py"], users


def test_only_the_resources_module_finds_files_from_where_the_code_is():
    """An installed wheel has no checkout around it: paths from __file__ break there (issue 26)."""
    found = [rel for rel, path in _python_files() if rel.startswith("imapwright/")
             and "__file__" in path.read_text() and rel != "imapwright/resources.py"]
    assert not found, found


def test_no_secret_is_committed():
    import subprocess

    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    assert not [f for f in listed.stdout.splitlines() if f.endswith(".secret") or "admin-password" in f]
    assert "*.secret" in (ROOT / ".gitignore").read_text().splitlines()


def test_no_test_passes_by_returning_early():
    """A test that does not apply says so with pytest.skip (or a requires marker); a bare return
    counts as passed without having checked anything (issue 30)."""
    import ast

    found = []
    for rel, path in _python_files():
        if not (rel.startswith("tests/") or rel.startswith("suites/")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found += [f"{rel}:{r.lineno} {node.name}" for r in _own_returns(node)]
    assert not found, found


def _own_returns(function):
    """Bare returns of this function itself (not of functions defined inside it)."""
    import ast

    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is None:
            yield node
        todo.extend(ast.iter_child_nodes(node))


def test_one_host_port_parser():
    """HOST:PORT is parsed in imapwright/endpoints.py only (issue 30: three copies, two untested)."""
    pattern = re.compile(r"""rpartition\(["']:["']\)|\]\?:\(\\d\+\)""")
    found = [f"{rel}:{n}" for rel, path in _python_files() if rel.startswith("imapwright/")
             and rel != "imapwright/endpoints.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found


def test_target_urls_are_made_by_one_function():
    """A --target URL is written by servers/target.py (format_target, target_url), not by hand."""
    found = [f"{rel}:{n}" for rel, path in _python_files()
             for n, line in enumerate(path.read_text().splitlines(), 1) if 'f"imap://{' in line or "f'imap://{" in line]
    assert not found, found


# Floors, lowest first: a package may import its own floor and those below, never one above.
FLOORS = [("models", "protocol", "mailstore", "report"), ("servers",), ("stores",), ("admin", "load"),
          ("pytest_plugin",), ("cli",)]
UPWARD_ALLOWED: dict[tuple[str, str], str] = {}  # (file, floor) -> why; none today


def test_no_import_runs_upward():
    import ast

    floor_of = {pkg: i for i, names in enumerate(FLOORS) for pkg in names}
    found = []
    for rel, path in _python_files():
        parts = rel.split("/")
        if parts[0] != "imapwright" or len(parts) < 3 or parts[1] not in floor_of:
            continue
        mine = floor_of[parts[1]]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level:
                target = (parts[1:-1][: len(parts) - 2 - (node.level - 1)] + node.module.split("."))[0] \
                    if node.level > 1 else parts[1]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("imapwright."):
                target = node.module.split(".")[1]
            else:
                continue
            if target in floor_of and floor_of[target] > mine and (rel, target) not in UPWARD_ALLOWED:
                found.append(f"{rel}:{node.lineno} imports {target}")
    assert not found, found


# An account's mailbox name is the family's (server.user_mailbox); written by hand only where no
# server is there to ask (issue 30 item 7).
HAND_MADE_ACCOUNT = re.compile(r"""f["']user\.\{""")
ACCOUNT_NAMES_ALLOWED = {
    "imapwright/cli/admin.py": "addusers --dry-run prints commands with no server to ask (standard namespace)",
}


def test_account_mailbox_names_come_from_the_family():
    found = [f"{rel}:{n}: {line.strip()}" for rel, path in _python_files() if rel.startswith("imapwright/")
             and rel not in ACCOUNT_NAMES_ALLOWED
             for n, line in enumerate(path.read_text().splitlines(), 1) if HAND_MADE_ACCOUNT.search(line)]
    assert not found, "user.NAME written by hand (ask server.user_mailbox):\n" + "\n".join(found)
