"""LMTP delivery on a persistent connection (RFC 2033): LHLO once, then one transaction per message."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass


@dataclass(frozen=True)
class RecipientResult:
    recipient: str
    code: int
    text: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300

    @property
    def temporary_failure(self) -> bool:
        return 400 <= self.code < 500


class LMTPClient:
    """One connection; `deliver` returns the per-recipient outcome LMTP reports after DATA."""

    def __init__(self, host: str, port: int, timeout: float = 30):
        self._conn = smtplib.LMTP(host, port, timeout=timeout)
        code, msg = self._conn.ehlo("imapwright")  # smtplib sends LHLO for LMTP
        self._conn.command_encoding = "utf-8"  # addresses with UTF-8 details (RFC 6531)
        if code != 250:
            raise smtplib.SMTPResponseException(code, msg)

    def deliver(self, message: bytes, recipients: list[str], sender: str = "sender@imapwright.test"
                ) -> list[RecipientResult]:
        conn = self._conn
        # Addresses go out as given: smtplib's quoteaddr would re-parse a quoted local part
        # ("user+Project Plans") and break it.
        code, msg = conn.docmd("MAIL", f"FROM:<{sender}>")
        if code != 250:
            conn.rset()
            return [RecipientResult(r, code, msg.decode(errors="replace")) for r in recipients]
        results: dict[str, RecipientResult] = {}
        accepted = []
        for rcpt in recipients:
            code, msg = conn.docmd("RCPT", f"TO:<{rcpt}>")
            if code in (250, 251):
                accepted.append(rcpt)
            else:
                results[rcpt] = RecipientResult(rcpt, code, msg.decode(errors="replace"))
        if not accepted:
            conn.rset()
            return [results[r] for r in recipients]
        code, msg = conn.docmd("DATA")
        if code != 354:
            conn.rset()
            return [RecipientResult(r, code, msg.decode(errors="replace")) for r in recipients]
        data = smtplib.quotedata(message.decode("latin-1")).encode("latin-1")
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        conn.send(data + b".\r\n")
        # LMTP answers once per accepted recipient, in RCPT order.
        for rcpt in accepted:
            code, msg = conn.getreply()
            results[rcpt] = RecipientResult(rcpt, code, msg.decode(errors="replace"))
        return [results[r] for r in recipients]

    def close(self) -> None:
        try:
            self._conn.quit()
        except (smtplib.SMTPException, OSError):
            self._conn.close()

    def __enter__(self) -> LMTPClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
