"""The account snapshot comparison names exactly what changed."""

import copy

from imapwright.admin.snapshot import differences

BASE = {"bob": {"subscribed": ["", "a"], "folders": {
    "": {"uidvalidity": 7, "acl": {"bob": "aiklprstwx"}, "quota": {"user.bob STORAGE": [3, 100]},
         "messages": {"d1" * 32: [["\\Seen"], "2025-06-01T12:00:00", 1]}},
    "a": {"uidvalidity": 8, "acl": {"bob": "aiklprstwx", "fred": "lr"}, "quota": {},
          "messages": {"d2" * 32: [[], "2025-06-02T12:00:00", 1]}},
}}}


def test_identical_snapshots_have_no_differences():
    assert differences(BASE, copy.deepcopy(BASE)) == []


def test_one_flag_one_acl_entry_and_one_quota_limit_are_reported_exactly():
    after = copy.deepcopy(BASE)
    after["bob"]["folders"][""]["messages"]["d1" * 32][0] = ["\\Flagged", "\\Seen"]
    after["bob"]["folders"]["a"]["acl"]["fred"] = "lrs"
    after["bob"]["folders"][""]["quota"]["user.bob STORAGE"] = [3, 200]
    assert differences(BASE, after) == [
        "bob/INBOX: quota {'user.bob STORAGE': [3, 100]} -> {'user.bob STORAGE': [3, 200]}",
        f"bob/INBOX: message {'d1' * 6} flags ['\\\\Seen'] -> ['\\\\Flagged', '\\\\Seen']",
        "bob/a: acl {'bob': 'aiklprstwx', 'fred': 'lr'} -> {'bob': 'aiklprstwx', 'fred': 'lrs'}",
    ]


def test_lost_folder_lost_message_and_missing_account():
    after = copy.deepcopy(BASE)
    del after["bob"]["folders"]["a"]
    after["bob"]["folders"][""]["messages"].clear()
    after["ann"] = after["bob"]
    assert differences(BASE, after) == [
        "ann: account appeared", f"bob/INBOX: message {'d1' * 6} lost", "bob/a: folder missing"]
