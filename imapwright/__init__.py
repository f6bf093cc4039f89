"""imapwright: conformance and load-test harness for IMAP mail stores."""

__version__ = "0.1.0"
