"""The folder-tree reference model: renames move subtrees, refusals, and the differences it reports."""

import pytest

from imapwright.models.hierarchy import HierarchyModel, depth, digest, parent_of


def tree(*folders):
    model = HierarchyModel()
    for folder in folders:
        model.create(folder)
    return model


def test_names_parents_and_depth():
    assert parent_of("a.b.c") == "a.b" and parent_of("a") == ""
    assert [depth(f) for f in ("", "a", "a.b c", "a.b.c.d")] == [0, 1, 2, 4]


def test_create_needs_an_existing_parent_and_a_new_name():
    model = tree("a")
    assert model.can_create("a.b") and not model.can_create("a") and not model.can_create("x.y")
    assert not model.can_create("")


def test_rename_moves_the_subtree_with_its_messages():
    model = tree("a", "a.b", "a.b.c", "ab")
    key = model.store("a.b.c", b"deep", frozenset({"\\Flagged"}))
    model.rename("a", "ab.z")
    assert sorted(model.folders) == ["", "ab", "ab.z", "ab.z.b", "ab.z.b.c"]
    assert model.folders["ab.z.b.c"] == {key: frozenset({"\\Flagged"})}


def test_rename_does_not_take_a_sibling_sharing_the_prefix():
    model = tree("a", "ab")
    model.rename("a", "c")
    assert sorted(model.folders) == ["", "ab", "c"]


@pytest.mark.parametrize("old,new", [("a", "ab"), ("a", "a.b.x"), ("a", "missing.x"), ("", "x"), ("nope", "x")])
def test_refused_renames(old, new):
    model = tree("a", "a.b", "ab")
    assert not model.can_rename(old, new)
    with pytest.raises(ValueError):
        model.rename(old, new)


def test_height_below():
    model = tree("a", "a.b", "a.b.c", "d")
    assert (model.height_below("a"), model.height_below("a.b.c"), model.height_below("d")) == (2, 0, 0)


def test_differences_name_a_lost_child_a_lost_message_and_a_changed_flag():
    model = tree("a", "a.b")
    one = model.store("", b"one", frozenset({"\\Flagged"}))
    two = model.store("a", b"two")
    observed = {"": {one: frozenset()}, "a": {}}
    assert model.differences(observed) == [
        f"INBOX: message {one[:12]} flags [], expected ['\\\\Flagged']",
        f"a: message {two[:12]} lost",
        "a.b: missing on the server",
    ]


def test_differences_of_an_identical_tree_are_none():
    model = tree("a")
    key = model.store("a", b"x", frozenset({"$Label1"}))
    assert model.differences({"": {}, "a": {key: frozenset({"$Label1"})}}) == []
    assert digest(b"x") == key


def test_identical_messages_are_refused():
    model = tree()
    model.store("", b"same")
    with pytest.raises(ValueError):
        model.store("", b"same")
