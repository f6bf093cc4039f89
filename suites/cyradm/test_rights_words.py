"""cyradm's rights words (Table 9-3) as today's cyradm expands them, per Cyrus version, against the
record in fixtures/cyradm/abbreviations.toml and the book."""

import json
import tomllib
from pathlib import Path

import pytest

from imapwright.admin.cyradm import run_cyradm
from imapwright.models.acl import PROFILES, ACL

pytestmark = [pytest.mark.requires("cyrus", "exec"), pytest.mark.destructive]
RECORD = Path(__file__).resolve().parents[2] / "fixtures" / "cyradm" / "abbreviations.toml"
WORDS = ("none", "read", "post", "append", "write", "all")


@pytest.mark.parametrize("word", WORDS)
def test_rights_word_expands_as_recorded(server, admin_imap, users, record_property, word):
    record = tomllib.loads(RECORD.read_text())
    profile = PROFILES[server.family_name]
    box = f"{users.prefix}words"
    run = run_cyradm(server, [f"cm {box}", f"sam {box} anyone {word}"])
    assert not run.outputs[1], run.outputs[1]
    acl = ACL.parse_entries(profile, [(i.decode(), r.decode()) for i, r in admin_imap.getacl(box)])
    measured = profile.render(acl.entries.get("anyone", frozenset()))
    book = record["book"][word]
    version = ".".join(map(str, server.version_tuple[:2]))
    record_property("table:cyradm rights words", json.dumps(
        {"row": word, "cell": measured or "(none)",
         "detail": f"book: {book or '(none)'}" + ("" if set(measured) == set(book) else " (differs: a finding)")}))
    recorded = record.get("expands", {}).get(version, {}).get(word)
    assert recorded is not None, f"no record for Cyrus {version}: measured {word} = {measured!r}; add it to {RECORD.name}"
    assert set(measured) == set(recorded), f"{word}: recorded {recorded!r} for {version}, measured {measured!r}"
