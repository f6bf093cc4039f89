"""LMTP delivery on a persistent connection (RFC 2033): LHLO once, then one transaction per message."""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass


_EOL = re.compile(rb"\r\n|\r|\n")
_DOT = re.compile(rb"^\.", re.M)


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

    def __init__(self, host: str, port: int, timeout: float = 30, pipelining: bool = True, tls_context=None):
        """With `tls_context` the session is upgraded by STARTTLS (RFC 3207) before any mail;
        smtplib.SMTPNotSupportedError where the server does not offer it."""
        self._conn = smtplib.LMTP(host, port, timeout=timeout)
        code, msg = self._conn.ehlo("imapwright")  # smtplib sends LHLO for LMTP
        self._conn.command_encoding = "utf-8"  # addresses with UTF-8 details (RFC 6531)
        if code != 250:
            raise smtplib.SMTPResponseException(code, msg)
        self.capabilities = dict(self._conn.esmtp_features)  # as first offered, before any TLS
        if tls_context is not None:
            self._conn.starttls(context=tls_context)
            code, msg = self._conn.ehlo("imapwright")  # RFC 3207: forget what was said before TLS
            if code != 250:
                raise smtplib.SMTPResponseException(code, msg)
        self.pipelining = pipelining and self._conn.has_extn("pipelining")

    def deliver(self, message: bytes, recipients: list[str], sender: str = "sender@imapwright.test"
                ) -> list[RecipientResult]:
        if self.pipelining:
            return self._deliver_pipelined(message, recipients, sender)
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
        return self._send_data(message, accepted, results, recipients)

    def _deliver_pipelined(self, message: bytes, recipients: list[str], sender: str) -> list[RecipientResult]:
        """MAIL, every RCPT and DATA in one write, then their replies in order (RFC 2920; RFC 2033
        requires LMTP servers to offer PIPELINING): one round trip instead of 2 + recipients."""
        conn = self._conn
        lines = [f"MAIL FROM:<{sender}>"] + [f"RCPT TO:<{r}>" for r in recipients] + ["DATA"]
        conn.send("".join(line + "\r\n" for line in lines).encode("utf-8"))
        mail_code, mail_msg = conn.getreply()
        results: dict[str, RecipientResult] = {}
        accepted = []
        for rcpt in recipients:
            code, msg = conn.getreply()
            if mail_code != 250:  # the RCPTs were refused because MAIL was: report MAIL's answer
                code, msg = mail_code, mail_msg
            if code in (250, 251):
                accepted.append(rcpt)
            else:
                results[rcpt] = RecipientResult(rcpt, code, msg.decode(errors="replace"))
        code, msg = conn.getreply()  # DATA's
        if code != 354:
            if not accepted:
                conn.rset()
                return [results[r] for r in recipients]
            conn.rset()
            return [RecipientResult(r, code, msg.decode(errors="replace")) for r in recipients]
        if not accepted:  # a server that said 354 with no recipient: end the empty transaction
            conn.send(b".\r\n")
            conn.getreply()
            return [results[r] for r in recipients]
        return self._send_data(message, accepted, results, recipients)

    def _send_data(self, message: bytes, accepted: list[str], results: dict[str, RecipientResult],
                   recipients: list[str]) -> list[RecipientResult]:
        conn = self._conn
        # CRLF line ends and dot-stuffing (RFC 5321 4.5.2), on bytes: no decode and re-encode.
        data = _DOT.sub(b"..", _EOL.sub(b"\r\n", message))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        conn.send(data + b".\r\n")
        # LMTP answers once per accepted recipient, in RCPT order.
        for rcpt in accepted:
            code, msg = conn.getreply()
            results[rcpt] = RecipientResult(rcpt, code, msg.decode(errors="replace"))
        return [results[r] for r in recipients]

    def socket(self):
        """The connection's socket (an ssl.SSLSocket after STARTTLS)."""
        return self._conn.sock

    def close(self) -> None:
        try:
            self._conn.quit()
        except (smtplib.SMTPException, OSError):
            self._conn.close()

    def __enter__(self) -> LMTPClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
