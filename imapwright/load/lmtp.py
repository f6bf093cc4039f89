"""LMTP for Locust: LHLO once per connection, then one pipelined MAIL/RCPT/DATA transaction per
delivery (inside a run of deliveries sent ahead, behind the message before), each reported as one
request event (name "deliver", size, the recipient's outcome).
Sockets come from the standard library, which Locust's gevent monkey-patching makes cooperative,
so one Locust process drives many connections; the client is protocol/lmtp_wire.py (raw socket,
messages ready for the wire), the cheapest per delivery that benchmarks/generator_ceiling.py found."""

from __future__ import annotations

import time

import gevent

from ..protocol.lmtp_wire import LMTPWireError, WireLMTP, wire_form
from . import budget
from .ledger import LedgerWriter
from .watchdog import watch


TIMEOUT = 60  # seconds a delivery (connect included) may take before its outcome counts as unknown


class DeliveryRefused(Exception):
    """A recipient was not accepted (code and text of the server's answer)."""


class LMTPLoadClient:
    def __init__(self, host: str, port: int, environment, ledger: LedgerWriter | None = None):
        self.host, self.port, self.environment = host, port, environment
        self.ledger = ledger or LedgerWriter("")
        self._client: WireLMTP | None = None
        self.deadline = 0.0  # time.perf_counter() the delivery under way must end by; 0: none under way
        self.expired = False
        watch(self)

    def deliver(self, message: bytes, recipient: str, message_id: str = "", user: str = "",
                folder: str = "INBOX", sender: str = "load@imapwright.test", name: str = "deliver",
                wire: bool = False, then: str | None = None) -> bool:
        """One delivery, one event; acknowledged deliveries go to the ledger. A broken connection
        is reopened for the next delivery. `wire`: the message is already in wire form (CRLF,
        dot-stuffed, as load/mail.py makes them), so it is sent as it is. `then`: the next
        delivery's recipient (same sender), whose envelope goes out behind this message (see
        protocol/lmtp_wire.py); the next call must be for it. That delivery's response time then
        runs from its own start, with its envelope's replies usually already here: the time of
        one round trip, where a delivery without an envelope sent ahead takes two."""
        budget.spend()
        start = time.perf_counter()
        exception = None
        owner = user or recipient
        data = message if wire else wire_form(message)
        try:
            if self._client is None:  # once per connection: a timer of its own
                with gevent.Timeout(TIMEOUT, LMTPWireError(f"no greeting within {TIMEOUT} s")):
                    self._client = WireLMTP(self.host, self.port, timeout=None)
            self.deadline = time.perf_counter() + TIMEOUT
            try:
                self.ledger.record("sent", owner, folder, message_id, flush=False)
                code, text = self._client.deliver(data, recipient, sender,
                                                  then=(then, sender) if then is not None else None)
            finally:
                self.deadline = 0.0
            if 200 <= code < 300:
                self.ledger.record("add", owner, folder, message_id)
            else:
                self.ledger.record("refused", owner, folder, message_id)
                exception = DeliveryRefused(f"{code} {text}")
        except OSError as exc:  # LMTPWireError included: the outcome is unknown
            exception = LMTPWireError(f"no answer within {TIMEOUT} s") if self.expired else exc
            self.expired = False
            self.ledger.record("unknown", owner, folder, message_id)
            self.close()
        self._fire(name, start, len(message), recipient, exception)
        return exception is None

    def _fire(self, name: str, start: float, size: int, recipient: str, exception: Exception | None) -> None:
        ms = (time.perf_counter() - start) * 1000
        self.ledger.timing(name, time.time() - ms / 1000, ms)
        self.environment.events.request.fire(
            request_type="LMTP", name=name, response_time=ms, response_length=size,
            exception=exception, context={"recipient": recipient})

    @property
    def pending(self) -> bool:
        """An envelope is sent ahead: the next deliver() must be for its recipient."""
        return self._client is not None and self._client.pending is not None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def expire(self) -> None:
        """Called by the watchdog: closing the socket wakes the delivery waiting on it with an
        error (gevent: "closed in another greenlet")."""
        self.expired = True
        if self._client is not None:
            self._client.abort()
