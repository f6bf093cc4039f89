"""Postfix's `smtp-source` (a reference load generator) and `smtp-sink` (a null SMTP/LMTP
server), both with `-L` for LMTP, from the Debian package unpacked (not installed) under
reports/benchmarks/postfix/ on first use (`apt-get download postfix && dpkg -x`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from imapwright.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
POSTFIX = ROOT / "reports" / "benchmarks" / "postfix"


def postfix_tool(name: str) -> tuple[Path, dict[str, str]]:
    """The binary `name` (smtp-source, smtp-sink) and the environment it runs in (its libraries
    sit beside it)."""
    binary = POSTFIX / "usr" / "sbin" / name
    if not binary.exists():
        POSTFIX.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["apt-get", "download", "postfix"], cwd=POSTFIX, capture_output=True, text=True)
        debs = sorted(POSTFIX.glob("postfix_*.deb"))
        if res.returncode != 0 or not debs:
            raise UserError(f"apt-get download postfix failed: {res.stderr.strip().splitlines()[-1:]}")
        subprocess.run(["dpkg", "-x", str(debs[-1]), str(POSTFIX)], check=True)
    return binary, {**os.environ, "LD_LIBRARY_PATH": str(POSTFIX / "usr" / "lib" / "postfix")}
