import pytest

from imapwright.pytest_plugin.requirements import parse

F = frozenset({"exec", "partitions"})


@pytest.mark.parametrize("spec,family,version,met", [
    ("cyrus", "cyrus", (3, 6, 1), True),
    ("cyrus", "dovecot", (2, 3, 19), False),
    ("cyrus>=3.6", "cyrus", (3, 6, 1), True),
    ("cyrus>=3.6", "cyrus", (3, 2, 6), False),
    ("cyrus>=3.10", "cyrus", (3, 6, 1), False),  # numeric, not lexical: 3.10 > 3.6
    ("cyrus<3.10", "cyrus", (3, 10, 2), False),
    ("dovecot==2.3", "dovecot", (2, 3, 19), True),
    ("partitions", "cyrus", (3, 6), True),
    ("lmtp", "cyrus", (3, 6), False),
])
def test_requirement_evaluation(spec, family, version, met):
    assert (parse(spec).unmet(family, version, F) is None) is met


def test_unmet_requirement_says_why():
    assert parse("cyrus>=3.10").unmet("cyrus", (3, 6, 1), F) == "needs cyrus>=3.10, server is 3.6.1"


@pytest.mark.parametrize("bad", ["", "cyrus>=", ">=3.6", "partitions>=2", "Cyrus!"])
def test_malformed_requirement_is_rejected(bad):
    with pytest.raises(ValueError):
        parse(bad)
