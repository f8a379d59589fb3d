"""The paper's three lists (issue 21, items 2–4): the service-item list with national 实施编码, the
service-standard list shown on a bad review's case, and the problem-responsibility list that routes a case
to the post of the problems ticked."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from cases_support import add_ratings
from support import ok
from workbench_support import NOW, build, hidden, logged_in, post

IMPL1 = "11370200MB1234567X4371100100001"
IMPL2 = "11370200MB1234567X4371100100002"
ITEMS = ("事项编码,实施编码,事项名称,事项类型,法定时限,承诺时限,办理窗口\n"
         f"XK01,{IMPL1},烟草专卖零售许可证新办,行政许可,20个工作日,5,LC01、LC02\n"
         f"XK02,{IMPL2},烟草专卖零售许可证延续,行政许可,20,5,\n")
STANDARDS = ("事项编码,窗口类型,指标,服务标准,承诺时限,材料数\n"
             "XK01,全部,D1,自受理之日起5个工作日内作出决定,5,3\n"
             f"{IMPL1},实体窗口,服务规范,首问负责，一次性告知所需材料,,3\n"
             "XK01,网上渠道,C1,网上咨询1个工作日内答复,,\n")
RESPONSIBILITY = ("指标,窗口类型,责任岗位,责任部门\n"
                  "C1,实体窗口,窗口受理岗,政务服务科\n"
                  "办理时限,全部,审批岗,专卖管理科\n"
                  "C1,网上渠道,网上审核岗,政务服务科\n")


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def query(db_path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def events(db_path) -> int:
    return query(db_path, "SELECT count(*) FROM audit_events")[0][0]


# --- 服务事项清单 -----------------------------------------------------------------------------------------


def test_an_item_list_sets_the_national_code_type_and_windows_and_a_second_import_changes_nothing(cli, tmp_path,
                                                                                                   db_path):
    path = write(tmp_path, "items.csv", ITEMS)
    first = ok(cli("org", "import", path))
    assert first.stderr.splitlines()[-1] == "0 added, 2 updated (0 deactivated), 0 unchanged"
    assert query(db_path, "SELECT code, impl_code, item_type, legal_days, promised_days, windows FROM items"
                          " WHERE code IN ('XK01', 'XK02') ORDER BY code") == [
        ("XK01", IMPL1, "行政许可", 20, 5, "LC01,LC02"), ("XK02", IMPL2, "行政许可", 20, 5, None)]
    before = events(db_path)
    again = ok(cli("org", "import", path))
    assert again.stderr.strip() == "0 added, 0 updated (0 deactivated), 2 unchanged"
    assert events(db_path) == before
    shown = json.loads(ok(cli("org", "show", "--part", "items", "-f", "json")).stdout)
    assert shown[0] == {"code": "XK01", "impl_code": IMPL1, "name": "烟草专卖零售许可证新办", "item_type": "行政许可",
                        "legal_days": 20, "promised_days": 5, "item_windows": "LC01,LC02", "active": 1}


def test_a_bad_item_line_is_named_and_nothing_is_written(cli, tmp_path, db_path):
    before = query(db_path, "SELECT * FROM items ORDER BY code")
    result = cli("org", "import", write(tmp_path, "items.csv", ITEMS + f"XK03,{IMPL1},烟草专卖零售许可证变更,,20,5,\n"
                                                                     "XK04,,烟草专卖零售许可证停业,,20,3,LC01;ZZ99\n"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: 2 entries cannot be imported, so nothing was changed:",
        "  - items.csv line 4: 实施编码 11370200MB1234567X4371100100001 is given twice in the file (each item has"
        " its own 实施编码)",
        "  - items.csv line 5: window(s) ZZ99 of 办理窗口 do not exist (`haocha org show --part windows` lists the"
        " windows; import them first) (fix them and import the file again)",
    ]
    assert query(db_path, "SELECT * FROM items ORDER BY code") == before


def test_a_missing_item_column_is_one_clear_error(cli, tmp_path):
    result = cli("org", "import", write(tmp_path, "items.csv", "事项编码,事项名称,法定时限\nXK01,新办,20\n"))
    assert result.exit_code == 1
    assert result.stderr == ("Error: items.csv: missing column(s) 承诺时限/promised_days"
                             " (columns found: 事项编码, 事项名称, 法定时限)\n")


def test_a_rating_file_may_name_the_item_by_its_national_code_and_the_platform_export_uses_it(cli, tmp_path,
                                                                                              db_path, monkeypatch):
    ok(cli("org", "import", write(tmp_path, "items.csv", ITEMS)))
    monkeypatch.setenv("HAOCHA_NOW", "2025-03-04 10:00:00")
    ok(cli("import", write(tmp_path, "r.csv", "评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度\n"
                                              f"N1,2025-03-03 10:00:00,LC01,二维码,{IMPL1},满意\n"
                                              "N2,2025-03-03 10:05:00,LC01,二维码,XK03,满意\n")))
    assert query(db_path, "SELECT rating_id, item_code FROM ratings ORDER BY rating_id") == [("N1", "XK01"),
                                                                                             ("N2", "XK03")]
    out = ok(cli("export", "ratings", "--profile", "national", "-f", "csv")).stdout
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert [(r["rating_id"], r["taskCode"]) for r in rows] == [("N1", IMPL1), ("N2", "XK03")]  # XK03 has none


# --- 服务标准清单 -----------------------------------------------------------------------------------------


def test_standards_import_resolves_items_and_indicators_and_is_idempotent(cli, tmp_path, db_path):
    ok(cli("org", "import", write(tmp_path, "items.csv", ITEMS)))
    path = write(tmp_path, "standards.csv", STANDARDS)
    assert ok(cli("org", "import-standards", path)).stderr.strip() == "3 added, 0 updated, 0 removed, 0 unchanged"
    assert query(db_path, "SELECT * FROM service_standards ORDER BY window_kind") == [
        ("XK01", "all", "D1", "自受理之日起5个工作日内作出决定", 5, 3),
        ("XK01", "offline", "C1", "首问负责，一次性告知所需材料", None, 3),
        ("XK01", "online", "C1", "网上咨询1个工作日内答复", None, None)]
    before = events(db_path)
    assert ok(cli("org", "import-standards", path)).stderr.strip() == "0 added, 0 updated, 0 removed, 3 unchanged"
    assert events(db_path) == before
    shorter = write(tmp_path, "standards2.csv", "\n".join(STANDARDS.splitlines()[:2]) + "\n")
    assert ok(cli("org", "import-standards", shorter)).stderr.strip() == "0 added, 0 updated, 2 removed, 1 unchanged"
    assert query(db_path, "SELECT count(*) FROM service_standards") == [(1,)]


def test_a_bad_standard_line_is_named_and_the_list_is_kept(cli, tmp_path, db_path):
    ok(cli("org", "import-standards", write(tmp_path, "ok.csv", STANDARDS.replace(IMPL1, "XK01"))))
    before = query(db_path, "SELECT * FROM service_standards ORDER BY window_kind")
    result = cli("org", "import-standards", write(tmp_path, "standards.csv",
                                                  STANDARDS.replace(IMPL1, "XK01") + "XK02,全部,Z9,说明,,\n"))
    assert result.exit_code == 1
    assert result.stderr == ("Error: standards.csv line 5: indicator (指标) 'Z9' is not an indicator code or name"
                             " (`haocha indicators show` lists them)\n")
    assert query(db_path, "SELECT * FROM service_standards ORDER BY window_kind") == before


# --- 问题责任清单 -----------------------------------------------------------------------------------------


@pytest.fixture
def routed(cli, tmp_path, db_path):
    """The lists imported, then two bad reviews at LC01 (offline) and one at 李沧's online channel."""
    ok(cli("org", "import", write(tmp_path, "items.csv", ITEMS)))
    ok(cli("org", "import-standards", write(tmp_path, "standards.csv", STANDARDS)))
    ok(cli("org", "import-responsibility", write(tmp_path, "responsibility.csv", RESPONSIBILITY)))
    online = query(db_path, "SELECT code FROM windows WHERE county_code = '370213' AND kind = 'online'")[0][0]
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意", "problems": ["D1", "C1"]},
        {"rated_at": "2025-03-03 10:10:00", "window": "LC01", "level": "非常不满意", "problems": ["B2"]},
        {"rated_at": "2025-03-03 10:20:00", "window": online, "level": "不满意", "problems": ["C1"]},
    ])
    return db_path


def test_a_bad_review_goes_to_the_posts_of_the_problems_ticked_the_first_primary(routed):
    rows = query(routed, "SELECT id, post, department, posts FROM cases ORDER BY id")
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "审批岗", "专卖管理科"), (2, None, None),
                                                  (3, "网上审核岗", "政务服务科")]
    assert json.loads(rows[0][3]) == [{"indicator": "D1", "post": "审批岗", "department": "专卖管理科"},
                                      {"indicator": "C1", "post": "窗口受理岗", "department": "政务服务科"}]


def test_cases_list_shows_and_filters_the_post(routed, run):
    listed = json.loads(ok(run("2025-03-04 09:00:00", "cases", "list", "--post", "审批岗", "-f", "json")).stdout)
    assert [(r["id"], r["post"]) for r in listed] == [(1, "审批岗")]
    every = json.loads(ok(run("2025-03-04 09:00:00", "cases", "list", "-f", "json")).stdout)
    assert [r["post"] for r in every] == ["审批岗", None, "网上审核岗"]


def test_the_county_changes_the_post_with_a_reason_and_it_is_audited(routed, run):
    lc = "county:370213"
    done = ok(run("2025-03-04 09:00:00", "cases", "set-post", "1", "--post", "窗口受理岗", "--reason", "受理环节未告知",
                  operator=lc))
    assert done.stderr.strip() == "case 1: responsible post now 窗口受理岗 (政务服务科)"
    assert query(routed, "SELECT post, department FROM cases WHERE id = 1") == [("窗口受理岗", "政务服务科")]
    event = query(routed, "SELECT operator, before, after FROM audit_events WHERE action = 'case.post'")
    assert [(e[0], json.loads(e[1]), json.loads(e[2])) for e in event] == [
        (lc, {"post": "审批岗", "department": "专卖管理科"},
         {"post": "窗口受理岗", "department": "政务服务科", "reason": "受理环节未告知"})]
    typo = run("2025-03-04 09:00:00", "cases", "set-post", "1", "--post", "窗口岗", "--reason", "x", operator=lc)
    assert typo.exit_code == 1
    assert typo.stderr == ("Error: post '窗口岗' is not in the problem-responsibility list (问题责任清单)"
                           " (posts: 窗口受理岗, 网上审核岗, 审批岗)\n")
    other = run("2025-03-04 09:00:00", "cases", "set-post", "1", "--post", "审批岗", "--reason", "x",
                operator="county:370211")
    assert other.exit_code == 1 and other.stderr.startswith("Error: case 1 does not exist")
    no_reason = run("2025-03-04 09:00:00", "cases", "set-post", "1", "--post", "审批岗", "--reason", " ", operator=lc)
    assert no_reason.stderr == "Error: a reason (--reason) is required (it cannot be empty)\n"
    assert query(routed, "SELECT post FROM cases WHERE id = 1") == [("窗口受理岗",)]


def test_case_stats_by_post(routed, run):
    rows = json.loads(ok(run("2025-03-04 09:00:00", "cases", "stats", "--by", "post", "-f", "json")).stdout)
    assert [(r["post"], r["department"], r["cases"]) for r in rows] == [
        ("审批岗", "专卖管理科", 1), ("网上审核岗", "政务服务科", 1), ("未定岗位", "", 1), ("合计", "", 3)]
    bad = run("2025-03-04 09:00:00", "cases", "stats", "--by", "window")
    assert bad.exit_code == 2 and "'window' is not one of county, post" in bad.stderr


def test_cases_show_names_the_standards_of_the_problems_ticked(routed, run):
    shown = json.loads(ok(run("2025-03-04 09:00:00", "cases", "show", "1", "-f", "json")).stdout)
    assert [(s["indicator_code"], s["standard"]) for s in shown["standards"]] == [
        ("D1", "自受理之日起5个工作日内作出决定"), ("C1", "首问负责，一次性告知所需材料")]
    online = json.loads(ok(run("2025-03-04 09:00:00", "cases", "show", "3", "-f", "json")).stdout)
    assert [s["standard"] for s in online["standards"]] == ["网上咨询1个工作日内答复"]


def test_the_case_sheet_carries_the_post_and_the_standard(routed, run, tmp_path):
    out = tmp_path / "lc.csv"
    ok(run("2025-03-04 09:00:00", "cases", "export", "--county", "370213", "-f", "csv", "-o", str(out)))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [(r["案件编号"], r["责任岗位"], r["服务标准"]) for r in rows][0] == (
        "1", "审批岗", "自受理之日起5个工作日内作出决定；首问负责，一次性告知所需材料")


def test_the_workbench_shows_filters_and_changes_the_post(cli, tmp_path, db_path, monkeypatch):
    ok(cli("org", "import-standards", write(tmp_path, "standards.csv", STANDARDS.replace(IMPL1, "XK01"))))
    ok(cli("org", "import-responsibility", write(tmp_path, "responsibility.csv", RESPONSIBILITY)))
    build(db_path)  # case 1: LC01, real-name, problem C1 → 窗口受理岗
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    client = logged_in(db_path, "lc")
    page = client.get("/staff/cases/1").text
    assert "窗口受理岗（政务服务科）" in page and "首问负责，一次性告知所需材料" in page
    assert 'action="/staff/cases/1/set-post"' in page
    listed = client.get("/staff/cases?post=窗口受理岗").text
    assert 'href="/staff/cases/1"' in listed and 'href="/staff/cases/2"' not in listed
    refused = post(client, "/staff/cases/1/set-post", {"post": "审批岗", "reason": ""}, token=hidden(page)["csrf_token"])
    assert refused.status_code == 400 and "a reason (--reason) is required" in refused.text
    done = post(client, "/staff/cases/1/set-post", {"post": "审批岗", "reason": "实为审批超时"},
                token=hidden(page)["csrf_token"])
    assert done.status_code == 303 and done.headers["location"] == "/staff/cases/1?done=set-post"
    assert query(db_path, "SELECT post, department FROM cases WHERE id = 1") == [("审批岗", "专卖管理科")]
    assert "已变更责任岗位。" in client.get("/staff/cases/1?done=set-post").text


def test_the_example_lists_import_on_a_new_database_and_route_a_case(cli, db_path):
    examples = Path(__file__).parent.parent / "examples" / "lists"
    standards = ok(cli("org", "import-standards", str(examples / "service-standards.csv"))).stderr
    responsibility = ok(cli("org", "import-responsibility", str(examples / "problem-responsibility.csv"))).stderr
    assert "9 added, 0 updated, 0 removed, 0 unchanged" in standards
    assert "13 added, 0 updated, 0 removed, 0 unchanged" in responsibility
    add_ratings(db_path, [{"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意",
                           "problems": ["B3", "D1"]}])
    assert query(db_path, "SELECT post, department FROM cases") == [("大厅管理岗", "办公室")]
