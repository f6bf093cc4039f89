import pytest

from imapwright.pytest_plugin import deviations as dev


def test_shipped_deviation_files_load_and_have_references():
    entries = dev.load()
    assert entries, "fixtures/deviations lists nothing"
    assert all(e.reason and e.reference for e in entries)


def test_version_bounds_limit_a_deviation(tmp_path):
    (tmp_path / "dovecot.toml").write_text(
        '[[deviation]]\ntest = "suites/x.py::t"\nversions = ">=2.4"\nreason = "r"\nreference = "RFC 9051"\n')
    [entry] = dev.load(tmp_path)
    assert dev.find([entry], "suites/x.py::t", "dovecot", (2, 4, 1)) is entry
    assert dev.find([entry], "suites/x.py::t", "dovecot", (2, 3, 19)) is None
    assert dev.find([entry], "suites/x.py::t", "cyrus", (3, 6)) is None
    assert dev.find([entry], "suites/x.py::other", "dovecot", (2, 4, 1)) is None


def test_entry_without_reference_is_an_error(tmp_path):
    (tmp_path / "cyrus.toml").write_text('[[deviation]]\ntest = "a::b"\nreason = "r"\n')
    with pytest.raises(dev.DeviationError, match="lacks reference"):
        dev.load(tmp_path)


def test_malformed_toml_is_an_error(tmp_path):
    (tmp_path / "cyrus.toml").write_text("[[deviation]\n")
    with pytest.raises(dev.DeviationError, match="cyrus.toml"):
        dev.load(tmp_path)


def test_check_noise_hides_only_matching_lines_of_listed_versions(tmp_path):
    (tmp_path / "cyrus.toml").write_text(
        '[[deviation]]\ntest = "s.py::t"\nversions = "<3.6"\nreason = "r"\nreference = "x"\n'
        '[[check_noise]]\npattern = "mismatch: sentdate$"\nversions = "<3.6"\ntest = "s.py::t"\n'
        'reason = "r"\nreference = "x"\n')
    _, [noise] = dev.load_all(tmp_path)
    assert noise.hides("reconstruct: user.b uid 1 mismatch: sentdate", "cyrus", (3, 2, 6))
    assert not noise.hides("reconstruct: user.b uid 1 mismatch: sentdate", "cyrus", (3, 6, 1))
    assert not noise.hides("reconstruct: user.b uid 2 found - adding", "cyrus", (3, 2, 6))


def test_check_noise_must_name_a_listed_deviation(tmp_path):
    (tmp_path / "cyrus.toml").write_text(
        '[[check_noise]]\npattern = "x"\ntest = "s.py::t"\nreason = "r"\nreference = "x"\n')
    with pytest.raises(dev.DeviationError, match="not listed as a deviation"):
        dev.load_all(tmp_path)
