"""Model-based: random folder trees (up to four levels, awkward names) with messages and flags;
random subtrees renamed. After every step the server's whole tree, with each message's content
digest and flags, equals the hierarchy model (`imapwright/models/hierarchy.py`).

CI runs a fixed derandomized sequence; IMAPWRIGHT_RENAME_RANDOM=1 draws new ones. A failure prints
the shrunk steps as the IMAP commands that reproduce them.
"""

from datetime import datetime, timezone

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from imapwright.stores.tree import read_tree
from imapwright.models.hierarchy import SEP, HierarchyModel, depth, digest
from imapwright.protocol.imap import command, quote
from imapwright.pytest_plugin.machines import machine_settings

MAX_DEPTH = 4
# Few names, so that collisions (refused renames and creates) are drawn too.
NAMES = st.sampled_from(["a", "b", "with space", "caf\u00e9", "\u00fcber-\u00e5", "x&y", "_1", "Projects"])
FLAG_SETS = st.sets(st.sampled_from(["\\Seen", "\\Flagged", "\\Answered", "$Label1"]), max_size=3)
PICK = st.integers(0, 1000)


def machine_for(server, users):
    examples = iter(range(10_000))

    class RenameMachine(RuleBasedStateMachine):
        @initialize(tree=st.lists(st.tuples(PICK, NAMES), min_size=3, max_size=9))
        def setup(self, tree):
            """A random starting tree, one message in each new folder: renames then move real subtrees."""
            self.user = users.create(f"tree{next(examples)}")
            self.client = server.login(self.user.name, self.user.password)
            self.model = HierarchyModel()
            self.sent = 0
            for parent, name in tree:
                self.create(parent, name)
                if self.created:
                    self._append_to(self.created, {"\\Flagged"})

        def teardown(self):
            if hasattr(self, "client"):
                self.client.logout()

        def own(self, folder):
            return server.mailbox_name(self.user.name, folder, self.user.name)

        def pick(self, index, folders):
            folders = sorted(folders)
            return folders[index % len(folders)] if folders else None

        def _send(self, name, *folders):
            args = [quote(f) for f in folders]  # quote() writes modified UTF-7 (RFC 3501 5.1.3)
            typ, data = command(self.client, name, *args)
            note(f"{name} {' '.join(args)} -> {typ}")
            return typ

        @rule(parent=PICK, name=NAMES)
        def create(self, parent, name):
            top = self.pick(parent, [f for f in self.model.folders if depth(f) < MAX_DEPTH])
            folder = f"{top}{SEP}{name}" if top else name
            expected = self.model.can_create(folder)
            assert (self._send("CREATE", self.own(folder)) == "OK") == expected
            self.created = folder if expected else None
            if expected:
                self.model.create(folder)

        @rule(box=PICK, flags=FLAG_SETS)
        def append(self, box, flags):
            self._append_to(self.pick(box, self.model.folders), flags)

        def _append_to(self, folder, flags):
            self.sent += 1
            body = f"Subject: tree {self.sent}\r\nMessage-ID: <{self.sent}.{self.user.name}@tree.test>\r\n\r\n{self.sent}\r\n"
            self.client.append(self.own(folder), body.encode(), [f.encode() for f in flags],
                               datetime(2026, 1, 1, tzinfo=timezone.utc))
            note(f"APPEND {self.own(folder)!r} ({' '.join(sorted(flags))}) message {self.sent}")
            self.model.store(folder, body.encode(), frozenset(flags))

        @rule(box=PICK, flags=FLAG_SETS)
        def replace_flags(self, box, flags):
            folder = self.pick(box, [f for f, msgs in self.model.folders.items() if msgs])
            if folder is None:
                return
            self.client.select_folder(self.own(folder))
            uid = min(self.client.search())
            body = self.client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
            self.client.set_flags([uid], [f.encode() for f in flags])
            self.client.unselect_folder()
            note(f"STORE {self.own(folder)!r} uid {uid} FLAGS ({' '.join(sorted(flags))})")
            self.model.set_flags(folder, digest(body), frozenset(flags))

        @rule(source=PICK, parent=PICK, name=NAMES)
        def rename(self, source, parent, name):
            old = self.pick(source, [f for f in self.model.folders if f])
            if old is None:
                return
            fits = [f for f in self.model.folders
                    if depth(f) + 1 + self.model.height_below(old) <= MAX_DEPTH and not (f + SEP).startswith(old + SEP)]
            top = self.pick(parent, fits)
            if top is None:
                return
            new = f"{top}{SEP}{name}" if top else name
            expected = self.model.can_rename(old, new)
            assert (self._send("RENAME", self.own(old), self.own(new)) == "OK") == expected
            event(f"RENAME {'of a subtree' if self.model.height_below(old) else 'of a leaf'} "
                  f"{'done' if expected else 'refused'}")
            if expected:
                self.model.rename(old, new)

        @invariant()
        def server_tree_matches_model(self):
            if hasattr(self, "client"):
                assert self.model.differences(read_tree(server, self.client, self.user.name)) == []
                # STATUS of every folder, after the random renames and flag changes, counts what the
                # model holds (issue 32: a status cache can go stale across a rename).
                for folder, messages in self.model.folders.items():
                    status = self.client.folder_status(self.own(folder), [b"MESSAGES", b"UNSEEN"])
                    unseen = sum("\\Seen" not in flags for flags in messages.values())
                    assert (status[b"MESSAGES"], status[b"UNSEEN"]) == (len(messages), unseen), (folder, status)

    return RenameMachine


def test_random_renames_keep_tree_and_messages(server, users):
    run_state_machine_as_test(machine_for(server, users), settings=machine_settings("rename", examples=6, steps=14))
