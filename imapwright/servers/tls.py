"""Certificates for the servers a run starts: one self-signed CA per process, a server certificate
for 127.0.0.1 issued by it at each start, and the client side's trust in that CA only."""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_VALID = datetime.timedelta(days=2)  # a run's CA outlives no run


@dataclass(frozen=True)
class Credentials:
    cert_pem: str
    key_pem: str  # travels to the container only (environment of the start), never to a report


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "imapwright test run"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


class RunCA:
    """A certificate authority that exists for one process."""

    def __init__(self, common: str = "imapwright run CA", valid: datetime.timedelta = _VALID):
        now = datetime.datetime.now(datetime.UTC)
        self.valid = valid
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
                     .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + valid)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self._key, hashes.SHA256()))
        self._dir = Path(tempfile.mkdtemp(prefix="imapwright-ca-"))
        atexit.register(shutil.rmtree, self._dir, True)
        self.ca_file = self._dir / "ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, host: str = "127.0.0.1") -> Credentials:
        """A server certificate for `host` (an IP address or a name), with localhost beside it."""
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(host))]
        except ValueError:
            names = [x509.DNSName(host)]
        names.append(x509.DNSName("localhost"))
        cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + self.valid)
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(self._key, hashes.SHA256()))
        return Credentials(cert.public_bytes(serialization.Encoding.PEM).decode(),
                           key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode())

    def client_context(self) -> ssl.SSLContext:
        """Trusts this CA only: a server certificate from anywhere else fails verification."""
        return ssl.create_default_context(cafile=str(self.ca_file))


_ca: RunCA | None = None
_lock = threading.Lock()


def run_ca(valid: datetime.timedelta | None = None) -> RunCA:
    """This process's CA; `valid` (on first use only) for servers that outlive the process
    (`servers start`), whose clients keep trusting the CA's certificate saved beside them."""
    global _ca
    with _lock:
        if _ca is None:
            _ca = RunCA(valid=valid or _VALID)
        return _ca


def client_context(trust: str, ca_file: str = "") -> ssl.SSLContext:
    """Client TLS settings by trust: "run" the run's own CA (servers the harness starts), "system"
    the machine's trust store (or `ca_file`; OpenSSL also honours SSL_CERT_FILE), "none" no
    verification at all (--insecure: the user accepted an unverified server)."""
    if trust == "run":
        return run_ca().client_context()
    context = ssl.create_default_context(cafile=ca_file or None)
    if trust == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def verify_failure(exc: BaseException) -> str | None:
    """A one-line reason when `exc` is a certificate that did not verify, else None."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    return None
