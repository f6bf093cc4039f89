"""The plugin's promises, shown by inner pytest runs against a real server (pytester)."""

import pytest

INNER_PASSING = "def test_noop(server, admin_imap):\n    admin_imap.noop()\n"
INNER_FAILING = "def test_fails(server, admin_imap):\n    admin_imap.noop()\n    assert False, 'on purpose'\n"


def run_inner(pytester, *args):
    # Deviations name tests by node id relative to the rootdir: make it the inner run's own folder.
    return pytester.runpytest("--rootdir", str(pytester.path), "-p", "no:benchmark", *args)


@pytest.fixture
def deviation_dir(tmp_path):
    def write(family: str, test: str) -> str:
        d = tmp_path / "deviations"
        d.mkdir(exist_ok=True)
        (d / f"{family}.toml").write_text(
            f'[[deviation]]\ntest = "{test}"\nreason = "listed on purpose"\nreference = "RFC 9051"\n')
        return str(d)
    return write


def test_listed_deviation_that_passes_fails_as_fixed_still_listed(pytester, deviation_dir):
    pytester.makepyfile(test_inner=INNER_PASSING)
    result = run_inner(pytester, "--server", "cyrus:3.6", "--deviations",
                                deviation_dir("cyrus", "test_inner.py::test_noop"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fixed, still listed*"])


def test_listed_deviation_that_fails_is_reported_as_expected(pytester, deviation_dir):
    pytester.makepyfile(test_inner=INNER_FAILING)
    result = run_inner(pytester, "--server", "cyrus:3.6", "--deviations",
                                deviation_dir("cyrus", "test_inner.py::test_fails"))
    result.assert_outcomes(xfailed=1)


def test_deviation_of_another_family_does_not_apply(pytester, deviation_dir):
    pytester.makepyfile(test_inner=INNER_FAILING)
    result = run_inner(pytester, "--server", "cyrus:3.6", "--deviations",
                                deviation_dir("dovecot", "test_inner.py::test_fails"))
    result.assert_outcomes(failed=1)


def test_failure_shows_server_log_of_its_window(pytester):
    pytester.makepyfile(test_inner=INNER_FAILING)
    result = run_inner(pytester, "--server", "cyrus:3.6")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*server log cyrus:3.6 since*", "*cyrus/imap*login:*cyrus*"])


def test_unknown_server_is_a_usage_error(pytester):
    pytester.makepyfile(test_inner=INNER_PASSING)
    result = run_inner(pytester, "--server", "exim:4")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown server 'exim:4'; known servers: cyrus:3.2*"])
