"""The mixed scenario's state mix (Dovecot imaptest's idea): STATE=WEIGHT pairs. Kept free of
Locust imports so the CLI can check a mix before starting anything."""

from __future__ import annotations

from ..errors import UserError

STATES = ("list", "select", "fetch", "fetch2", "search", "store", "append", "expunge", "idle", "logout")
# imaptest's default state mix as weights (its states table: LIST 50, SELECT 100, FETCH 100,
# FETCH2 100, SEARCH 50, STORE 50, APPEND 100, EXPUNGE 100, LOGOUT 100; IDLE off).
DEFAULT_MIX = "list=50,select=100,fetch=100,fetch2=100,search=50,store=50,append=100,expunge=100,idle=0,logout=100"


def parse_mix(text: str) -> dict[str, int]:
    mix = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = (x.strip() for x in item.partition("="))
        if not sep or not weight.isdigit() or name not in STATES:
            raise UserError(f"mix item {item!r}: expected STATE=WEIGHT with STATE one of {', '.join(STATES)}")
        mix[name] = int(weight)
    if not any(mix.values()):
        raise UserError(f"mix {text!r}: no state has a weight above 0")
    return mix


def check_mix(text: str) -> str:
    parse_mix(text)
    return text
