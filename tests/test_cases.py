"""The closed loop through the CLI: a case's whole life, appeals, no-action approval, reopening, and the
refusals (another county, the wrong role, the wrong state) that must change nothing."""

from __future__ import annotations

import json
import sqlite3

import pytest
from cases_support import add_ratings
from support import ok

from haocha_cli.context import os_person

LC = "county:370213"  # 李沧区, owns LC01
SN = "county:370202"  # 市南区






def case_json(run, case_id: int, when: str = "2025-03-31 09:00:00", operator: str = "city") -> dict:
    return json.loads(ok(run(when, "cases", "show", str(case_id), "--format", "json", operator=operator)).stdout)


def snapshot(db_path) -> tuple:
    """Everything a refused action must leave alone."""
    conn = sqlite3.connect(db_path)
    try:
        return tuple(list(conn.execute(f"SELECT * FROM {t} ORDER BY 1"))
                     for t in ("cases", "appeals", "audit_events", "ratings", "daily_agg", "meta"))
    finally:
        conn.close()


def test_a_bad_review_opens_a_case_and_a_good_one_does_not(db_path, run):
    add_ratings(db_path, [
        {"rated_at": "2025-01-24 10:00:00", "window": "LC01", "level": "不满意", "phone": "13812341234",
         "problems": ["C1", "D1"], "staff": "LC-S01"},
        {"rated_at": "2025-01-24 10:05:00", "window": "LC01", "level": "基本满意"},
        {"rated_at": "2025-01-24 10:10:00", "window": "LC02", "level": "非常不满意", "round": 2},  # a bad 追评
    ])
    rows = json.loads(ok(run("2025-01-24 12:00:00", "cases", "list", "--format", "json", operator=LC)).stdout)
    assert [(r["id"], r["window"], r["level"], r["state"], r["real_name"], r["phone"]) for r in rows] == [
        (1, "LC01", "不满意", "new", True, "138****1234"),
        (2, "LC02", "非常不满意", "new", False, None),
    ]
    # 2025-01-24 is a Friday; 01-25 Saturday is off, 01-26 Sunday is the Spring Festival make-up workday.
    assert rows[0]["revisit_due"] == "2025-01-26"
    assert rows[1]["revisit_due"] is None
    assert rows[0]["rectify_due"] == rows[1]["rectify_due"] == "2025-02-20"
    shown = case_json(run, 1, "2025-01-24 12:00:00", LC)["case"]
    assert (shown["problems"], shown["staff_code"]) == ('["C1", "D1"]', "LC-S01")


def test_full_life_from_import_to_re_rating(db_path, run, tmp_path):
    (tmp_path / "ratings.csv").write_text(
        "评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度,联系电话,差评问题,工作人员\n"
        "P0001,2025-01-24 10:00:00,LC01,扫码评价,XK01,不满意,13812341234,C1,LC-S01\n"
        "P0002,2025-01-24 10:30:00,LC01,扫码评价,XK01,满意,,,\n", encoding="utf-8")
    result = ok(run("2025-01-24 12:00:00", "import", str(tmp_path / "ratings.csv"), "--format", "json"))
    summary = json.loads(result.stdout)[0]  # one summary per file
    assert (summary["accepted"], summary["cases_opened"]) == (2, 1)
    result = ok(run("2025-01-26 09:30:00", "cases", "classify", "1", "rectifiable", "--reason", "窗口人员态度生硬",
                    operator=LC))
    assert result.stderr.strip() == "case 1: now rectifying (整改中)"
    ok(run("2025-01-26 10:00:00", "cases", "revisit", "1", "--outcome", "reached", "--note", "已致歉", operator=LC))
    result = ok(run("2025-02-10 16:00:00", "cases", "close", "1", "--measures", "全员服务规范培训",
                    "--responsible", "张三", operator=LC))
    assert result.stderr.strip() == "case 1: now closed (已整改待复评)"
    result = ok(run("2025-02-11 09:00:00", "cases", "rerate", "1", "--level", "满意", operator=LC))
    assert result.stderr.strip() == "case 1: now rerated (已复评办结)"

    data = case_json(run, 1)
    case = data["case"]
    assert (case["state"], case["classification"], case["measures"], case["responsible"]) == (
        "rerated", "rectifiable", "全员服务规范培训", "张三")
    assert (case["revisit_first_at"], case["revisit_outcome"], case["revisit_reached"]) == (
        "2025-01-26 10:00:00", "reached", 1)
    assert (case["closed_at"], case["on_time"], case["rerate_level"]) == ("2025-02-10 16:00:00", 1, "满意")
    assert data["allowed"] == ["reopen (city)"]  # only a failed spot-check can reopen it
    history = [(e["at"], e["operator"], e["action"], json.loads(e["after"]).get("state")) for e in data["history"]]
    assert history[1:] == [
        ("2025-01-26 09:30:00", LC, "case.classify", "rectifying"),
        ("2025-01-26 10:00:00", LC, "case.revisit", None),
        ("2025-02-10 16:00:00", LC, "case.close", "closed"),
        ("2025-02-11 09:00:00", LC, "case.rerate", "rerated"),
    ]
    assert (history[0][1], history[0][2], history[0][3]) == ("city", "case.open", "new")
    assert json.loads(data["history"][1]["before"]) == {"state": "new", "classification": None,
                                                        "classify_reason": None, "classified_at": None}
    ok(run("2025-03-31 09:00:00", "audit", "verify"))


def test_re_rating_dissatisfied_reopens_the_case_with_a_new_deadline(db_path, run):
    add_ratings(db_path, [{"rated_at": "2025-01-24 10:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812341234"}])  # real-name: the re-rating is by phone
    ok(run("2025-01-27 09:00:00", "cases", "classify", "1", "rectifiable", operator=LC))
    ok(run("2025-02-10 09:00:00", "cases", "close", "1", "--measures", "更新公示材料", "--responsible", "李四",
           operator=LC))
    result = ok(run("2025-02-12 09:00:00", "cases", "rerate", "1", "--level", "不满意"))  # recorded by the city
    # Counted from Wednesday 2025-02-12: 13, 14, 17 … 28 (12 days), 03-03, 03-04, 03-05 (15).
    assert result.stderr.splitlines() == ["case 1: now reopened (复评不满意重新整改)",
                                          "new rectification deadline: 2025-03-05"]
    case = case_json(run, 1)["case"]
    assert (case["state"], case["reopen_count"], case["rectify_due"], case["on_time"]) == (
        "reopened", 1, "2025-03-05", None)
    ok(run("2025-03-04 09:00:00", "cases", "close", "1", "--measures", "再次培训并张贴流程图",
           "--responsible", "李四", operator=LC))
    ok(run("2025-03-06 09:00:00", "cases", "rerate", "1", "--level", "基本满意", operator=LC))
    case = case_json(run, 1)["case"]
    assert (case["state"], case["rerate_level"], case["on_time"], case["measures"]) == (
        "rerated", "基本满意", 1, "再次培训并张贴流程图")


def test_upheld_appeal_excludes_the_rating_from_the_aggregates_and_ends_the_case(db_path, run):
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "非常不满意", "scores": {"C1": 1, "D1": 2}},
        {"rated_at": "2025-03-03 11:00:00", "window": "LC01", "level": "满意", "scores": {"D1": 4}},
    ])
    conn = sqlite3.connect(db_path)
    agg = "SELECT n, l1, l4, index_sum, index_sq, excluded_n FROM daily_agg WHERE day = '2025-03-03'"
    ind = ("SELECT indicator_code, n, score_sum, score_sq, level_sum, level_sq, cross_sum FROM daily_indicator_agg"
           " WHERE day = '2025-03-03' ORDER BY indicator_code")
    # The 满意 rating scores 4 everywhere: index 75. The bad one's index is w(D1) × t(2), w from V1.0.
    bad_index, good_index = (r[0] for r in conn.execute("SELECT rating_index FROM ratings ORDER BY id"))
    assert good_index == 75.0 and 0 < bad_index < 25
    assert conn.execute(agg).fetchall() == [
        (2, 1, 1, pytest.approx(bad_index + 75), pytest.approx(bad_index ** 2 + 75 ** 2), 0)]

    result = ok(run("2025-03-04 09:00:00", "cases", "appeal", "1", "--reason", "评价人误操作, 本人已确认",
                    "--evidence", "回访录音 0304-01.mp3", operator=LC))
    assert result.stderr.strip() == "case 1: now appealed (申诉中)"
    result = run("2025-03-05 09:00:00", "cases", "decide", "1", "--uphold", "--reason", "录音证实为误评",
                 operator=LC)
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: deciding the appeal of case 1 is the city bureau's (市局) task; "
                                     "county:370213 may not do it (the city bureau's staff (市局) do it)")
    result = ok(run("2025-03-05 09:00:00", "cases", "decide", "1", "--uphold", "--reason", "录音证实为误评"))
    assert result.stderr.splitlines() == ["case 1: now excluded (评价已剔除)",
                                          "rating 1 is excluded from the figures"]

    # The rating moved from the counts and sums to excluded_n; the 满意 rating stays as it was.
    assert conn.execute(agg).fetchall() == [(1, 0, 1, pytest.approx(75.0), pytest.approx(5625.0), 1)]
    assert conn.execute(ind).fetchall() == [("C1", 0, 0.0, 0.0, 0.0, 0.0, 0.0),
                                            ("D1", 1, 4.0, 16.0, 4.0, 16.0, 16.0)]
    index = json.loads(ok(run("2025-03-05 09:10:00", "index", "--county", "370213", "--period", "2025-03-03",
                              "--format", "json")).stdout)
    row = index["rows"][0]  # the figures no longer see the excluded rating, and report it apart
    assert (row["n"], row["index"], row["bad"], row["excluded_n"]) == (1, pytest.approx(75.0), 0, 1)
    assert conn.execute("SELECT excluded, excluded_at FROM ratings ORDER BY id").fetchall() == [
        ("appeal_upheld", "2025-03-05 09:00:00"), (None, None)]
    assert conn.execute("SELECT reason, evidence, state_before, decision, decision_reason, decided_by"
                        " FROM appeals").fetchall() == [
        ("评价人误操作, 本人已确认", "回访录音 0304-01.mp3", "new", "upheld", "录音证实为误评", "city (" + os_person() + ")")]
    conn.close()
    case = case_json(run, 1, operator=LC)
    assert (case["case"]["state"], case["allowed"]) == ("excluded", [])
    assert case["rating"]["excluded"] == "appeal_upheld"
    result = run("2025-03-06 09:00:00", "cases", "close", "1", "--measures", "x", "--responsible", "y", operator=LC)
    assert result.stderr.strip() == ("Error: case 1 is excluded (评价已剔除): close is not allowed "
                                     "(nothing can be done to it any more)")


def test_dismissed_appeal_returns_the_case_where_it_was(db_path, run):
    add_ratings(db_path, [{"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意"}])
    ok(run("2025-03-03 15:00:00", "cases", "classify", "1", "可整改", operator=LC))  # Chinese names work too
    ok(run("2025-03-04 09:00:00", "cases", "appeal", "1", "--reason", "恶意评价", "--evidence", "监控截图",
           operator=LC))
    result = ok(run("2025-03-05 09:00:00", "cases", "decide", "1", "--dismiss", "--reason", "证据不足"))
    assert result.stderr.strip() == "case 1: now rectifying (整改中)"
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT excluded FROM ratings").fetchall() == [(None,)]
    assert conn.execute("SELECT n, l2, excluded_n FROM daily_agg").fetchall() == [(1, 1, 0)]
    conn.close()


def test_no_action_needs_the_city_and_a_rejection_sends_it_back(db_path, run):
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意"},
        {"rated_at": "2025-03-03 11:00:00", "window": "LC01", "level": "不满意"},
    ])
    result = run("2025-03-03 15:00:00", "cases", "classify", "1", "no-action", operator=LC)
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: a reason is required to classify a case as no-action (无需整改) "
                                     "(give --reason)")
    for case_id in ("1", "2"):
        result = ok(run("2025-03-03 15:00:00", "cases", "classify", case_id, "no-action", "--reason",
                        "评价内容与烟草业务无关", operator=LC))
        assert result.stderr.strip() == f"case {case_id}: now awaiting_approval (无需整改待市局审批)"
    result = run("2025-03-04 09:00:00", "cases", "approve", "1", operator=LC)
    assert result.stderr.strip() == ("Error: approving the no-action classification of case 1 is the city "
                                     "bureau's (市局) task; county:370213 may not do it "
                                     "(the city bureau's staff (市局) do it)")
    result = ok(run("2025-03-04 09:00:00", "cases", "reject", "1", "--reason", "评价反映的排队问题属实"))
    assert result.stderr.strip() == "case 1: now new (待分类)"
    case = case_json(run, 1)["case"]
    assert (case["classification"], case["classify_reason"]) == (None, None)
    ok(run("2025-03-04 10:00:00", "cases", "classify", "1", "rectifiable", operator=LC))

    ok(run("2025-03-25 09:00:00", "cases", "approve", "2", "--note", "已核实"))  # after the deadline 03-24 …
    case = case_json(run, 2)["case"]
    assert (case["state"], case["on_time"]) == ("no_action", 1)  # … but the county classified in time


def test_another_countys_operator_is_refused_and_nothing_changes(db_path, run):
    add_ratings(db_path, [{"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812341234"}])
    before = snapshot(db_path)
    refusals = [
        (("cases", "classify", "1", "rectifiable"), SN,
         "Error: case 1 does not exist (`haocha cases list --status all` lists the cases)"),
        (("cases", "contact", "1"), SN,
         "Error: case 1 does not exist (`haocha cases list --status all` lists the cases)"),
        (("cases", "show", "1"), SN,
         "Error: case 1 does not exist (`haocha cases list --status all` lists the cases)"),
        (("cases", "list", "--county", "370213"), SN,
         "Error: county:370202 may see the cases of county 370202 only, not of 370213 "
         "(leave out --county: a county sees its own county's data)"),
        (("cases", "contact", "1"), "city",
         "Error: reading the rater's phone of case 1 is the county bureau's (县级局) task; city may "
         "not do it (the staff of county 370213 do it)"),
        (("cases", "close", "1", "--measures", "x", "--responsible", "y"), LC,
         "Error: case 1 is new (待分类): close is not allowed (allowed now: classify (county), "
         "revisit (county), contact (county), appeal (county))"),
        (("cases", "rerate", "1", "--level", "满意"), LC,
         "Error: case 1 is new (待分类): rerate is not allowed (allowed now: classify (county), "
         "revisit (county), contact (county), appeal (county))"),
        (("cases", "classify", "9", "rectifiable"), LC,
         "Error: case 9 does not exist (`haocha cases list --status all` lists the cases)"),
    ]
    for args, operator, message in refusals:
        result = run("2025-03-04 09:00:00", *args, operator=operator)
        assert (result.exit_code, result.stderr.strip()) == (1, message), args
        assert result.stdout == ""
    assert snapshot(db_path) == before


def test_contact_shows_the_phone_to_the_owning_county_only_and_is_audited(db_path, run):
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意", "phone": "138-1234-1234"},
        {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意"},
    ])
    result = ok(run("2025-03-03 14:00:00", "cases", "contact", "1", operator=LC))
    assert result.stdout == "13812341234\n"
    assert result.stderr.strip() == ("phone of case 1 shown to county:370213; "
                                     "this is recorded in the audit trail")
    event = case_json(run, 1, operator=LC)["history"][-1]
    assert (event["operator"], event["action"], json.loads(event["after"])) == (
        LC, "case.contact", {"revealed": "phone", "phone_masked": "138****1234"})
    result = run("2025-03-03 14:00:00", "cases", "contact", "2", operator=LC)
    assert result.stderr.strip() == ("Error: case 2 is an anonymous review: there is no rater to visit "
                                     "(return visits (回访) are for real-name (实名) reviews)")
    # The number itself is nowhere but in its encrypted column.
    conn = sqlite3.connect(db_path)
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert "13812341234" not in dump
    for args in (("cases", "list", "--format", "csv"), ("cases", "show", "1", "--format", "json"),
                 ("audit", "log", "--format", "json")):
        out = ok(run("2025-03-03 14:00:00", *args)).stdout
        assert "13812341234" not in out and "1234-1234" not in out
    assert "138****1234" in ok(run("2025-03-03 14:00:00", "cases", "list", "--format", "csv")).stdout


def test_list_filters_overdue_and_due_before(db_path, run):
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意", "phone": "13812341234"},
        {"rated_at": "2025-03-10 10:00:00", "window": "LC01", "level": "不满意"},
        {"rated_at": "2025-03-10 10:00:00", "window": "SN01", "level": "不满意"},
    ])
    now = "2025-03-25 09:00:00"
    rows = json.loads(ok(run(now, "cases", "list", "--format", "json")).stdout)
    # Case 1 was due 03-24; cases 2 and 3 on 03-31: four working days after 03-25 (26, 27, 28, 31).
    assert [(r["id"], r["rectify_due"], r["workdays_left"], r["alert"]) for r in rows] == [
        (1, "2025-03-24", -1, "rectification overdue, return visit overdue"),
        (2, "2025-03-31", 4, ""),
        (3, "2025-03-31", 4, ""),
    ]
    rows = json.loads(ok(run("2025-03-26 09:00:00", "cases", "list", "--format", "json")).stdout)
    assert [r["alert"] for r in rows] == ["rectification overdue, return visit overdue", "due soon", "due soon"]
    rows = json.loads(ok(run(now, "cases", "list", "--overdue", "--format", "json", operator=LC)).stdout)
    assert [r["id"] for r in rows] == [1]
    rows = json.loads(ok(run(now, "cases", "list", "--due-before", "2025-03-30", "--format", "json")).stdout)
    assert [r["id"] for r in rows] == [1]
    rows = json.loads(ok(run(now, "cases", "list", "--county", "370202", "--format", "json")).stdout)
    assert [r["id"] for r in rows] == [3]
    ok(run(now, "cases", "classify", "2", "unrectifiable", "--reason", "法定办理时限所限", operator=LC))
    rows = json.loads(ok(run(now, "cases", "list", "--status", "resolved", "--format", "json")).stdout)
    assert [(r["id"], r["state"], r["workdays_left"]) for r in rows] == [(2, "unrectifiable", None)]
    result = run(now, "cases", "list", "--status", "done")
    assert result.stderr.strip().startswith("Error: status done is not known (use open, resolved, all, or states:")


def test_workflow_doc_lists_every_state_with_the_actions_it_allows():
    from pathlib import Path

    from haocha_cli.cases import states_table

    doc = (Path(__file__).resolve().parent.parent / "docs" / "workflow.md").read_text(encoding="utf-8")
    for row in states_table():
        assert f"| {row['state']} | {row['名称']} | {row['actions']} |".replace("|  |", "| |") in doc, row["state"]
        assert row["state"] in doc.split("```mermaid")[1].split("```")[0], row["state"]


def test_a_comment_is_shown_as_written_never_as_markup(db_path, run):
    add_ratings(db_path, [{"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意",
                           "comment": "[red]太慢[/red] <b>x</b>"}])
    out = ok(run("2025-03-03 12:00:00", "cases", "show", "1")).stdout
    assert "[red]太慢[/red] <b>x</b>" in out


def test_city_reopens_a_resolved_case_after_a_failed_spot_check(db_path, run):
    add_ratings(db_path, [{"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意"},
                          {"rated_at": "2025-03-03 11:00:00", "window": "LC01", "level": "不满意"}])
    ok(run("2025-03-04 09:00:00", "cases", "classify", "1", "rectifiable", operator="county:370213"))
    ok(run("2025-03-05 09:00:00", "cases", "close", "1", "--measures", "培训", "--responsible", "张三",
           operator="county:370213"))
    ok(run("2025-03-06 09:00:00", "cases", "classify", "2", "unrectifiable", "--reason", "法定时限",
           operator="county:370213"))
    refused = run("2025-03-10 09:00:00", "cases", "reopen", "1", "--reason", "抽查不合格", operator="county:370213")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: reopening case 1 is the city bureau's (市局) task")
    ok(run("2025-03-10 09:00:00", "cases", "reopen", "1", "--reason", "抽查回访：整改措施未落实"))
    ok(run("2025-03-10 09:00:00", "cases", "reopen", "2", "--reason", "抽查回访：可以整改"))
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT id, state, rectify_due, reopen_count FROM cases ORDER BY id").fetchall()
    # case 1: 15 working days from Monday 2025-03-10 → 2025-03-31; case 2 back to be classified
    assert rows == [(1, "reopened", "2025-03-31", 1), (2, "new", rows[1][2], 1)]
    again = run("2025-03-10 10:00:00", "cases", "reopen", "1", "--reason", "x")
    assert again.exit_code == 1
    assert again.stderr.startswith("Error: case 1 is reopened (复评不满意重新整改): reopen is not allowed")
