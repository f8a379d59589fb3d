"""整改复评 has a source (issue 19): the rater's own 追评 of the case's 办件, linked by the import (a file or the
rating page), or a real-name rater's verdict on the phone recorded by the county with who called; an
anonymous case cannot get a county-recorded re-rating, on the command line or in the workbench."""

from __future__ import annotations

import json
import re
import sqlite3

from cases_support import add_ratings
from support import ok
from workbench_support import build, logged_in, post

from haocha_cli.context import os_person

LC = "county:370213"
HEAD = "评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度,办件编号,评价次数,联系电话\n"
ANONYMOUS_REFUSAL = (
    "Error: case {id} is an anonymous review: nobody can be called for its re-rating (only the rater's own 追评 of"
    " the 办件 (imported, or from the rating page) re-rates it; a re-rating by phone is for real-name (实名)"
    " reviews)\n")


def rows(db_path, sql, params=()):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def write(tmp_path, name: str, *lines: str):
    path = tmp_path / name
    path.write_text(HEAD + "".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def imported(run, when: str, path: str) -> dict:
    [summary] = json.loads(ok(run(when, "import", path, "--format", "json")).stdout)
    return summary


def worked_to_closed(run, *case_ids: int, closed_at: str = "2025-03-05 16:00:00") -> None:
    for case_id in case_ids:
        ok(run("2025-03-04 09:00:00", "cases", "classify", str(case_id), "rectifiable", operator=LC))
        ok(run(closed_at, "cases", "close", str(case_id), "--measures", "服务规范培训", "--responsible", "张三",
               operator=LC))


def test_a_followup_imported_for_a_closed_case_re_rates_it_and_a_dissatisfied_one_reopens_it(run, db_path, tmp_path):
    first = imported(run, "2025-03-03 12:00:00", write(
        tmp_path, "first.csv",
        "Q1,2025-03-03 09:00:00,LC01,二维码,XK01,不满意,BJ001,1,",
        "Q2,2025-03-03 09:30:00,LC01,二维码,XK01,非常不满意,BJ002,1,"))
    assert first["cases_opened"] == 2  # both anonymous
    worked_to_closed(run, 1, 2)
    # The raters come back the next day, with their 追评 of the same 办件 in the channel's next file.
    followups = imported(run, "2025-03-06 12:00:00", write(
        tmp_path, "followups.csv",
        "Q1-ZP,2025-03-06 10:00:00,LC01,二维码,XK01,非常满意,BJ001,2,",
        "Q2-ZP,2025-03-06 10:30:00,LC01,二维码,XK01,非常不满意,BJ002,2,"))
    assert (followups["accepted"], followups["cases_opened"], followups["cases_rerated"]) == (2, 0, 2)
    ids = dict(rows(db_path, "SELECT rating_id, id FROM ratings WHERE rating_round = 2"))
    # 非常满意 → 满意 ends the case; 非常不满意 → 不满意 reopens it, rectified again within 15 working days of
    # Thursday 2025-03-06: 7, 10–14, 17–21, 24–27 March.
    assert rows(db_path, "SELECT id, state, rerate_level, rerate_source, rerate_caller, rerate_rating_id, rerated_at,"
                         " reopen_count, rectify_from, rectify_due FROM cases ORDER BY id") == [
        (1, "rerated", "满意", "followup", None, ids["Q1-ZP"], "2025-03-06 12:00:00", 0, "2025-03-03", "2025-03-24"),
        (2, "reopened", "不满意", "followup", None, ids["Q2-ZP"], "2025-03-06 12:00:00", 1, "2025-03-06",
         "2025-03-27")]
    # The events are the import's: its role and its person (the OS login of the command line).
    [(importer,)] = rows(db_path, "SELECT person FROM audit_events WHERE action = 'ratings.import' AND entity_id = '2'")
    assert importer == os_person()
    events = rows(db_path, "SELECT entity_id, operator, person, after FROM audit_events WHERE action = 'case.rerate'"
                           " ORDER BY id")
    assert [(e[0], e[1], e[2]) for e in events] == [("1", "city", importer), ("2", "city", importer)]
    assert json.loads(events[0][3]) == {"rerate_level": "满意", "rerated_at": "2025-03-06 12:00:00",
                                        "state": "rerated", "rerate_source": "followup", "rerate_caller": None,
                                        "rerate_rating_id": ids["Q1-ZP"], "rating": ids["Q1-ZP"],
                                        "rating_id": "Q1-ZP", "followup_level": "非常满意"}
    assert json.loads(events[1][3])["state"] == "reopened"
    # Rectified again, the anonymous case waits for nothing more: its rater has no second 追评, and nobody can
    # be called for it.
    ok(run("2025-03-10 16:00:00", "cases", "close", "2", "--measures", "更换窗口人员", "--responsible", "李四",
           operator=LC))
    shown = json.loads(ok(run("2025-03-10 17:00:00", "cases", "show", "2", "--format", "json")).stdout)
    assert (shown["case"]["state"], shown["case"]["rerate_source_name"], shown["allowed"]) == (
        "closed", "追评", ["reopen (city)"])
    # The 追评 re-rated cases: the batch has been acted on and cannot be withdrawn.
    refused = run("2025-03-10 17:00:00", "batches", "withdraw", "2", "--reason", "测试")
    assert refused.exit_code == 1
    assert refused.stderr == ("Error: batch 2 (followups.csv) cannot be withdrawn: 2 of its ratings are 追评 that"
                              " re-rated a case (整改复评) (a batch is withdrawn only while nothing has happened to"
                              " it; settle those first)\n")
    ok(run("2025-03-10 17:00:00", "audit", "verify"))


def test_a_followup_before_the_closure_or_of_an_open_case_is_no_re_rating(run, db_path, tmp_path):
    imported(run, "2025-03-03 12:00:00", write(
        tmp_path, "first.csv",
        "Q1,2025-03-03 09:00:00,LC01,二维码,XK01,不满意,BJ001,1,",
        "Q2,2025-03-03 09:30:00,LC01,二维码,XK01,不满意,BJ002,1,13812340002",
        "Q3,2025-03-03 09:40:00,LC01,二维码,XK01,满意,BJ003,1,"))
    worked_to_closed(run, 1)  # closed 2025-03-05 16:00
    ok(run("2025-03-04 09:00:00", "cases", "classify", "2", "rectifiable", operator=LC))  # still rectifying
    summary = imported(run, "2025-03-06 09:00:00", write(
        tmp_path, "followups.csv",
        "Q1-ZP,2025-03-05 10:00:00,LC01,二维码,XK01,满意,BJ001,2,",  # given before the closure
        "Q2-ZP,2025-03-05 11:00:00,LC01,二维码,XK01,非常不满意,BJ002,2,13812340002",  # the case is open
        "Q3-ZP,2025-03-05 12:00:00,LC01,二维码,XK01,不满意,BJ003,2,"))  # a bad 追评 of a 办件 without a case
    # Q1's and Q2's 追评 reach their cases without re-rating them (Q2's bad one opens no second case);
    # Q3's first rating was good: its bad 追评 opens a case of its own.
    assert (summary["cases_opened"], summary["cases_rerated"]) == (1, 0)
    assert rows(db_path, "SELECT c.id, c.state, c.rerate_level, c.rerate_source, r.rating_id FROM cases c"
                         " JOIN ratings r ON r.id = c.rating_id ORDER BY c.id") == [
        (1, "closed", None, None, "Q1"), (2, "rectifying", None, None, "Q2"), (3, "new", None, None, "Q3-ZP")]
    noted = rows(db_path, "SELECT entity_id, after FROM audit_events WHERE action = 'case.followup' ORDER BY id")
    assert [(case, json.loads(after)["followup_level"], json.loads(after)["note"]) for case, after in noted] == [
        ("1", "满意", "追评早于整改办结，不作为整改复评"), ("2", "非常不满意", "案件整改中，追评不作为整改复评")]
    history = json.loads(ok(run("2025-03-06 10:00:00", "cases", "show", "1", "--format", "json")).stdout)["history"]
    assert [e["action"] for e in history] == ["case.open", "case.classify", "case.close", "case.followup"]


def test_a_phone_re_rating_of_a_real_name_case_is_recorded_with_who_called(run, db_path):
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 09:00:00", "window": "LC01", "level": "不满意", "phone": "13812340001"},
        {"rated_at": "2025-03-03 09:10:00", "window": "LC01", "level": "不满意", "phone": "13812340002"}])
    worked_to_closed(run, 1, 2)
    result = ok(run("2025-03-06 10:00:00", "cases", "rerate", "1", "--level", "基本满意", "--caller", "张三",
                    operator=LC))
    assert result.stderr.strip() == "case 1: now rerated (已复评办结)"
    ok(run("2025-03-06 11:00:00", "cases", "rerate", "2", "--level", "满意", operator=LC))  # who records it called
    assert rows(db_path, "SELECT id, state, rerate_level, rerate_source, rerate_caller, rerate_rating_id FROM cases"
                         " ORDER BY id") == [(1, "rerated", "基本满意", "phone", "张三", None),
                                             (2, "rerated", "满意", "phone", os_person(), None)]
    events = rows(db_path, "SELECT entity_id, operator, person, after FROM audit_events WHERE action = 'case.rerate'"
                           " ORDER BY id")
    assert [(e[0], e[1], e[2]) for e in events] == [("1", LC, os_person()), ("2", LC, os_person())]
    assert {k: json.loads(events[0][3])[k] for k in ("rerate_level", "state", "rerate_source", "rerate_caller")} == {
        "rerate_level": "基本满意", "state": "rerated", "rerate_source": "phone", "rerate_caller": "张三"}
    shown = json.loads(ok(run("2025-03-06 12:00:00", "cases", "show", "1", "--format", "json")).stdout)["case"]
    assert (shown["rerate_source"], shown["rerate_source_name"], shown["rerate_caller"]) == ("phone", "电话回访", "张三")


def test_an_anonymous_case_cannot_get_a_county_recorded_re_rating(run, db_path):
    add_ratings(db_path, [{"rated_at": "2025-03-03 09:00:00", "window": "LC01", "level": "不满意"}])
    worked_to_closed(run, 1)
    before = rows(db_path, "SELECT * FROM cases"), rows(db_path, "SELECT count(*) FROM audit_events")
    for operator in (LC, "city"):
        result = run("2025-03-06 10:00:00", "cases", "rerate", "1", "--level", "满意", operator=operator)
        assert result.exit_code == 1
        assert result.stderr == ANONYMOUS_REFUSAL.format(id=1)
    assert (rows(db_path, "SELECT * FROM cases"), rows(db_path, "SELECT count(*) FROM audit_events")) == before
    # Its state allows no re-rating by anyone: the list of what can be done now does not offer it.
    shown = json.loads(ok(run("2025-03-06 10:00:00", "cases", "show", "1", "--format", "json")).stdout)
    assert shown["allowed"] == ["reopen (city)"]


def test_the_workbench_offers_no_re_rating_of_an_anonymous_case_and_refuses_the_post(db_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-06 10:00:00")
    cases = build(db_path)  # 李沧: case 1 real-name, case 2 anonymous
    county = logged_in(db_path, "lc")
    for case in (cases["lc_real"], cases["lc_anon"]):
        post(county, f"/staff/cases/{case}/classify", {"classification": "rectifiable"})
        assert post(county, f"/staff/cases/{case}/close", {"measures": "培训", "responsible": "王五"}).status_code == 303
    anonymous = county.get(f"/staff/cases/{cases['lc_anon']}").text
    assert 'id="form-rerate"' not in anonymous and 'name="caller"' not in anonymous
    assert "匿名评价：无法电话回访，整改复评只来自评价人自己的追评" in anonymous
    real = county.get(f"/staff/cases/{cases['lc_real']}").text
    assert 'id="form-rerate"' in real and 'name="caller"' in real and "记录电话复评" in real
    refused = post(county, f"/staff/cases/{cases['lc_anon']}/rerate", {"level": "满意"})
    assert refused.status_code == 400
    assert "anonymous review: nobody can be called for its re-rating" in refused.text
    assert post(county, f"/staff/cases/{cases['lc_real']}/rerate", {"level": "满意", "caller": "王五"}).status_code == 303
    assert rows(db_path, "SELECT id, state, rerate_source, rerate_caller FROM cases WHERE id IN (1, 2) ORDER BY id") == [
        (1, "rerated", "phone", "王五"), (2, "closed", None, None)]
    assert rows(db_path, "SELECT entity_id, operator, person FROM audit_events WHERE action = 'case.rerate'") == [
        ("1", LC, "lc")]
    page = county.get(f"/staff/cases/{cases['lc_real']}").text
    assert re.search(r"<dt>整改复评</dt><dd>满意（2024-05-06 10:00，电话回访：王五）</dd>", page)


def test_a_followup_on_the_rating_page_re_rates_its_case(db_path, run, monkeypatch):
    from test_serve import _HIDDEN, make_client, rate, reference_of

    monkeypatch.setenv("HAOCHA_NOW", "2024-05-06 10:00:00")
    client = make_client(db_path)
    page = rate(client, db_path, level="非常不满意", p=["D1"])  # anonymous: a case, and a reference number
    reference = reference_of(page.text)
    ok(run("2024-05-06 11:00:00", "cases", "classify", "1", "rectifiable", operator=LC))
    ok(run("2024-05-07 16:00:00", "cases", "close", "1", "--measures", "培训", "--responsible", "张三", operator=LC))
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-08 10:00:00")
    form = dict(_HIDDEN.findall(client.get("/r/followup", params={"ref": reference}).text))
    done = client.post("/r/followup", data={**form, "level": "基本满意"})
    assert done.status_code == 200 and "追评已提交" in done.text
    [(followup,)] = rows(db_path, "SELECT id FROM ratings WHERE rating_round = 2")
    assert rows(db_path, "SELECT state, rerate_level, rerate_source, rerate_rating_id, rerated_at FROM cases") == [
        ("rerated", "基本满意", "followup", followup, "2024-05-08 10:00:00")]
    assert rows(db_path, "SELECT operator, person FROM audit_events WHERE action = 'case.rerate'") == [
        ("serve", "rater")]
