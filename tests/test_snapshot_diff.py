"""The account snapshot comparison names exactly what changed."""

import copy

from imapwright.stores.snapshot import differences

BASE = {"bob": {"subscribed": ["", "a"], "quota": {"user.bob STORAGE": [3, 100]}, "folders": {
    "": {"uidvalidity": 7, "acl": {"bob": "aiklprstwx"}, "quota": ["user.bob"],
         "messages": {"d1" * 32: [["\\Seen"], "2025-06-01T12:00:00", 1]}},
    "a": {"uidvalidity": 8, "acl": {"bob": "aiklprstwx", "fred": "lr"}, "quota": ["user.bob"],
          "messages": {"d2" * 32: [[], "2025-06-02T12:00:00", 1]}},
}}}


def test_identical_snapshots_have_no_differences():
    assert differences(BASE, copy.deepcopy(BASE)) == []


def test_one_flag_one_acl_entry_and_one_quota_limit_are_reported_exactly():
    after = copy.deepcopy(BASE)
    after["bob"]["folders"][""]["messages"]["d1" * 32][0] = ["\\Flagged", "\\Seen"]
    after["bob"]["folders"]["a"]["acl"]["fred"] = "lrs"
    after["bob"]["quota"]["user.bob STORAGE"] = [3, 200]
    assert differences(BASE, after) == [
        "bob: quota user.bob STORAGE (usage, limit) [3, 100] -> [3, 200]",
        f"bob/INBOX: message {'d1' * 6} (dated 2025-06-01) flags ['\\\\Seen'] -> ['\\\\Flagged', '\\\\Seen']",
        "bob/a: acl fred [lr] -> [lrs]",
    ]


def test_lost_folder_lost_message_and_missing_account():
    after = copy.deepcopy(BASE)
    del after["bob"]["folders"]["a"]
    after["bob"]["folders"][""]["messages"].clear()
    after["ann"] = after["bob"]
    assert differences(BASE, after) == [
        "ann: account appeared", f"bob/INBOX: message {'d1' * 6} (dated 2025-06-01) lost", "bob/a: folder missing"]


def test_a_folder_leaving_its_quota_root_and_a_sharers_view():
    before = copy.deepcopy(BASE)
    before["bob"]["views"] = {"user.ann.work": {"3": ["\\Seen"]}}
    after = copy.deepcopy(before)
    after["bob"]["folders"]["a"]["quota"] = []
    after["bob"]["views"]["user.ann.work"]["3"] = []
    assert differences(before, after) == [
        "bob/a: quota roots ['user.bob'] -> []",
        "bob sees user.ann.work: UID 3 flags ['\\\\Seen'] -> []",
    ]


def test_a_folder_a_sharer_may_list_but_not_read_is_compared_as_such():
    before = copy.deepcopy(BASE)
    before["bob"]["views"] = {"user.ann.sent": None, "user.cat.sent": None, "user.dan.sent": {"1": []}}
    after = copy.deepcopy(before)
    after["bob"]["views"]["user.ann.sent"] = {"1": []}  # a negative entry stopped working
    after["bob"]["views"]["user.dan.sent"] = None  # a group right lost
    assert differences(before, after) == [
        "bob sees user.ann.sent: folder newly readable",
        "bob sees user.dan.sent: folder no longer readable",
    ]


def _folder(*digests: str, acl: dict | None = None) -> dict:
    return {"uidvalidity": 9, "acl": acl or {"bob": "aiklprstwx"}, "quota": ["user.bob"],
            "messages": {d * 32: [[], "2025-06-03T12:00:00", n, f"Subject 'm{n}', <{d}@example.org>"]
                         for n, d in enumerate(digests, 1)}}


def test_a_renamed_folder_with_its_children_is_one_finding():
    """Issue 27, item 8: a folder whose messages, ACL and children reappear under another name is
    renamed, not two folders missing and two appeared."""
    before = copy.deepcopy(BASE)
    before["bob"]["folders"].update({"projects": _folder("e1", "e2"), "projects.old": _folder("e3"),
                                     "projects.empty": _folder()})
    after = copy.deepcopy(before)
    for old, new in (("projects", "work"), ("projects.old", "work.old"), ("projects.empty", "work.empty")):
        after["bob"]["folders"][new] = after["bob"]["folders"].pop(old)
    after["bob"]["folders"]["work.old"]["messages"]["e3" * 32][0] = ["\\Seen"]  # and one flag changed with it
    assert differences(before, after) == [
        "bob/projects: folder renamed to work with its 2 sub-folder(s)",
        "bob/work.old: message e3e3e3e3e3e3 (Subject 'm1', <e3@example.org>, dated 2025-06-03) flags [] -> "
        "['\\\\Seen']",
    ]


def test_a_folder_that_reappears_with_other_messages_is_not_a_rename():
    before = copy.deepcopy(BASE)
    before["bob"]["folders"]["projects"] = _folder("e1")
    after = copy.deepcopy(before)
    after["bob"]["folders"]["work"] = _folder("e2")
    del after["bob"]["folders"]["projects"]
    assert differences(before, after) == ["bob/projects: folder missing", "bob/work: folder appeared"]


def test_acl_changes_are_per_identifier():
    before = copy.deepcopy(BASE)
    after = copy.deepcopy(before)
    after["bob"]["folders"]["a"]["acl"] = {"bob": "aiklprstwx", "group:staff": "lr"}
    assert differences(before, after) == ["bob/a: acl fred [lr] -> [none]", "bob/a: acl group:staff [none] -> [lr]"]


def test_a_sharers_view_of_a_renamed_folder_is_one_finding():
    before = copy.deepcopy(BASE)
    before["bob"]["views"] = {"user.ann.work": {"3": ["\\Seen"]}, "user.ann.old": {"1": []}}
    after = copy.deepcopy(before)
    after["bob"]["views"]["user.ann.projects"] = after["bob"]["views"].pop("user.ann.work")
    del after["bob"]["views"]["user.ann.old"]
    assert differences(before, after) == ["bob sees user.ann.work: now as user.ann.projects",
                                          "bob sees user.ann.old: folder no longer visible"]


def test_a_status_that_disagrees_is_named_in_the_snapshot_and_its_difference():
    from imapwright.stores.snapshot import differences, status_problems

    lying = copy.deepcopy(BASE)
    lying["bob"]["folders"][""]["status"] = ["STATUS MESSAGES 3, EXAMINE/FETCH 2"]
    assert status_problems(BASE) == []
    assert status_problems(lying) == ["bob/INBOX: STATUS MESSAGES 3, EXAMINE/FETCH 2"]
    assert differences(BASE, lying) == ["bob/INBOX: STATUS agreed -> STATUS MESSAGES 3, EXAMINE/FETCH 2"]
