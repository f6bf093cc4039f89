"""LMTP for Locust: LHLO once per connection, then one MAIL/RCPT/DATA transaction per delivery,
each reported as one request event (name "deliver", size, per-recipient outcome). Sockets come
from the standard library, which Locust's gevent monkey-patching makes cooperative, so one Locust
process drives many connections."""

from __future__ import annotations

import smtplib
import time
from urllib.parse import urlsplit

from locust import User

from ..protocol.lmtp import LMTPClient


class DeliveryRefused(Exception):
    """A recipient was not accepted (code and text of the server's answer)."""


class LMTPLoadClient:
    def __init__(self, host: str, port: int, environment):
        self.host, self.port, self.environment = host, port, environment
        self._client: LMTPClient | None = None

    def deliver(self, message: bytes, recipient: str, sender: str = "load@imapwright.test", name: str = "deliver") -> bool:
        """One delivery, one event. A broken connection is reopened for the next delivery."""
        start = time.perf_counter()
        exception = None
        try:
            if self._client is None:
                self._client = LMTPClient(self.host, self.port)
            [outcome] = self._client.deliver(message, [recipient], sender=sender)
            if not outcome.accepted:
                exception = DeliveryRefused(f"{outcome.code} {outcome.text}")
        except (smtplib.SMTPException, OSError) as exc:
            exception = exc
            self.close()
        self.environment.events.request.fire(
            request_type="LMTP", name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=len(message), exception=exception, context={"recipient": recipient})
        return exception is None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class LMTPUser(User):
    """A Locust user with `self.client`, an LMTPLoadClient for `--host lmtp://HOST:PORT`."""
    abstract = True

    def __init__(self, environment):
        super().__init__(environment)
        address = urlsplit(self.host or "")
        if address.scheme != "lmtp" or not address.hostname or not address.port:
            raise ValueError(f"host must be lmtp://HOST:PORT, not {self.host!r}")
        self.client = LMTPLoadClient(address.hostname, address.port, environment)

    def on_stop(self) -> None:
        self.client.close()
