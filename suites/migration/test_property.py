"""Hypothesis: random messages in random folder trees survive append and revert unchanged."""

import itertools
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from imapwright.admin.migrate import EVERYTHING, apply_user, compare_folder, make_plan, revert_user, server_folders
from imapwright.mailstore.message import StoredMessage
from imapwright.pytest_plugin.machines import machine_settings

from .source import write_user

_count = itertools.count()
FLAGS = st.frozensets(st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "$Label1", "Later"]))
LINE = st.one_of(st.sampled_from(["From me", ">From you", "", "From", ".", "..", "Status: RO"]),
                 st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=40))
BODY = st.lists(LINE, max_size=6).map(lambda lines: "\n".join(lines).encode() + b"\n")
# Past dates only: migrated mail is old, and Dovecot 2.3 replaces an APPEND date in the future
# with the current time (seen with 2027-01-01), which is not what this test is about.
DATES = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2025, 1, 1),
                     timezones=st.just(timezone.utc)).map(lambda d: d.replace(microsecond=0))
MESSAGE = st.builds(lambda n, body, flags, when: StoredMessage(
    f"Subject: random {n}\nMessage-ID: <r{n}@imapwright.test>\n\n".encode() + body, flags, when),
    st.integers(0, 10**9), BODY, FLAGS, DATES)
NAME = st.text(st.sampled_from("ab Z!&*._-ü"), min_size=1, max_size=8).filter(lambda s: not s.startswith(".") and s.strip())
TREE = st.dictionaries(st.lists(NAME, min_size=1, max_size=3).map("/".join), st.lists(MESSAGE, max_size=4), max_size=3)


@machine_settings("migration_property", examples=8, steps=1)
@given(inbox=st.lists(MESSAGE, max_size=4), tree=TREE)
def test_random_trees_survive_append_and_revert(server, users, tmp_path_factory, inbox, tree):
    # A folder and a directory cannot share a name on disk: drop paths that are prefixes of others.
    tree = {k: v for k, v in tree.items() if not any(o.startswith(k + "/") for o in tree)}
    user = users.create(f"p{next(_count)}").name
    root = tmp_path_factory.mktemp("src")
    write_user(root / user, {"INBOX": inbox, **tree}, uw_header=False)
    [plan] = make_plan(root, [user]).users
    apply_user(server, plan, "append")
    on_server = server_folders(server, user)
    for fp in plan.folders:
        assert compare_folder(fp.name, fp.messages, on_server.get(fp.name, []), EVERYTHING) == []
    revert_user(server, user, root / "back")
    [back] = make_plan(root / "back", [user]).users
    reverted = {fp.name: fp.messages for fp in back.folders}
    for fp in plan.folders:
        assert compare_folder(fp.name, fp.messages, reverted.get(fp.name, []), EVERYTHING) == []
