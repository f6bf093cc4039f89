"""LMTP for Locust: LHLO once per connection, then one MAIL/RCPT/DATA transaction per delivery,
each reported as one request event (name "deliver", size, per-recipient outcome). Sockets come
from the standard library, which Locust's gevent monkey-patching makes cooperative, so one Locust
process drives many connections."""

from __future__ import annotations

import smtplib
import time

from ..protocol.lmtp import LMTPClient
from . import budget
from .ledger import LedgerWriter


class DeliveryRefused(Exception):
    """A recipient was not accepted (code and text of the server's answer)."""


class LMTPLoadClient:
    def __init__(self, host: str, port: int, environment, ledger: LedgerWriter | None = None):
        self.host, self.port, self.environment = host, port, environment
        self.ledger = ledger or LedgerWriter("")
        self._client: LMTPClient | None = None

    def deliver(self, message: bytes, recipient: str, message_id: str = "", user: str = "",
                folder: str = "INBOX", sender: str = "load@imapwright.test", name: str = "deliver") -> bool:
        """One delivery, one event; acknowledged deliveries go to the ledger. A broken connection
        is reopened for the next delivery."""
        budget.spend()
        start = time.perf_counter()
        exception = None
        owner = user or recipient
        try:
            if self._client is None:
                self._client = LMTPClient(self.host, self.port)
            self.ledger.record("sent", owner, folder, message_id)
            [outcome] = self._client.deliver(message, [recipient], sender=sender)
            if outcome.accepted:
                self.ledger.record("add", owner, folder, message_id)
            else:
                self.ledger.record("refused", owner, folder, message_id)
                exception = DeliveryRefused(f"{outcome.code} {outcome.text}")
        except (smtplib.SMTPException, OSError) as exc:
            exception = exc
            self.ledger.record("unknown", owner, folder, message_id)
            self.close()
        ms = (time.perf_counter() - start) * 1000
        self.ledger.timing(name, time.time() - ms / 1000, ms)
        self.environment.events.request.fire(
            request_type="LMTP", name=name, response_time=ms, response_length=len(message),
            exception=exception, context={"recipient": recipient})
        return exception is None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
