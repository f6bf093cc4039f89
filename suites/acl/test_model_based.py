"""Model-based: random SETACL (with +/- and negative identifiers), DELETEACL and group changes;
after every step GETACL, MYRIGHTS and a real read must agree with the RFC 4314 model.

CI runs a fixed derandomized sequence; IMAPWRIGHT_ACL_RANDOM=1 draws new ones. A failure prints
the shrunk steps as the IMAP transcript that reproduces them.
"""


from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from imapwright.models.acl import effective_rights, listrights, myrights_answered, parse_listrights
from imapwright.protocol.imap import command, quote
from imapwright.pytest_plugin.machines import machine_settings

from .scene import getacl, message, myrights

FOLDERS = ("alpha", "beta")
LETTERS = "lrswipkxtea"


def machine_for(server, users):
    owner = users.create("owner")
    people = [users.create(f"p{i}") for i in range(3)]
    profile_letters = LETTERS
    examples = iter(range(10_000))

    class ACLMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            from .scene import Scene

            self.profile = Scene.profile_of(server)
            # A group and mailboxes of this example's own: nothing left by earlier examples leaks in.
            n = next(examples)
            self.group = f"{users.prefix}team{n}"
            server.create_group(self.group)
            self.groups = {p.name: [] for p in people}
            self.transcript = []
            self.admin = server.login(server.admin_user, server.admin_password)
            o = server.login(owner.name, owner.password)
            self.boxes = {}
            for folder in (f"{f}{n}" for f in FOLDERS):
                own = server.mailbox_name(owner.name, folder, owner.name)
                o.create_folder(own)
                o.append(own, message(folder))
                self.boxes[server.mailbox_name(owner.name, folder)] = folder
            o.logout()
            self.model = {box: getacl(server, box) for box in self.boxes}
            # A baseline everyone holds, so that negative entries drawn later have rights to take away.
            for box in self.boxes:
                assert self._send("SETACL", quote(box), "anyone", "lrsw") == "OK"
                self.model[box].setacl("anyone", "lrsw")

        def teardown(self):
            if hasattr(self, "admin"):
                self.admin.logout()

        def _send(self, *args):
            typ, data = command(self.admin, *args)
            self.transcript.append(f"C: {' '.join(args)}\nS: {typ}")
            note(f"C: {' '.join(args)}  -> {typ}")
            return typ

        def identifiers(self):
            return [p.name for p in people] + [f"-{p.name}" for p in people[:2]] + [
                "anyone", self.profile.group(self.group), f"-{self.profile.group(self.group)}"]

        @rule(data=st.data(), mod=st.sampled_from(["", "+", "-"]),
              rights=st.sets(st.sampled_from(profile_letters), min_size=1, max_size=5))
        def setacl(self, data, mod, rights):
            box = data.draw(st.sampled_from(sorted(self.boxes)))
            ident = data.draw(st.sampled_from(self.identifiers()))
            text = mod + "".join(sorted(rights))
            assert self._send("SETACL", quote(box), quote(ident), quote(text)) == "OK"
            self.model[box].setacl(ident, text)

        @rule(data=st.data())
        def deleteacl(self, data):
            box = data.draw(st.sampled_from(sorted(self.boxes)))
            ident = data.draw(st.sampled_from(self.identifiers()))
            assert self._send("DELETEACL", quote(box), quote(ident)) == "OK"
            self.model[box].deleteacl(ident)

        @rule(index=st.integers(0, len(people) - 1), member=st.booleans())
        def membership(self, index, member):
            person = people[index]
            self.groups[person.name] = [self.group] if member else []
            note(f"# {person.name} {'joins' if member else 'leaves'} group {self.group}")
            server.set_groups(person.name, self.groups[person.name])

        @invariant()
        def getacl_matches_model(self):
            if not hasattr(self, "model"):
                return
            for box, acl in self.model.items():
                shown = getacl(server, box)
                assert shown.rendered() == acl.rendered(), f"GETACL {box}"

        @invariant()
        def listrights_match_model(self):
            if not hasattr(self, "model"):
                return
            box = sorted(self.boxes)[0]
            for ident, is_owner in ((owner.name, True), (people[0].name, False)):
                typ, data = command(self.admin, "LISTRIGHTS", quote(box), quote(ident))
                assert typ == "OK"
                shown = parse_listrights(self.profile, data[0].decode())
                assert shown == listrights(self.profile, owner=is_owner), f"LISTRIGHTS {ident}"

        @invariant()
        def myrights_and_reads_match_model(self):
            if not hasattr(self, "model"):
                return
            for person in people:
                client = server.login(person.name, person.password)
                try:
                    for box, folder in self.boxes.items():
                        expected = effective_rights(self.model[box], person.name, self.groups[person.name])
                        name = server.mailbox_name(owner.name, folder, person.name)
                        shown = myrights(self.profile, client, name)
                        if myrights_answered(expected, self.profile):
                            assert shown == expected, f"MYRIGHTS {person.name} {box}"
                        else:  # RFC 4314 section 4: without l r i k x a, MYRIGHTS is refused
                            assert shown is None, f"MYRIGHTS {person.name} {box} answered without l/r/i/k/x/a"
                        can_read = command(client, "EXAMINE", quote(name))[0] == "OK"
                        command(client, "CLOSE")
                        assert can_read == ("r" in expected), f"EXAMINE {person.name} {box}"
                finally:
                    client.logout()

    return ACLMachine


def test_acl_state_machine_agrees_with_model(server, users):
    machine = machine_for(server, users)
    run_state_machine_as_test(machine, settings=machine_settings("acl", examples=10, steps=10))
