"""The one HOST:PORT parser (imapwright/endpoints.py) and its callers' one-line errors."""

import pytest

from imapwright.endpoints import parse_host_port
from imapwright.errors import UserError


@pytest.mark.parametrize("text,expected", [
    ("127.0.0.1:143", ("127.0.0.1", 143)), ("mail.example.org:24", ("mail.example.org", 24)),
    ("[::1]:4190", ("::1", 4190)), ("::1:4190", ("::1", 4190)), (" host:1 ", ("host", 1)),
    ("host:65535", ("host", 65535)),
])
def test_host_and_port(text, expected):
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["host", "host:", ":143", "host:0", "host:65536", "host:http", "a b:1",
                                  "[::1]", "host:1:x", ""])
def test_not_host_and_port(text):
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_host_port(text)


def test_each_caller_words_its_own_error():
    from imapwright.load.config import LoadConfig
    from imapwright.load.runner import master_endpoint
    from imapwright.servers.target import parse_target

    with pytest.raises(UserError, match=r"^lmtp address 'x:0': expected HOST:PORT$"):
        parse_target("imap://cyrus@127.0.0.1:143?lmtp=x:0")
    with pytest.raises(UserError, match=r"^--master 'x:99999': expected HOST:PORT, e.g. master.example.org:5557$"):
        master_endpoint("x:99999", "--master")
    with pytest.raises(SystemExit, match=r"IMAPWRIGHT_LOAD_IMAP='nohost': expected HOST:PORT"):
        LoadConfig.from_env({"IMAPWRIGHT_LOAD_IMAP": "nohost"})
    assert master_endpoint("0.0.0.0:5557") == ("0.0.0.0", 5557)
