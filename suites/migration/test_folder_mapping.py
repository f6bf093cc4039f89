"""The book's bsd2cyrus rules on an awkward tree: names with spaces, ! & * . and non-ASCII map to
mailboxes (special characters as _ + octal), nested directories become hierarchy, a Maildir is a
folder, and hidden, empty, compressed, binary and non-mail files are skipped with their reason."""

from imapwright.admin.migrate import apply_user, make_plan, server_folders, verify_user
from imapwright.mailstore.corpus import awkward_messages, write_awkward_tree

SKIPPED = {".mailboxlist": "hidden", "empty": "empty", "old.gz": "compressed (gzip)", "photo.jpg": "binary",
           "notes.txt": "not an mbox (first line is not a From_ line), nor one message (no header fields)"}


def test_awkward_tree_maps_and_skips_like_the_book(server, users, tmp_path):
    user = users.create("tree").name
    expected = write_awkward_tree(tmp_path / "src" / user, awkward_messages(big=False))
    plan = make_plan(tmp_path / "src", [user])
    assert plan.problems == []
    [user_plan] = plan.users
    assert {fp.name: len(fp.messages) for fp in user_plan.folders} == expected
    assert {s.path.name: s.reason for s in user_plan.skipped} == SKIPPED

    apply_user(server, user_plan, "append")
    on_server = {name: len(messages) for name, messages in server_folders(server, user).items()}
    # Levels of the hierarchy the server made on the way (archive, archive.2023) stay empty.
    assert {name: n for name, n in on_server.items() if name in expected or n} == expected
    assert verify_user(server, user_plan) == []
