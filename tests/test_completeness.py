"""A run that did not run everything it collected says so: crashed (an internal error) and
stopped early (-x) runs get the run_incomplete error in junit.xml; a complete one does not."""

from xml.etree import ElementTree

CRASH = '''
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_logfinish(nodeid, location):
    yield
    if nodeid.endswith("test_b"):
        raise RuntimeError("harness bug")
'''
TESTS = '''
def test_a(): pass
def test_b(): pass
def test_c(): assert False
def test_d(): pass
'''


def _incomplete(pytester, *args):
    pytester.makepyfile(test_inner=TESTS)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={junit}", "-o",
                                           "junit_family=xunit1", *args)
    cases = [c for c in ElementTree.parse(junit).getroot().iter("testcase") if c.get("name") == "run_incomplete"]
    return result, cases


def test_crashed_run_is_marked(pytester):
    pytester.makeconftest(CRASH)
    result, (case,) = _incomplete(pytester)
    assert result.ret == 3
    message = case.find("error").get("message")
    assert message == ("failed on setup with \"run crashed (internal error; see the terminal output): 2 of 4 tests ran, 2 did not\"")


def test_stopped_early_run_is_marked(pytester):
    result, (case,) = _incomplete(pytester, "-x")
    assert result.ret == 1
    assert "run stopped early" in case.find("error").get("message")
    assert "3 of 4 tests ran, 1 did not" in case.find("error").get("message")


def test_complete_run_has_no_incomplete_case(pytester):
    result, cases = _incomplete(pytester)
    assert result.ret == 1 and cases == []
