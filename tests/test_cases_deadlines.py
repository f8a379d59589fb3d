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

from haocha_cli.workdays import FIRST_KNOWN_YEAR, LAST_KNOWN_YEAR

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


def test_beyond_the_official_calendar_weekends_only_and_said_so(db_path, run):
    assert LAST_KNOWN_YEAR < 2031, "pick a later year for this test"
    # 2031-03-03 is a Monday: 15 weekdays later is Monday 2031-03-24.
    add_ratings(db_path, [{"rated_at": "2031-03-03 10:00:00", "window": "LC01", "level": "不满意",
                           "phone": "13812341234"}])
    rows = listed(run, "2031-03-03 12:00:00")
    assert [(r["revisit_due"], r["rectify_due"]) for r in rows] == [("2031-03-04", "2031-03-24")]
    note = json.loads(ok(run("2031-03-03 12:00:00", "cases", "show", "1", "--format", "json")).stdout)
    assert note["case"]["calendar_note"] == (
        f"2031 is beyond the official calendar haocha knows ({FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR}); weekends only "
        "were used, plus the local calendar entries (add holidays and make-up workdays with "
        "`haocha calendar add-holiday|add-workday`)")


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
        "2031-03-05: local entry removed; the official calendar says not known to the official calendar (Monday"
        " to Friday count as working days)",
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
