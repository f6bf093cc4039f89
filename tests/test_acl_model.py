"""The RFC 4314 reference model, checked against the book's examples and recorded server output."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imapwright.models.acl import (ACL, CYRUS, DOVECOT, BadRights, effective_rights, new_account_acl,
                                   new_child_acl, new_toplevel_acl)


def rights(text: str, profile=CYRUS) -> frozenset:
    return profile.parse(text)


# -- parsing and rendering: recorded SETACL x GETACL pairs from cyrus:3.6 and dovecot:2.3 ---------
RECORDED = [  # (SETACL rights, GETACL shows) - identical on both servers up to letter order
    ("c", "kxc"), ("d", "ted"), ("k", "kc"), ("x", "xc"), ("t", "td"), ("e", "ed"), ("kx", "kxc"),
    ("te", "ted"), ("xte", "xtecd"), ("lr", "lr"), ("w", "w"), ("a", "a"), ("cd", "kxtecd"),
]


@pytest.mark.parametrize("profile", [CYRUS, DOVECOT], ids=["cyrus", "dovecot"])
@pytest.mark.parametrize("given_rights,shown", RECORDED)
def test_legacy_rights_expand_and_are_reported_back(profile, given_rights, shown):
    assert set(profile.render(profile.parse(given_rights))) == set(shown)


def test_cyrus_renders_in_its_own_order():
    assert CYRUS.render(rights("nadcetxkpiwsrl")) == "lrswipkxtecdan"
    assert CYRUS.render(rights("9l")) == "l9"


def test_unknown_letters_are_bad():
    with pytest.raises(BadRights, match="'Q'"):
        CYRUS.parse("lrQ")
    with pytest.raises(BadRights, match="'n'"):
        DOVECOT.parse("n")  # Dovecot has no annotation right


RECORDED_MODIFIERS = [  # from "lr": each step applied in turn; GETACL after it (cyrus:3.6)
    ("+w", "lrw"), ("-r", "lw"), ("+c", "lwkxc"), ("-x", "lwkc"), ("+d", "lwktecd"), ("-t", "lwkecd"),
]


def test_setacl_modifiers_follow_the_recorded_sequence():
    acl = ACL(CYRUS, {"bob": rights("lr")})
    for mod, shown in RECORDED_MODIFIERS:
        acl.setacl("bob", mod)
        assert set(acl.rendered()["bob"]) == set(shown), mod


def test_empty_rights_remove_the_entry_on_cyrus_but_not_dovecot():
    for profile, kept in ((CYRUS, False), (DOVECOT, True)):
        acl = ACL(profile, {"bob": profile.parse("lr")})
        acl.setacl("bob", "")
        assert ("bob" in acl.entries) is kept


# -- effective rights: the book's examples (MISSION.md, Access control lists) ---------------------
def test_anyone_lrs_minus_anonymous_s_leaves_anonymous_lr():
    acl = ACL(CYRUS, {"anyone": rights("lrs"), "-anonymous": rights("s")})
    assert effective_rights(acl, "anonymous", anonymous=True) == rights("lr")
    assert effective_rights(acl, "bob") == rights("lrs")


def test_group_rights_add_to_user_rights():
    acl = ACL(CYRUS, {"mary": rights("lrs"), "group:helpdesk": rights("lrsp")})
    assert effective_rights(acl, "mary", groups=["helpdesk"]) == rights("lrsp")
    assert effective_rights(acl, "mary") == rights("lrs")


def test_johndoe_shares_grant_proposal_read_only_with_annsmith():
    acl = new_account_acl(CYRUS, "johndoe")
    acl.setacl("annsmith", "read" and CYRUS.render(CYRUS.expand_abbreviation("read")))
    assert effective_rights(acl, "annsmith") == rights("lrs")
    assert effective_rights(acl, "johndoe") == CYRUS.all_rights()


def test_helpdesk_writes_and_its_coordinator_has_all():
    acl = ACL(CYRUS, {"group:helpdesk": CYRUS.expand_abbreviation("write"), "boss": CYRUS.expand_abbreviation("all")})
    assert "a" not in effective_rights(acl, "mary", groups=["helpdesk"])
    assert {"w", "i", "x", "t", "e"} <= effective_rights(acl, "mary", groups=["helpdesk"])
    # cyradm's "all" is every RFC 4314 right; Cyrus's own n (annotations) is not in it.
    assert effective_rights(acl, "boss") == CYRUS.all_rights() - {"n"}


def test_list_archive_readable_by_anonymous():
    acl = ACL(CYRUS, {"anonymous": rights("lrs")})
    assert effective_rights(acl, "anonymous", anonymous=True) == rights("lrs")
    assert effective_rights(acl, "bob") == frozenset()


def test_announce_folders_readable_by_anyone_postable_by_two():
    acl = ACL(CYRUS, {"anyone": rights("lrs"), "johndoe": rights("lrsp"), "msmith": rights("lrsp")})
    assert "p" in effective_rights(acl, "johndoe") and "p" in effective_rights(acl, "msmith")
    assert effective_rights(acl, "carol") == rights("lrs")


def test_negative_group_entry_removes_rights_granted_through_another_group():
    acl = ACL(CYRUS, {"group:staff": rights("lrswi"), "-group:interns": rights("wi")})
    assert effective_rights(acl, "ian", groups=["staff", "interns"]) == rights("lrs")
    assert effective_rights(acl, "sam", groups=["staff"]) == rights("lrswi")


def test_negative_user_entry_beats_anyone_and_groups():
    acl = ACL(CYRUS, {"anyone": rights("lr"), "group:g": rights("w"), "-bob": rights("rw")})
    assert effective_rights(acl, "bob", groups=["g"]) == rights("l")


def test_implicit_rights_of_owner_and_admin_on_cyrus():
    acl = ACL(CYRUS, {})
    assert effective_rights(acl, "owner", owner=True) == rights("lkxan")
    assert effective_rights(acl, "cyrus", admin=True) == rights("la")


@pytest.mark.parametrize("word,letters", [("none", ""), ("read", "lrs"), ("post", "lrsp"), ("append", "lrsip"),
                                          ("write", "lrswipkxtecd"), ("all", "lrswipkxtecda")])
def test_cyradm_abbreviations(word, letters):
    # As cyradm sets them on Cyrus 3.2-3.12 (suites/cyradm/test_rights_words.py): no n.
    assert CYRUS.expand_abbreviation(word) == rights(letters)


def test_defaults_owner_child_and_toplevel():
    account = new_account_acl(CYRUS, "bob")
    assert account.rendered() == {"bob": "lrswipkxtecdan"}
    child = new_child_acl(account)
    account.setacl("carol", "lr")
    assert "carol" not in child.entries  # a copy at creation time, not a link
    assert new_toplevel_acl(CYRUS).rendered() == {"anyone": "lrs"}


# -- algebra properties -----------------------------------------------------------------------------
letters = st.text(alphabet="lrswipkxtecdan", max_size=8)


@given(letters, letters)
def test_plus_then_minus_of_disjoint_rights_restores(start, extra):
    acl = ACL(CYRUS, {"u": CYRUS.parse(start)})
    added = CYRUS.parse(extra) - CYRUS.parse(start)
    acl.setacl("u", "+" + "".join(sorted(added)))
    acl.setacl("u", "-" + "".join(sorted(added)))
    assert acl.entries.get("u", frozenset()) == CYRUS.parse(start)


@given(letters)
def test_render_then_parse_reported_is_identity(text):
    r = CYRUS.parse(text)
    assert CYRUS.parse_reported(CYRUS.render(r)) == r


def test_reported_legacy_letters_carry_no_rights():
    # GETACL "ed" means e alone (d echoes e); as SETACL input "ed" would grant t too.
    assert CYRUS.parse_reported("ed") == rights("e")
    assert CYRUS.parse("ed") == rights("te")


@given(st.dictionaries(st.sampled_from(["bob", "anyone", "-bob", "group:g", "-group:g"]), letters), letters)
def test_negative_entries_only_ever_remove(entries, _):
    acl = ACL(CYRUS, {k: CYRUS.parse(v) for k, v in entries.items()})
    positive_only = ACL(CYRUS, {k: v for k, v in acl.entries.items() if not k.startswith("-")})
    assert effective_rights(acl, "bob", ["g"]) <= effective_rights(positive_only, "bob", ["g"])


def test_myrights_needs_one_of_lrikxa():
    from imapwright.models.acl import myrights_answered
    assert myrights_answered(rights("t")) is False
    assert all(myrights_answered(rights(r)) for r in "lrikxa")


def test_dovecot_user_entry_overrides_anyone_and_groups():
    acl = ACL(DOVECOT, {"anyone": DOVECOT.parse("lrsw"), "$team": DOVECOT.parse("lrswi"), "bob": DOVECOT.parse("l")})
    assert effective_rights(acl, "bob", ["team"]) == DOVECOT.parse("l")
    assert effective_rights(acl, "carol", ["team"]) == DOVECOT.parse("lrswi")
    assert effective_rights(acl, "dave") == DOVECOT.parse("lrsw")
    # Cyrus takes the union of the same entries.
    cy = ACL(CYRUS, {"anyone": CYRUS.parse("lrsw"), "bob": CYRUS.parse("l")})
    assert effective_rights(cy, "bob") == CYRUS.parse("lrsw")


def test_listrights_recorded_answers():
    from imapwright.models.acl import listrights, parse_listrights
    # Recorded from cyrus:3.6 and dovecot:2.3 (LISTRIGHTS user.bob.x IDENTIFIER).
    cy_owner = parse_listrights(CYRUS, 'user.bob.x bob lkxcan r s w i p t e d 0 1 2 3 4 5 6 7 8 9')
    cy_other = parse_listrights(CYRUS, 'user.bob.x carol "" l r s w i p k x t e c d a n 0 1 2 3 4 5 6 7 8 9')
    dv_owner = parse_listrights(DOVECOT, 'user.bob.x bob "" l r w s t p i e k x a c d')
    assert cy_owner == listrights(CYRUS, owner=True)
    assert cy_other == listrights(CYRUS, owner=False)
    assert dv_owner == listrights(DOVECOT, owner=True) == listrights(DOVECOT, owner=False)


def test_listrights_with_a_quoted_mailbox_name():
    # Seen on Dovecot holding a migrated folder "s!me f\u00fcr" (quoted, spaces inside).
    from imapwright.models.acl import parse_listrights

    req, opt = parse_listrights(DOVECOT, '"user.bob.s_041me f&APw-r \\"x\\"" admin "" l r w s t p i e k x a c d')
    assert req == frozenset() and "a" in opt and "l" in opt
