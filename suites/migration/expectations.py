"""fixtures/migration/methods.toml: what each migration method carries, with per-server entries
where servers differ (each with its reason and reference)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

FILE = Path(__file__).resolve().parents[2] / "fixtures" / "migration" / "methods.toml"
KEYS = ("lost", "extra", "flags", "dates", "headers")


@dataclass
class Expected:
    values: dict
    reason: str


def expected_carry(method: str, server) -> Expected:
    """The method's entry, overridden by `servers.FAMILY` and then `servers."FAMILY:VERSION"`."""
    entry = tomllib.loads(FILE.read_text())[method]
    values = {k: entry[k] for k in KEYS}
    reasons = [entry.get("reason", "")]
    for key in (server.spec.family, server.spec.name) if getattr(server, "spec", None) else (server.family_name,):
        override = entry.get("servers", {}).get(key)
        if override:
            values.update({k: override[k] for k in KEYS if k in override})
            reasons.append(f"{key}: {override['reason']} [{override['reference']}]")
    values["lost"] = sorted(values["lost"])
    return Expected(values, "; ".join(r for r in reasons if r))
