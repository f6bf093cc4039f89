"""What a locustfile needs to know about the server and the population, from the environment.

`imapwright load` sets these variables for Locust (and its worker processes, which inherit them);
someone running `locust -f loadtests/NAME.py` by hand sets them too. Passwords travel only here,
never on a command line or in a report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..endpoints import parse_host_port
from .scenarios import KNOBS

PREFIX = "IMAPWRIGHT_LOAD_"
# Set in a Locust worker started by `imapwright load-worker`: it takes its configuration from the
# master (load/distributed.py). Here, not there: the worker's wrapper must not import Locust (gevent).
REMOTE_ENV = "IMAPWRIGHT_LOAD_REMOTE_WORKER"


def _endpoint(value: str, what: str) -> tuple[str, int] | None:
    if not value:
        return None
    try:
        return parse_host_port(value)
    except ValueError:
        raise SystemExit(f"{PREFIX}{what}={value!r}: expected HOST:PORT") from None


@dataclass
class LoadConfig:
    imap: tuple[str, int] | None = None
    lmtp: tuple[str, int] | None = None
    users: list[str] = field(default_factory=list)
    password: str = ""  # the population's (one generated password for all)
    admin: str = ""
    admin_password: str = ""
    ledger: str = ""  # directory for acknowledged-delivery ledgers; empty: none kept
    exec: str = ""  # the server's exec channel, as a target URL names it (large-list's reconstructs)
    family: str = "cyrus"
    tls: str = ""  # IMAP sessions: "" plain, "imaps", "starttls"
    tls_ca: str = ""  # CA file the server's certificate is verified with ("" the system's trust)
    tls_verify: bool = True  # False: --insecure accepted an unverified target
    options: dict[str, str] = field(default_factory=dict)  # scenario knobs, IMAPWRIGHT_LOAD_OPT_*
    _ssl: object = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> LoadConfig:
        env = os.environ if env is None else env
        get = lambda key: env.get(PREFIX + key, "")  # noqa: E731
        return cls(
            imap=_endpoint(get("IMAP"), "IMAP"), lmtp=_endpoint(get("LMTP"), "LMTP"),
            users=[u for u in get("USERS").split(",") if u], password=get("PASSWORD"),
            admin=get("ADMIN"), admin_password=get("ADMIN_PASSWORD"), ledger=get("LEDGER"),
            exec=get("EXEC"), family=get("FAMILY") or "cyrus",
            tls=get("TLS"), tls_ca=get("TLS_CA"), tls_verify=get("TLS_VERIFY") != "0",
            options={k.removeprefix(PREFIX + "OPT_").lower(): v for k, v in env.items()
                     if k.startswith(PREFIX + "OPT_")},
        )

    def to_env(self) -> dict[str, str]:
        env = {"USERS": ",".join(self.users), "PASSWORD": self.password, "ADMIN": self.admin,
               "ADMIN_PASSWORD": self.admin_password, "LEDGER": self.ledger,
               "EXEC": self.exec, "FAMILY": self.family, "TLS": self.tls, "TLS_CA": self.tls_ca,
               "TLS_VERIFY": "1" if self.tls_verify else "0"}
        if self.imap:
            env["IMAP"] = f"{self.imap[0]}:{self.imap[1]}"
        if self.lmtp:
            env["LMTP"] = f"{self.lmtp[0]}:{self.lmtp[1]}"
        env.update({f"OPT_{k.upper()}": str(v) for k, v in self.options.items()})
        return {PREFIX + k: v for k, v in env.items()}

    def need(self, *what: str) -> None:
        """Exit with one line naming the variables a scenario needs and lacks."""
        missing = [w for w in what if not getattr(self, w.lower())]
        if missing:
            raise SystemExit("set " + ", ".join(PREFIX + m.upper() for m in missing)
                             + " (imapwright load sets them; see loadtests/README.md)")

    def ssl_context(self):
        """The client TLS settings for IMAP sessions, made once per process; None when plain."""
        if not self.tls:
            return None
        if self._ssl is None:
            import ssl

            if self.tls not in ("imaps", "starttls"):
                raise SystemExit(f"{PREFIX}TLS={self.tls!r}: expected imaps or starttls")
            self._ssl = ssl.create_default_context(cafile=self.tls_ca or None)
            if not self.tls_verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        return self._ssl

    def option(self, name: str) -> str:
        """A knob's value: what the run set, else its default (load/scenarios.KNOBS, the one list)."""
        return self.options.get(name, KNOBS[name].default)
