"""cyradm against Dovecot: which of the chapter's commands work there, as recorded in
fixtures/cyradm/dovecot.toml; a command recorded as working is checked by its effect over IMAP."""

import re
import tomllib
from pathlib import Path

import pytest

from imapwright.admin.cyradm import run_cyradm
from imapwright.protocol.imap import list_names

pytestmark = [pytest.mark.requires("dovecot"), pytest.mark.destructive]
RECORD = Path(__file__).resolve().parents[2] / "fixtures" / "cyradm" / "dovecot.toml"


def _effect(admin, user: str, command: str) -> bool:
    """What a working command leaves behind, seen over IMAP."""
    verb, *args = command.split()
    if verb == "cm":
        return list_names(admin, args[0]) == [args[0]]
    if verb == "sam":
        return dict((i.decode(), r.decode()) for i, r in admin.getacl(args[0])).get(args[1]) == "lrs"
    if verb == "dam":
        return args[1].encode() not in dict(admin.getacl(args[0]))
    if verb == "renm":
        return list_names(admin, args[1]) == [args[1]] and not list_names(admin, args[0])
    if verb == "dm":
        return not list_names(admin, args[0])
    raise AssertionError(f"no effect check for {verb}")


def test_cyradm_commands_on_dovecot_as_recorded(server, users, admin_imap):
    data = tomllib.loads(RECORD.read_text())
    version = ".".join(map(str, server.version_tuple[:2]))
    record = {**data["dovecot"], **data.get("versions", {}).get(version, {})}
    user = users.create("cy")
    differ = []
    for template, outcome in record.items():  # in order: later commands use earlier results
        command = template.format(user=user.mailbox)
        [printed] = run_cyradm(server, [command]).outputs
        printed = re.sub(r" \(\d+\.\d+ \+ \d+\.\d+ secs\)\.?", "", printed)
        if outcome == "works":
            if printed or not _effect(admin_imap, user.name, command):
                differ.append(f"{command}: recorded as working; printed {printed!r}")
        elif not re.search(outcome, printed, re.S):
            differ.append(f"{command}: recorded {outcome!r}, printed {printed!r}")
    assert not differ, differ
