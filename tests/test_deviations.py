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


@pytest.mark.parametrize("entry, says", [
    # A misspelt `versions` would make the entry hold for every version of the family.
    ('[[deviation]]\ntest = "a::b"\nverisons = ">=3.6"\nreason = "r"\nreference = "x"\n', "deviation #1: unknown key verisons"),
    # A malformed bound failed mid-run, at the first test it was matched against (a traceback).
    ('[[deviation]]\ntest = "a::b"\nversions = ">=three"\nreason = "r"\nreference = "x"\n', "deviation #1: bad version bound"),
    ('[[deviation]]\ntest = "a::b"\nreason = "r"\nreference = "x"\n[[check_noise]]\npattern = "y"\n'
     'test = "a::b"\nreason = "r"\nreference = "x"\nversion = "3.2"\n', "check_noise #1: unknown key version"),
    ('[[deviations]]\ntest = "a::b"\nreason = "r"\nreference = "x"\n', "unknown table deviations"),
])
def test_a_mistake_in_a_list_is_one_line_when_read(tmp_path, entry, says):
    (tmp_path / "cyrus.toml").write_text(entry)
    with pytest.raises(dev.DeviationError, match="cyrus.toml") as raised:
        dev.read(tmp_path)
    assert says in str(raised.value)


def test_one_read_gives_every_table(tmp_path):
    (tmp_path / "cyrus.toml").write_text(
        '[[deviation]]\ntest = "s.py::t"\nreason = "r"\nreference = "x"\n'
        '[[check_noise]]\npattern = "p"\ntest = "s.py::t"\nreason = "r"\nreference = "x"\n'
        '[[log_noise]]\npattern = "q"\nreason = "r"\nreference = "x"\nsometimes = true\n')
    lists = dev.read(tmp_path)
    assert [d.test for d in lists.deviations] == ["s.py::t"]
    assert [n.pattern for n in lists.check_noise] == ["p"]
    assert [(n.family, n.pattern, n.sometimes) for n in lists.log_noise] == [("cyrus", "q", True)]
