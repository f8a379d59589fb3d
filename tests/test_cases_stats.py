"""`cases stats` against a hand-worked example (March 2025, no holidays; the figures as of 2025-03-31).

李沧区 370213 (window LC01), case by case — deadline = 15 working days after the rating day:
  1 A 03-03 real-name  rectifiable, visited 03-04 (due 03-04), closed 03-10 (due 03-24), re-rated 满意
  2 B 03-03 real-name  rectifiable, visit unreachable 03-05 (late), closed 03-26 (late), re-rated 不满意 -> reopened
                       (new deadline after 03-31: open, not overdue)
  3 C 03-04 anonymous  rectifiable, never closed: due 03-25 -> overdue; its rater's 追评 不满意 of 03-29 is no
                       re-rating (the case is not closed) and opens no second case
  4 D 03-05 anonymous  unrectifiable 03-06: resolved on time
  5 E 03-06 real-name  no-action 03-07, approved by the city 03-10: resolved on time (classified by 03-27); no visit
  6 F 03-07 anonymous  appeal upheld 03-10: excluded, counted as an upheld appeal only
  7 G 03-25 anonymous  new, due 04-15: not due
  8 H 03-03 anonymous  appeal dismissed 03-11, rectifiable 03-12, closed 03-28 (due 03-24): late; re-rated
                       基本满意 by its rater's 追评 of 03-29 (imported)
  -> cases 7 (A B C D E G H); closed 4 (A D E H); overdue 1 (C); due 5; on time 3 (A D E);
     整改率 4/5, 按时整改率 3/5; real-name 3 (A B E), visited 2 (A B), on time 1 (A): 回访率 2/3;
     re-rated 3 (A B H), satisfied 2 (A H): 复评满意率 2/3 — by 追评 1 (H) satisfied 1: 1/1, by phone 2 (A B)
     satisfied 1: 1/2; reopened 1 (B); appeals 2 filed (F H), 1 upheld (F).
市南区 370202 (SN01): 9 I 03-03 real-name, visited 03-04, closed 03-10, re-rated 基本满意 by phone -> all 1 of 1.
全市: cases 8, due 6, closed 5, on time 4, overdue 1: 5/6, 4/6; 回访率 3/4; 复评满意率 3/4 (追评 1/1, phone 2/3).
"""

from __future__ import annotations

import json

import pytest
from cases_support import add_ratings

LC = "county:370213"
SN = "county:370202"
NOW = "2025-03-31 17:00:00"


@pytest.fixture
def worked(cli, db_path, monkeypatch):
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 09:00:00", "window": "LC01", "level": "不满意", "phone": "13800000001"},  # A
        {"rated_at": "2025-03-03 09:10:00", "window": "LC01", "level": "非常不满意", "phone": "13800000002"},  # B
        {"rated_at": "2025-03-04 09:00:00", "window": "LC01", "level": "不满意", "case_no": "BJ-C"},  # C
        {"rated_at": "2025-03-05 09:00:00", "window": "LC01", "level": "不满意"},  # D
        {"rated_at": "2025-03-06 09:00:00", "window": "LC01", "level": "不满意", "phone": "13800000003"},  # E
        {"rated_at": "2025-03-07 09:00:00", "window": "LC01", "level": "不满意"},  # F
        {"rated_at": "2025-03-25 09:00:00", "window": "LC01", "level": "不满意"},  # G
        {"rated_at": "2025-03-03 09:20:00", "window": "LC01", "level": "不满意", "case_no": "BJ-H"},  # H
        {"rated_at": "2025-03-03 09:00:00", "window": "SN01", "level": "不满意", "phone": "13800000004"},  # I
        {"rated_at": "2025-03-03 09:30:00", "window": "LC01", "level": "满意"},  # no case
    ])
    steps = [
        ("2025-03-03 14:00:00", LC, "classify", "1", "rectifiable"),
        ("2025-03-03 14:00:00", LC, "classify", "2", "rectifiable"),
        ("2025-03-03 14:00:00", SN, "classify", "9", "rectifiable"),
        ("2025-03-04 10:00:00", LC, "revisit", "1", "--outcome", "reached"),
        ("2025-03-04 10:00:00", SN, "revisit", "9", "--outcome", "reached"),
        ("2025-03-04 11:00:00", LC, "classify", "3", "rectifiable"),
        ("2025-03-05 10:00:00", LC, "revisit", "2", "--outcome", "unreachable", "--note", "三次未接"),
        ("2025-03-06 10:00:00", LC, "classify", "4", "unrectifiable", "--reason", "法定时限所限"),
        ("2025-03-07 10:00:00", LC, "classify", "5", "no-action", "--reason", "与业务无关"),
        ("2025-03-07 10:00:00", LC, "appeal", "6", "--reason", "误评", "--evidence", "录音"),
        ("2025-03-10 09:00:00", "city", "approve", "5"),
        ("2025-03-10 09:00:00", "city", "decide", "6", "--uphold", "--reason", "录音证实"),
        ("2025-03-10 10:00:00", LC, "appeal", "8", "--reason", "恶意评价", "--evidence", "无"),
        ("2025-03-10 16:00:00", LC, "close", "1", "--measures", "培训", "--responsible", "张三"),
        ("2025-03-10 16:00:00", SN, "close", "9", "--measures", "培训", "--responsible", "赵六"),
        ("2025-03-11 09:00:00", "city", "rerate", "1", "--level", "满意"),
        ("2025-03-11 09:00:00", "city", "rerate", "9", "--level", "基本满意"),
        ("2025-03-11 10:00:00", "city", "decide", "8", "--dismiss", "--reason", "证据不足"),
        ("2025-03-12 10:00:00", LC, "classify", "8", "rectifiable"),
        ("2025-03-26 16:00:00", LC, "close", "2", "--measures", "整改", "--responsible", "张三"),
        ("2025-03-27 09:00:00", LC, "rerate", "2", "--level", "不满意"),
        ("2025-03-28 16:00:00", LC, "close", "8", "--measures", "整改", "--responsible", "李四"),
    ]
    for when, operator, *args in steps:
        monkeypatch.setenv("HAOCHA_NOW", when)
        result = cli("cases", *args, operator=operator)
        assert result.exit_code == 0, (args, result.stderr)
    add_ratings(db_path, [  # the raters of C and H come back with their 追评
        {"rated_at": "2025-03-29 10:00:00", "window": "LC01", "level": "不满意", "case_no": "BJ-C", "round": 2},
        {"rated_at": "2025-03-29 10:05:00", "window": "LC01", "level": "基本满意", "case_no": "BJ-H", "round": 2},
    ])
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    return cli


def stats(cli, *args, operator="city") -> dict[str, dict]:
    result = cli("cases", "stats", "--format", "json", *args, operator=operator)
    assert result.exit_code == 0, result.stderr
    return {row["county"]: row for row in json.loads(result.stdout)}


def test_rates_per_county_and_city_against_the_hand_worked_example(worked):
    rows = stats(worked)
    assert len(rows) == 11  # ten counties and the city
    keys = ("cases", "due", "closed", "closed_on_time", "overdue", "real_name", "revisited", "revisited_on_time",
            "rerated", "rerate_satisfied", "reopened", "appeals_filed", "appeals_upheld",
            "rectify_rate", "on_time_rate", "revisit_rate", "rerate_satisfaction",
            "rerated_followup", "rerate_satisfied_followup", "rerate_satisfaction_followup",
            "rerated_phone", "rerate_satisfied_phone", "rerate_satisfaction_phone")
    expected = {
        "370213": (7, 5, 4, 3, 1, 3, 2, 1, 3, 2, 1, 2, 1, 4 / 5, 3 / 5, 2 / 3, 2 / 3, 1, 1, 1.0, 2, 1, 1 / 2),
        "370202": (1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1.0, 1.0, 1.0, 1.0, 0, 0, None, 1, 1, 1.0),
        "total": (8, 6, 5, 4, 1, 4, 3, 2, 4, 3, 1, 2, 1, 5 / 6, 4 / 6, 3 / 4, 3 / 4, 1, 1, 1.0, 3, 2, 2 / 3),
    }
    for county, figures in expected.items():
        assert tuple(rows[county][k] for k in keys) == figures, county
    quiet = rows["370211"]
    assert (quiet["cases"], quiet["rectify_rate"], quiet["revisit_rate"]) == (0, None, None)

    table = worked("cases", "stats", "--format", "csv")
    lines = table.stdout.splitlines()
    assert lines[0] == ("county,name,cases,due,closed,closed_on_time,overdue,整改率,按时整改率,real_name,revisited,"
                        "实名差评回访率,rerated,rerate_satisfied,复评满意率,rerated_followup,追评复评满意率,rerated_phone,"
                        "电话复评满意率,reopened,appeals_filed,appeals_upheld")
    assert lines[-1] == "total,全市,8,6,5,4,1,83.3%,66.7%,4,3,75.0%,4,3,75.0%,1,100.0%,3,66.7%,1,2,1"
    assert "370211,黄岛区,0,0,0,0,0,—,—,0,0,—,0,0,—,0,—,0,—,0,0,0" in lines


def test_period_and_county_filters(worked):
    rows = stats(worked, "--county", "370213", "--from", "2025-03-05", "--to", "2025-03-07")
    assert list(rows) == ["370213"]  # one county: no city total
    row = rows["370213"]
    # D and E (F is excluded): both resolved on time; E is real-name and was not visited.
    keys = ("cases", "due", "closed", "closed_on_time", "real_name", "revisited", "rectify_rate", "revisit_rate",
            "rerate_satisfaction", "appeals_filed", "appeals_upheld")
    assert tuple(row[k] for k in keys) == (2, 2, 2, 2, 1, 0, 1.0, 0.0, None, 1, 1)
    assert list(stats(worked, operator=LC)) == ["370213"]  # a county sees its own figures
    result = worked("cases", "stats", "--county", "370213", operator=SN)
    assert result.stderr.strip() == ("Error: county:370202 may see the cases of county 370202 only, "
                                     "not of 370213 (leave out --county: a county sees its own county's data)")
    result = worked("cases", "stats", "--from", "2025-03-31", "--to", "2025-03-01")
    assert result.stderr.strip() == "Error: --to 2025-03-01 is before --from 2025-03-31 (swap the dates)"
