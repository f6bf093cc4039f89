from imapwright.admin.quota import QuotaLine
from imapwright.servers.cyrus_tools import parse_quota_report, parse_repairs, quota_tool_arguments

# Recorded from cyrus:3.6's quota tool.
REPORT = """\
   Quota   % Used     Used             Resource Root
     100      117      117              STORAGE user.bob
                         4              MESSAGE user.bob
                         0 X-ANNOTATION-STORAGE user.bob
                         1        X-NUM-FOLDERS user.bob
"""


def test_quota_table_parses():
    parsed = parse_quota_report(REPORT)
    assert parsed["user.bob"]["STORAGE"] == (117, 100)
    assert parsed["user.bob"]["MESSAGE"] == (4, None)


def test_repair_lines_parse():
    assert parse_repairs("user.bob: STORAGE usage was 80310, now 8031\nuser.bob: X-ANNOTATION-STORAGE usage was 1, now 0\n") == [
        ("user.bob", "STORAGE", 80310, 8031), ("user.bob", "X-ANNOTATION-STORAGE", 1, 0)]


def test_listquotaroot_line_as_cyradm_prints_it():
    assert str(QuotaLine("user.bob", "STORAGE", 7, 15000)) == "user.bob STORAGE 7/15000 (0%)"


def test_quota_tool_arguments_name_each_root_once_where_one_name_prefixes_another():
    # Cyrus's quota takes user.u1 as a prefix: it covers user.u10, user.u1x and user.u1.sub too.
    assert quota_tool_arguments(["user.u10", "user.u1", "user.u2", "user.u1x", "user.u1.sub", "user.u2"]) == [
        "user.u1", "user.u2"]
    assert quota_tool_arguments(["user.bob", "user.ann"]) == ["user.ann", "user.bob"]
