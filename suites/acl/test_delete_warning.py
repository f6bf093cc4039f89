"""The book's warning: "d on a shared folder also lets a user delete the folder itself".

RFC 4314 split the old d into t (flag \\Deleted), e (expunge) and x (delete the mailbox). Each
server's reading of the legacy d decides whether the warning still holds; measured here.
"""

from .operations import delete_mailbox, delete_messages
from .scene import Scene


def test_legacy_d_deletes_messages(server, users):
    scene = Scene.build(server, users)
    scene.grant(scene.profile.parse("lrd"))
    assert delete_messages(scene)


def test_legacy_d_no_longer_deletes_the_folder(server, users):
    # Cyrus and Dovecot map d to t and e only: the book's warning no longer applies.
    scene = Scene.build(server, users)
    scene.grant(scene.profile.parse("lrd"))
    assert not delete_mailbox(scene)
    assert scene.exists(scene.mailbox)


def test_t_and_e_delete_messages_but_not_the_folder(server, users):
    scene = Scene.build(server, users)
    scene.grant("lrte")
    assert delete_messages(scene)
    assert not delete_mailbox(scene)


def test_x_deletes_the_folder_but_not_single_messages(server, users):
    scene = Scene.build(server, users)
    scene.grant("lrx")
    assert not delete_messages(scene)
    assert delete_mailbox(scene)
