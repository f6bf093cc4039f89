import pytest

from imapwright.errors import UserError
from imapwright.servers.target import parse_target


def test_full_target_url():
    t = parse_target("imap://cyrus@127.0.0.1:1143?lmtp=127.0.0.1:2424&exec=docker:srv&sieve=127.0.0.1:4190")
    assert (t.admin, str(t.imap), str(t.lmtp), t.exec.container, str(t.sieve), t.tls, t.insecure) == (
        "cyrus", "127.0.0.1:1143", "127.0.0.1:2424", "srv", "127.0.0.1:4190", "", False)


@pytest.mark.parametrize("text,login,host,port", [
    ("ssh:root@vm.example", "root", "vm.example", 22),
    ("ssh:admin@127.0.0.1:2222", "admin", "127.0.0.1", 2222),
    ("ssh:admin@[::1]:2222", "admin", "::1", 2222),
])
def test_ssh_exec_channels(text, login, host, port):
    channel = parse_target(f"imap://cyrus@h:143?exec={text}&log=/var/log/mail.log").exec
    assert (channel.kind, channel.login, channel.host, channel.port, channel.log) == (
        "ssh", login, host, port, "/var/log/mail.log")


def test_default_port_and_no_extras():
    t = parse_target("imap://admin@localhost")
    assert (t.imap.port, t.lmtp, t.exec, t.sieve, t.tls) == (143, None, None, None, "")


@pytest.mark.parametrize("url,port,tls,insecure", [
    ("imaps://admin@mail.example", 993, "imaps", False),
    ("imaps://admin@mail.example:10993?insecure=1", 10993, "imaps", True),
    ("imap://admin@mail.example?starttls=1", 143, "starttls", False),
    ("imap://admin@mail.example?starttls=0", 143, "", False),
])
def test_tls_forms(url, port, tls, insecure):
    t = parse_target(url)
    assert (t.imap.port, t.tls, t.insecure) == (port, tls, insecure)


@pytest.mark.parametrize("url,msg", [
    ("http://cyrus@h:1", "expected imap://"),
    ("imaps://cyrus@h:1?starttls=1", "starttls=1 is for imap://"),
    ("imap://cyrus@h:1?starttls=yes", "expected 1 or 0"),
    ("imap://cyrus@h:1?tls=1", "unknown setting 'tls'"),
    ("imap://h:1", "expected imap://"),
    ("imap://cyrus:secret@h:1", "must not carry a password"),
    ("imap://cyrus@h:1?lmtp=nohostport", "expected HOST:PORT"),
    ("imap://cyrus@h:1?exec=ssh:box", "expected ssh:USER@HOST"),
    ("imap://cyrus@h:1?exec=ssh:root@box:70000", "expected ssh:USER@HOST"),
    ("imap://cyrus@h:1?exec=rsh:root@box", "expected docker:CONTAINER or ssh:"),
    ("imap://cyrus@h:1?log=/var/log/mail.log", "needs an exec channel"),
    ("imap://cyrus@h:1?exec=docker:x&log=mail.log", "absolute path"),
    ("imap://cyrus@h:99999", "bad port"),
])
def test_bad_target_urls(url, msg):
    with pytest.raises(UserError, match=msg):
        parse_target(url)


def test_the_url_of_a_held_server_reads_back_as_the_same_server():
    from imapwright.servers.handle import Endpoint
    from imapwright.servers.target import parse_target, target_url

    class Held:  # the attributes target_url reads from a ServerHandle
        admin_user, imap, imaps = "cyrus", Endpoint("127.0.0.1", 1143), Endpoint("127.0.0.1", 1993)
        lmtp, sieve = Endpoint("127.0.0.1", 1024), Endpoint("127.0.0.1", 4190)

        class channel:  # noqa: N801 - as the handle's property reads
            name = "docker:imapwright-x"

    url = target_url(Held(), lmtp=True, sieve=True, exec_=True)
    assert url == "imap://cyrus@127.0.0.1:1143?lmtp=127.0.0.1:1024&sieve=127.0.0.1:4190&exec=docker:imapwright-x"
    back = parse_target(url)
    assert (back.imap, back.lmtp, back.sieve, back.exec.container) == (Held.imap, Held.lmtp, Held.sieve, "imapwright-x")
    assert target_url(Held(), tls="imaps") == "imaps://cyrus@127.0.0.1:1993"
    assert target_url(Held(), exec_="ssh:root@10.0.0.5:2222").endswith("?exec=ssh:root@10.0.0.5:2222")
