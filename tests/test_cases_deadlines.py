"""Case deadlines in working days against the State Council's holiday notices, the local calendar
entries that move them, and the weekends-only fallback beyond the official calendar.

Each expected date was counted by hand, day by day, from the notices (the start day never counts):
- 2025-01-24 (Fri): 01-26 Sun is a make-up workday (1), 01-27 (2), 01-28..02-04 off, 02-05..02-07 (3–5),
  02-08 Sat make-up (6), 02-10..02-14 (7–11), 02-17..02-20 (12–15) -> 2025-02-20; return visit 01-26.
- 2025-01-27 (Mon, 18:00): 02-05 (1) … 02-08 Sat (4), 02-10..14 (5–9), 02-17..21 (10–14), 02-24 (15).
- 2025-09-30 (Tue): 10-01..10-08 off, 10-09 (1), 10-10 (2), 10-11 Sat make-up (3), 10-13..17 (4–8),
  10-20..24 (9–13), 10-27 (14), 10-28 (15); return visit 10-09.
- 2024-02-08 (Thu, 21:30): 02-09 除夕 is a working day (1), 02-10..02-17 off, 02-18 Sun make-up (2),
  02-19..23 (3–7), 02-26..03-01 (8–12), 03-04..03-06 (13–15); return visit 02-09.
- 2024-09-28 (Sat): 09-29 Sun make-up (1), 09-30 (2), 10-01..10-07 off, 10-08..11 (3–6), 10-12 Sat make-up
  (7), 10-14..18 (8–12), 10-21..23 (13–15); return visit 09-29.
- 2026-02-13 (Fri): 02-14 Sat make-up (1), 02-15..02-23 off, 02-24..27 (2–5), 02-28 Sat make-up (6),
  03-02..06 (7–11), 03-09..12 (12–15); return visit 02-14.
- 2026-09-30 (Wed): 10-01..10-07 off, 10-08 (1), 10-09 (2), 10-10 Sat make-up (3), 10-12..16 (4–8),
  10-19..23 (9–13), 10-26 (14), 10-27 (15); return visit 10-08.
"""

from __future__ import annotations

import json

from cases_support import add_ratings
from support import ok

from haocha_cli.official_calendar import FIRST_KNOWN_YEAR, LAST_KNOWN_YEAR

LC = "county:370213"






def listed(run, when="2024-01-01 00:00:00") -> list[dict]:
    return json.loads(ok(run(when, "cases", "list", "--status", "all", "--format", "json")).stdout)


HAND_CHECKED = [
    ("2025-01-24 10:00:00", "2025-01-26", "2025-02-20"),
    ("2025-01-27 18:00:00", "2025-02-05", "2025-02-24"),
    ("2025-09-30 16:00:00", "2025-10-09", "2025-10-28"),
    ("2024-02-08 21:30:00", "2024-02-09", "2024-03-06"),
    ("2024-09-28 10:00:00", "2024-09-29", "2024-10-23"),
    ("2026-02-13 10:00:00", "2026-02-14", "2026-03-12"),
    ("2026-09-30 10:00:00", "2026-10-08", "2026-10-27"),
]


def test_deadlines_follow_the_official_holidays_and_make_up_days(db_path, run):
    add_ratings(db_path, [{"rated_at": at, "window": "LC01", "level": "不满意", "phone": "13812341234"}
                          for at, _, _ in HAND_CHECKED])
    rows = sorted(listed(run), key=lambda r: r["id"])
    assert [(r["rated_at"], r["revisit_due"], r["rectify_due"]) for r in rows] == HAND_CHECKED


def test_configured_deadlines_and_bad_levels(db_path, run):
    (db_path.parent / "haocha.toml").write_text(
        '[deadlines]\nrectify_days = 5\nrevisit_days = 2\n', encoding="utf-8")
    add_ratings(db_path, [{"rated_at": "2025-01-24 10:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812341234"}])
    # Five working days (Dezhou's rule): 01-26 (1), 01-27 (2), 02-05, 02-06, 02-07 (5); visit: 2 -> 01-27.
    assert [(r["revisit_due"], r["rectify_due"]) for r in listed(run)] == [("2025-01-27", "2025-02-07")]

    (db_path.parent / "haocha.toml").write_text('bad_levels = ["非常不满意"]\n', encoding="utf-8")
    add_ratings(db_path, [{"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意"},
                          {"rated_at": "2025-03-03 10:01:00", "window": "LC01", "level": "非常不满意"}])
    assert [r["level"] for r in listed(run)] == ["不满意", "非常不满意"]  # the first case, then the new one


UNKNOWN_2031 = ("2031 年的调休安排尚未确定：期限已避开周末和《全国年节及纪念日放假办法》（2024年修订）规定的法定节假日"
                "（元旦、春节、清明节、劳动节、端午节、中秋节、国庆节），未含国务院放假通知将安排的调休上班日和补假；"
                "通知发布后由市局导入（haocha calendar import），未办结事项的期限将重新计算。")


def test_beyond_the_official_calendar_statutory_holidays_and_said_so(db_path, run):
    assert LAST_KNOWN_YEAR < 2031, "pick a later year for this test"
    # 2031-03-03 is a Monday, and March has no statutory holiday: 15 weekdays later is Monday 2031-03-24.
    add_ratings(db_path, [{"rated_at": "2031-03-03 10:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812341234"}])
    rows = listed(run, "2031-03-03 12:00:00")
    assert [(r["revisit_due"], r["rectify_due"]) for r in rows] == [("2031-03-04", "2031-03-24")]
    note = json.loads(ok(run("2031-03-03 12:00:00", "cases", "show", "1", "--format", "json")).stdout)
    assert note["case"]["calendar_note"] == UNKNOWN_2031


def test_calendar_entries_move_the_deadlines_of_open_cases_only(db_path, run):
    add_ratings(db_path, [
        {"rated_at": "2031-03-03 10:00:00", "window": "LC01", "level": "不满意", "phone": "13812341234"},
        {"rated_at": "2031-03-03 11:00:00", "window": "LC01", "level": "不满意"},
    ])
    ok(run("2031-03-03 15:00:00", "cases", "classify", "2", "rectifiable", operator=LC))
    ok(run("2031-03-03 16:00:00", "cases", "close", "2", "--measures", "当日整改", "--responsible", "王五",
           operator=LC))
    result = run("2031-03-04 09:00:00", "calendar", "add-holiday", "2031-03-04", operator=LC)
    assert (result.exit_code, result.stderr.strip()) == (
        1, "Error: changing the working-day calendar is the city bureau's (市局) task; county:370213 "
           "may not do it (the city bureau's staff (市局) do it)")

    result = ok(run("2031-03-04 09:00:00", "calendar", "add-holiday", "2031-03-04", "--note", "地方假日"))
    # Case 1 (open) moves a day for both deadlines; case 2 (closed) keeps its own.
    assert result.stderr.splitlines() == [
        "2031-03-04 recorded as a holiday",
        "case 1: rectify_due 2031-03-24 -> 2031-03-25",
        "case 1: revisit_due 2031-03-04 -> 2031-03-05",
        "1 open case(s) got new deadlines",
    ]
    result = ok(run("2031-03-04 09:10:00", "calendar", "add-workday", "2031-03-08", "--note", "调休上班"))
    assert result.stderr.splitlines()[1:] == ["case 1: rectify_due 2031-03-25 -> 2031-03-24",
                                              "1 open case(s) got new deadlines"]
    rows = sorted(listed(run, "2031-03-04 10:00:00"), key=lambda r: r["id"])
    assert [(r["id"], r["revisit_due"], r["rectify_due"]) for r in rows] == [
        (1, "2031-03-05", "2031-03-24"), (2, None, "2031-03-24")]

    shown = json.loads(ok(run("2031-03-04 10:00:00", "calendar", "show", "--format", "json")).stdout)
    assert [(r["day"], r["weekday"], r["kind"], r["source"], r["note"]) for r in shown["rows"]] == [
        ("2031-03-04", "周二", "holiday", "local", "地方假日"),
        ("2031-03-08", "周六", "make-up workday (调休)", "local", "调休上班"),
    ]
    events = json.loads(ok(run("2031-03-04 10:00:00", "audit", "log", "--entity", "calendar",
                               "--format", "json")).stdout)
    assert [(e["action"], e["entity_id"]) for e in events] == [("calendar.add-holiday", "2031-03-04"),
                                                               ("calendar.add-workday", "2031-03-08")]



def test_a_calendar_file_records_many_days_at_once_and_again_changes_nothing(db_path, run, tmp_path):
    add_ratings(db_path, [{"rated_at": "2031-03-03 10:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812341234"}])
    notice = tmp_path / "假日-2031.csv"
    notice.write_bytes("日期,类型,备注\n2031-03-04,放假,地方假日\n2031-03-05,放假,地方假日\n\n2031-03-08,调休上班,\n"
                       .encode("gb18030"))  # as Chinese Excel saves it
    result = ok(run("2031-03-03 15:00:00", "calendar", "import", str(notice)))
    assert result.stderr.splitlines() == [
        "假日-2031.csv: 3 day(s), 3 recorded (2 holiday(s), 1 working day(s)), 0 already recorded",
        "1 open case(s) got new deadlines"]
    # two days off, one Saturday worked: the 15 working days end one day later, the visit two days later
    rows = listed(run, "2031-03-03 16:00:00")
    assert [(r["revisit_due"], r["rectify_due"]) for r in rows] == [("2031-03-06", "2031-03-25")]
    events = json.loads(ok(run("2031-03-03 16:00:00", "audit", "log", "--entity", "calendar", "--format",
                               "json")).stdout)
    assert [(e["action"], e["entity_id"]) for e in events] == [
        ("calendar.add-holiday", "2031-03-04"), ("calendar.add-holiday", "2031-03-05"),
        ("calendar.add-workday", "2031-03-08")]
    again = ok(run("2031-03-03 16:00:00", "calendar", "import", str(notice)))
    assert again.stderr.splitlines() == ["假日-2031.csv: 3 day(s), 0 recorded (0 holiday(s), 0 working day(s)),"
                                         " 3 already recorded"]
    same = ok(run("2031-03-03 16:00:00", "calendar", "add-holiday", "2031-03-04", "--note", "地方假日"))
    assert same.stderr == "2031-03-04 is recorded as a holiday already; nothing changed\n"
    assert len(json.loads(ok(run("2031-03-03 16:00:00", "audit", "log", "--entity", "calendar", "--format",
                                 "json")).stdout)) == 3

    # a mistaken entry is removed: the day is the official calendar's again, the deadlines move back
    removed = ok(run("2031-03-03 16:30:00", "calendar", "remove", "2031-03-05"))
    assert removed.stderr.splitlines() == [
        "2031-03-05: local entry removed; the official calendar says not known to the official calendar (weekends"
        " and the statutory holidays are days off)",
        "case 1: rectify_due 2031-03-25 -> 2031-03-24", "case 1: revisit_due 2031-03-06 -> 2031-03-05",
        "1 open case(s) got new deadlines"]
    again = run("2031-03-03 16:30:00", "calendar", "remove", "2031-03-05")
    assert (again.exit_code, again.stderr) == (1, "Error: 2031-03-05 has no local calendar entry (`haocha calendar"
                                                  " show` lists the local entries)\n")
    refused = run("2031-03-03 16:30:00", "calendar", "remove", "2031-03-04", operator=LC)
    assert refused.exit_code == 1 and "is the city bureau's (市局) task" in refused.stderr
    last = json.loads(ok(run("2031-03-03 16:40:00", "audit", "log", "--entity", "calendar", "--limit", "1",
                             "--format", "json")).stdout)[0]
    assert (last["action"], last["entity_id"], json.loads(last["before"])) == (
        "calendar.remove", "2031-03-05", {"is_workday": False, "note": "地方假日"})


def test_a_calendar_file_with_bad_lines_names_them_all_and_records_nothing(db_path, run, tmp_path):
    notice = tmp_path / "holidays.csv"
    notice.write_text("day,kind,note\n2031-02-30,holiday,x\n2031-03-04,休假日,y\n2031-03-05,holiday,\n"
                      "2031-03-05,workday,\n", encoding="utf-8")
    result = run("2031-03-03 15:00:00", "calendar", "import", str(notice))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: 3 line(s) of holidays.csv cannot be read, so nothing was changed:",
        "  - holidays.csv line 2: the day '2031-02-30' is not a date (use YYYY-MM-DD, e.g. 2027-02-08)",
        "  - holidays.csv line 3: kind '休假日' is not known (use 放假 or 调休上班, holiday or workday)",
        "  - holidays.csv line 5: 2031-03-05 is already on line 4 (fix them and import the file again)"]
    assert json.loads(ok(run("2031-03-03 15:00:00", "calendar", "show", "--format", "json")).stdout)["rows"] == []
    (tmp_path / "x.csv").write_text("when,what\n2031-03-04,holiday\n", encoding="utf-8")
    result = run("2031-03-03 15:00:00", "calendar", "import", str(tmp_path / "x.csv"))
    assert result.stderr == ("Error: x.csv needs the columns day (日期) and kind (类型); found: when, what"
                             " (e.g. 日期,类型,备注 then 2027-02-08,放假,春节)\n")

def test_calendar_show_lists_the_official_holidays_and_make_up_days(db_path, run):
    shown = json.loads(ok(run("2025-01-01 00:00:00", "calendar", "show", "--year", "2025", "--format", "json")).stdout)
    days = {r["day"]: (r["kind"], r["source"], r["holiday"]) for r in shown["rows"]}
    assert days["2025-01-26"] == ("make-up workday (调休)", "official", "春节 Spring Festival")
    assert days["2025-02-08"] == ("make-up workday (调休)", "official", "春节 Spring Festival")
    assert days["2025-01-28"] == ("holiday", "official", "春节 Spring Festival")
    assert days["2025-10-08"][:2] == ("holiday", "official")
    assert days["2025-10-11"][:2] == ("make-up workday (调休)", "official")
    assert "2025-01-25" not in days  # an ordinary Saturday
    assert shown["note"] is None
    result = ok(run("2025-01-01 00:00:00", "calendar", "show", "--year", "2031"))
    assert f"2031 is beyond the official calendar haocha knows ({FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR})" in result.stderr


# --- a year the official calendar does not cover: the statutory holidays, and the warning ----------------------

UNKNOWN_2027 = UNKNOWN_2031.replace("2031", "2027")

# Real-name bad reviews next to each statutory holiday of 2027 (《全国年节及纪念日放假办法》, 2024 revision), with
# the deadlines counted by hand (return visit 1 working day, rectification 15; the start day never counts):
# - 2026-12-31 Thu: 元旦 Fri 01-01 off, visit Mon 01-04; 01-04..08, 11..15, 18..22 -> 01-22.
# - 2027-02-04 Thu: 除夕 Fri 02-05, Sat, Sun, 初三 Mon 02-08 off, visit Tue 02-09; 02-09..12 (1-4), 15..19 (5-9),
#   22..26 (10-14), Mon 03-01 (15). (Weekends only, as before, gave 02-05 and 02-25: days too early.)
# - 2027-04-02 Fri: 清明 Mon 04-05 off, visit Tue 04-06; 04-06..09, 12..16, 19..23, 26 -> 04-26.
# - 2027-04-30 Fri: 劳动节 05-01..02 is a weekend, visit Mon 05-03; 05-03..07, 10..14, 17..21 -> 05-21.
# - 2027-06-08 Tue: 端午 Wed 06-09 off, visit Thu 06-10; 06-10, 11, 14..18, 21..25, 28, 29, 30 -> 06-30.
# - 2027-09-14 Tue: 中秋 Wed 09-15 off, visit Thu 09-16; 09-16, 17, 20..24, 27..30 (1-11), 国庆 10-01 off,
#   10-04..07 (12-15) -> 10-07.
# - 2027-09-30 Thu: 国庆 Fri 10-01, Sat, Sun off, visit Mon 10-04; 10-04..08, 11..15, 18..22 -> 10-22.
AROUND_2027 = [
    ("2026-12-31 10:00:00", "2027-01-04", "2027-01-22"),
    ("2027-02-04 10:00:00", "2027-02-09", "2027-03-01"),
    ("2027-04-02 10:00:00", "2027-04-06", "2027-04-26"),
    ("2027-04-30 10:00:00", "2027-05-03", "2027-05-21"),
    ("2027-06-08 10:00:00", "2027-06-10", "2027-06-30"),
    ("2027-09-14 10:00:00", "2027-09-16", "2027-10-07"),
    ("2027-09-30 10:00:00", "2027-10-04", "2027-10-22"),
]
STATUTORY_DAYS_2027 = {  # as tests/test_workdays.py::STATUTORY_2027 (the lunar new year is 2027-02-06)
    "2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-04-05", "2027-05-01",
    "2027-05-02", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02", "2027-10-03"}
# A hypothetical 2027 notice (the real one is not out on 2026-12-01), as a bureau would type it.
NOTICE_2027 = ("日期,类型,备注\n" + "".join(f"2027-01-0{d},放假,元旦\n" for d in (1, 2, 3))
               + "".join(f"2027-02-{d:02d},放假,春节\n" for d in range(5, 14)) + "2027-02-20,调休上班,春节\n"
               + "2027-09-26,调休上班,国庆节\n" + "".join(f"2027-10-0{d},放假,国庆节\n" for d in range(1, 8))
               + "2027-10-09,调休上班,国庆节\n")


def _case_page(db_path, monkeypatch, when: str, path: str) -> str:
    from workbench_support import client_for, login

    from haocha_cli import accounts
    from haocha_cli.context import open_context

    ctx = open_context(db_path, "admin")
    try:
        if not ctx.db.execute("SELECT 1 FROM accounts WHERE username = 'city'").fetchone():
            accounts.add(ctx, "city", "市局丙", "city", "city-pass-0001")
    finally:
        ctx.db.close()
    monkeypatch.setenv("HAOCHA_NOW", when)
    client = client_for(db_path)
    assert login(client, "city", "city-pass-0001").status_code == 303
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text


def test_bad_reviews_around_the_2027_holidays_skip_them_and_say_that_the_tiaoxiu_is_unknown(
        db_path, run, tmp_path, monkeypatch):
    assert LAST_KNOWN_YEAR == 2026, "the package knows 2027 now: take 2028 or a later year for this test"
    add_ratings(db_path, [{"rated_at": at, "window": "LC01", "level": "不满意", "phone": "13812341234"}
                          for at, _, _ in AROUND_2027])
    when = "2027-01-05 09:00:00"
    rows = sorted(listed(run, when), key=lambda r: r["id"])
    assert [(r["rated_at"], r["revisit_due"], r["rectify_due"]) for r in rows] == AROUND_2027
    assert {d for r in rows for d in (r["revisit_due"], r["rectify_due"])} & STATUTORY_DAYS_2027 == set()
    # Every output that shows these deadlines says that 2027's make-up working days are not known yet.
    assert {r["calendar_note"] for r in rows} == {UNKNOWN_2027}
    table = ok(run(when, "cases", "list", "--status", "all"))
    assert table.stderr.splitlines() == [UNKNOWN_2027]  # once, under the table
    shown = json.loads(ok(run(when, "cases", "show", "2", "--format", "json")).stdout)
    assert (shown["case"]["rectify_due"], shown["case"]["calendar_note"]) == ("2027-03-01", UNKNOWN_2027)
    assert "调休安排尚未确定" in ok(run(when, "cases", "show", "2")).stdout.replace("\n", "").replace(" ", "")
    page = _case_page(db_path, monkeypatch, when, "/staff/cases/2")
    assert f"<dt>日历说明</dt><dd class=\"calendar-note\">{UNKNOWN_2027}</dd>" in page
    assert f'<p class="calendar-note">{UNKNOWN_2027}</p>' in _case_page(db_path, monkeypatch, when,
                                                                           "/staff/cases?status=all")
    todo = json.loads(ok(run(when, "status", "--format", "json")).stdout)["to_do"]
    assert ("2027's holiday notice is not recorded yet: its deadlines skip weekends and the statutory holidays,"
            " not the make-up working days (调休); haocha calendar import the State Council's notice") in todo

    calendar = json.loads(ok(run(when, "calendar", "show", "--year", "2027", "--format", "json")).stdout)
    assert {r["day"] for r in calendar["rows"]} == STATUTORY_DAYS_2027
    assert {(r["kind"], r["source"], r["note"]) for r in calendar["rows"]} == {
        ("holiday", "statutory", "法定节假日（未含调休）")}
    assert [r["holiday"] for r in calendar["rows"]][:2] == ["元旦 New Year's Day", "春节 Spring Festival"]
    said = ok(run(when, "calendar", "show", "--year", "2027")).stderr
    assert "make-up working days (调休) are not known until the State Council's notice is recorded" in said

    # The notice comes out: importing it recounts the open cases' deadlines, and the warning goes.
    notice = tmp_path / "假日-2027.csv"
    notice.write_bytes(NOTICE_2027.encode("gb18030"))
    result = ok(run(when, "calendar", "import", str(notice)))
    assert result.stderr.splitlines() == [
        "假日-2027.csv: 22 day(s), 22 recorded (19 holiday(s), 3 working day(s)), 0 already recorded",
        "3 open case(s) got new deadlines"]
    # 2027-02-04: 02-05..13 off, visit Mon 02-15; 02-15..19 (1-5), Sat 02-20 worked (6), 02-22..26 (7-11),
    #   03-01..04 (12-15). 2027-09-14: 09-16, 17, 20..24 (1-7), Sun 09-26 worked (8), 27..30 (9-12), 10-01..07
    #   off, 10-08 (13), Sat 10-09 worked (14), 10-11 (15). 2027-09-30: visit Fri 10-08; 10-08, 10-09 (1-2),
    #   10-11..15, 18..22 (3-12), 25..27 -> 10-27. The others do not move.
    rows = sorted(listed(run, when), key=lambda r: r["id"])
    assert [(r["revisit_due"], r["rectify_due"]) for r in rows] == [
        ("2027-01-04", "2027-01-22"), ("2027-02-15", "2027-03-04"), ("2027-04-06", "2027-04-26"),
        ("2027-05-03", "2027-05-21"), ("2027-06-10", "2027-06-30"), ("2027-09-16", "2027-10-11"),
        ("2027-10-08", "2027-10-27")]
    assert {r["calendar_note"] for r in rows} == {None}
    assert ok(run(when, "cases", "list", "--status", "all")).stderr == ""
    assert "calendar-note" not in _case_page(db_path, monkeypatch, when, "/staff/cases/2")
    assert not [t for t in json.loads(ok(run(when, "status", "--format", "json")).stdout)["to_do"]
                if "holiday notice" in t]
    calendar = json.loads(ok(run(when, "calendar", "show", "--year", "2027", "--format", "json")).stdout)
    days = {r["day"]: (r["source"], r["kind"], r["note"]) for r in calendar["rows"]}
    assert days["2027-04-05"] == ("statutory", "holiday", "法定节假日")  # not in the notice: still a day off
    assert days["2027-02-20"] == ("local", "make-up workday (调休)", "春节")
    assert days["2027-02-06"][0] == "local" and "the local entries below (the year's notice)" in calendar["note"]


def test_the_year_after_is_counted_the_same_way(db_path, run, tmp_path):
    """2028 too, whether or not 2027's notice is in: a review on Mon 2028-01-24 skips 除夕 Tue 01-25 .. 初三
    Fri 01-28 (visit Mon 01-31; 01-31..02-04, 07..11, 14..18 -> 02-18); one on Fri 2028-09-29 skips 国庆 10-01..03
    (中秋 is 10-03): visit Wed 10-04; 10-04..06 (1-3), 09..13 (4-8), 16..20 (9-13), 23, 24 -> 10-24."""
    def needed(when: str) -> list[str]:  # the status's to-do about a notice, by the year it names
        todo = json.loads(ok(run(when, "status", "--format", "json")).stdout)["to_do"]
        return [t[:41] for t in todo if "holiday notice" in t]

    # In December 2027 the coming deadlines need 2027's notice and 2028's: the status names the first missing.
    assert needed("2027-12-01 09:00:00") == ["2027's holiday notice is not recorded yet"]
    notice = tmp_path / "2027.csv"
    notice.write_bytes(NOTICE_2027.encode("utf-8"))
    ok(run("2026-12-01 09:00:00", "calendar", "import", str(notice)))
    assert needed("2027-12-01 09:00:00") == ["2028's holiday notice is not recorded yet"]
    assert needed("2027-11-01 09:00:00") == []  # 45 days ahead are still in 2027
    add_ratings(db_path, [{"rated_at": at, "window": "LC01", "level": "不满意", "phone": "13812341234"}
                          for at in ("2028-01-24 10:00:00", "2028-09-29 10:00:00")])
    rows = sorted(listed(run, "2028-10-01 09:00:00"), key=lambda r: r["id"])
    assert [(r["revisit_due"], r["rectify_due"]) for r in rows] == [("2028-01-31", "2028-02-18"),
                                                                    ("2028-10-04", "2028-10-24")]
    assert {r["calendar_note"] for r in rows} == {UNKNOWN_2031.replace("2031", "2028")}


def test_the_county_is_told_that_a_new_cases_deadline_leaves_out_the_tiaoxiu(db_path, run):
    import sqlite3

    (db_path.parent / "haocha.toml").write_text('[notify.counties]\n370213 = ["json://127.0.0.1:9/hook"]\n',
                                                encoding="utf-8")  # queued only: nothing is sent here
    add_ratings(db_path, [{"rated_at": "2027-09-30 10:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812341234"},
                          {"rated_at": "2026-09-30 10:00:00", "window": "LC01", "level": "不满意"}])
    conn = sqlite3.connect(db_path)
    try:
        bodies = [r[0].split("\n")[0] for r in conn.execute("SELECT body FROM notifications ORDER BY case_id")]
    finally:
        conn.close()
    assert bodies[0].endswith("回访期限 2027-10-04 · 整改期限 2027-10-22 · 期限未含调休（当年放假通知尚未导入）")
    assert bodies[1].endswith("整改期限 2026-10-27")  # a year the official calendar knows: no such words
