import pytest

from imapwright.catalogue import CATALOGUE, lookup
from imapwright.errors import UserError


def test_catalogue_names_and_releases():
    assert {n: s.release for n, s in CATALOGUE.items()} == {
        "cyrus:3.2": "bullseye", "cyrus:3.6": "bookworm", "cyrus:3.10": "trixie", "cyrus:3.12": "forky",
        "dovecot:2.3": "bookworm", "dovecot:2.4": "trixie"}
    assert all(s.context_dir.joinpath("Dockerfile").is_file() for s in CATALOGUE.values())


def test_unknown_server_lists_known_ones():
    with pytest.raises(UserError, match="known servers: cyrus:3.2, cyrus:3.6"):
        lookup("exim:4")
