"""Working-day deadlines against the State Council's holiday notices (国务院办公厅关于部分节假日安排的通知).

Every expected date below was counted by hand on a calendar, day by day, from the notices:
- 2024 (issued 2023-10-25): 春节 02-10..02-17 off, 02-04 (Sun) and 02-18 (Sun) worked;
  国庆节 10-01..10-07 off, 09-29 (Sun) and 10-12 (Sat) worked. 除夕 02-09 (Fri) is a working day.
- 2025 (issued 2024-11-12): 春节 01-28..02-04 off, 01-26 (Sun) and 02-08 (Sat) worked;
  国庆节/中秋节 10-01..10-08 off, 09-28 (Sun) and 10-11 (Sat) worked.
- 2026 (issued 2025-11-04): 元旦 01-01..01-03 off, 01-04 (Sun) worked; 春节 02-15..02-23 off,
  02-14 (Sat) and 02-28 (Sat) worked; 中秋节 09-25..09-27 off; 国庆节 10-01..10-07 off,
  09-20 (Sun) and 10-10 (Sat) worked.
"""

from __future__ import annotations

from datetime import date, datetime

import chinese_calendar
import pytest

from haocha_cli.errors import HaochaError, InvalidInput
from haocha_cli.official_calendar import LAST_KNOWN_YEAR, WorkCalendar, statutory_holidays

D = date


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # 2024 Spring Festival
        (D(2024, 2, 4), True),  # Sunday, make-up workday
        (D(2024, 2, 9), True),  # 除夕, Friday, not in the notice
        (D(2024, 2, 10), False),
        (D(2024, 2, 14), False),  # Wednesday inside the holiday
        (D(2024, 2, 17), False),
        (D(2024, 2, 18), True),  # Sunday, make-up workday
        (D(2024, 2, 24), False),  # ordinary Saturday
        # 2024 National Day
        (D(2024, 9, 28), False),  # ordinary Saturday
        (D(2024, 9, 29), True),  # Sunday, make-up
        (D(2024, 10, 7), False),  # Monday inside the holiday
        (D(2024, 10, 12), True),  # Saturday, make-up
        # 2025 Spring Festival
        (D(2025, 1, 26), True),
        (D(2025, 1, 28), False),
        (D(2025, 2, 4), False),
        (D(2025, 2, 8), True),
        # 2025 National Day / Mid-Autumn
        (D(2025, 9, 28), True),
        (D(2025, 10, 8), False),
        (D(2025, 10, 11), True),
        # 2026
        (D(2026, 1, 2), False),
        (D(2026, 1, 4), True),
        (D(2026, 2, 14), True),
        (D(2026, 2, 23), False),  # Monday, last day of the holiday
        (D(2026, 2, 28), True),
        (D(2026, 9, 20), True),
        (D(2026, 9, 25), False),
        (D(2026, 10, 7), False),
        (D(2026, 10, 10), True),
        (D(2026, 10, 17), False),  # ordinary Saturday after the last notice entry
    ],
)
def test_is_workday_follows_the_notices(cal, day, expected):
    assert cal.is_workday(day) is expected
    assert cal.is_workday(datetime.combine(day, datetime.min.time())) is expected
    assert cal.fallback_years == frozenset()


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # --- 2024 Spring Festival ---
        # Fri 02-02 +1: Sat 02-03 off, Sun 02-04 make-up workday.
        (D(2024, 2, 2), 1, D(2024, 2, 4)),
        # Thu 02-08 +1: 除夕 Fri 02-09 is a working day.
        (D(2024, 2, 8), 1, D(2024, 2, 9)),
        # +2: 02-09 (1), 02-10..17 off, Sun 02-18 make-up (2).
        (D(2024, 2, 8), 2, D(2024, 2, 18)),
        # +15: 02-09 (1), 02-18 (2), 02-19..23 (3-7), 02-26..03-01 (8-12), 03-04, 03-05, 03-06 (13-15).
        # (Weekends only would give 02-29.)
        (D(2024, 2, 8), 15, D(2024, 3, 6)),
        # --- 2024 National Day ---
        # Fri 09-27 +1: Sat 09-28 off, Sun 09-29 make-up.
        (D(2024, 9, 27), 1, D(2024, 9, 29)),
        # Sun 09-29 +2: Mon 09-30 (1), 10-01..07 off, Tue 10-08 (2).
        (D(2024, 9, 29), 2, D(2024, 10, 8)),
        # Mon 09-30 +5: 10-08, 09, 10, 11 (1-4), Sat 10-12 make-up (5).
        (D(2024, 9, 30), 5, D(2024, 10, 12)),
        # Fri 10-11 +1: Sat 10-12 make-up.
        (D(2024, 10, 11), 1, D(2024, 10, 12)),
        # --- 2025 Spring Festival ---
        # Fri 01-24 +1: Sat 01-25 off, Sun 01-26 make-up.
        (D(2025, 1, 24), 1, D(2025, 1, 26)),
        # +3: 01-26 (1), Mon 01-27 (2), 01-28..02-04 off, Wed 02-05 (3).
        (D(2025, 1, 24), 3, D(2025, 2, 5)),
        # +6: 02-05, 02-06, 02-07 (3-5), Sat 02-08 make-up (6).
        (D(2025, 1, 24), 6, D(2025, 2, 8)),
        # +15: ... 02-08 (6), 02-10..14 (7-11), 02-17..20 (12-15).
        (D(2025, 1, 24), 15, D(2025, 2, 20)),
        # --- 2025 National Day / Mid-Autumn ---
        # Fri 09-26 +1: Sat 09-27 off, Sun 09-28 make-up.
        (D(2025, 9, 26), 1, D(2025, 9, 28)),
        # Tue 09-30 +1: 10-01..08 off, Thu 10-09.
        (D(2025, 9, 30), 1, D(2025, 10, 9)),
        # +3: 10-09, 10-10, Sat 10-11 make-up.
        (D(2025, 9, 30), 3, D(2025, 10, 11)),
        # +15: 10-09..11 (1-3), 10-13..17 (4-8), 10-20..24 (9-13), 10-27 (14), 10-28 (15).
        (D(2025, 9, 30), 15, D(2025, 10, 28)),
        # --- 2026 ---
        # Wed 2025-12-31 +1: 01-01..03 off, Sun 01-04 make-up (across the year end).
        (D(2025, 12, 31), 1, D(2026, 1, 4)),
        # Thu 02-12 +2: Fri 02-13 (1), Sat 02-14 make-up (2).
        (D(2026, 2, 12), 2, D(2026, 2, 14)),
        # +3: 02-15..23 off, Tue 02-24.
        (D(2026, 2, 12), 3, D(2026, 2, 24)),
        # +15: 02-24..27 (3-6), Sat 02-28 make-up (7), 03-02..06 (8-12), 03-09, 10, 11 (13-15).
        (D(2026, 2, 12), 15, D(2026, 3, 11)),
        # Thu 09-24 +1: Mid-Autumn 09-25..27 off, Mon 09-28.
        (D(2026, 9, 24), 1, D(2026, 9, 28)),
        # Wed 09-30 +3: 10-01..07 off, 10-08 (1), 10-09 (2), Sat 10-10 make-up (3).
        (D(2026, 9, 30), 3, D(2026, 10, 10)),
        # Fri 09-18 +1: Sat 09-19 off, Sun 09-20 make-up.
        (D(2026, 9, 18), 1, D(2026, 9, 20)),
    ],
)
def test_add_workdays_hand_counted(cal, start, n, due):
    assert cal.add_workdays(start, n) == due
    # workdays_between is the inverse of add_workdays.
    assert cal.workdays_between(start, due) == n
    assert cal.fallback_years == frozenset()


def test_the_start_day_never_counts_whatever_the_time(cal):
    # A rating late on Friday 2025-03-07 with 1 working day is due Monday 03-10, as one at 08:00.
    assert cal.add_workdays(datetime(2025, 3, 7, 23, 59), 1) == D(2025, 3, 10)
    assert cal.add_workdays(datetime(2025, 3, 7, 8, 0), 1) == D(2025, 3, 10)
    # A rating on a Saturday or on a holiday: the first working day after it.
    assert cal.add_workdays(D(2025, 3, 8), 1) == D(2025, 3, 10)
    assert cal.add_workdays(D(2024, 2, 12), 1) == D(2024, 2, 18)
    # n = 0: due the same day.
    assert cal.add_workdays(D(2024, 2, 12), 0) == D(2024, 2, 12)


def test_workdays_between(cal):
    assert cal.workdays_between(D(2024, 2, 8), D(2024, 2, 8)) == 0
    # The whole 2024 Spring Festival holiday: no working day from 02-10 to 02-17.
    assert cal.workdays_between(D(2024, 2, 9), D(2024, 2, 17)) == 0
    # Reversed order gives the negative count.
    assert cal.workdays_between(D(2024, 3, 6), D(2024, 2, 8)) == -15
    # October 2025: 23 weekdays, less 10-01..03 and 10-06..08 (6 holiday weekdays), plus Sat 10-11 = 18;
    # counted from 09-30 (exclusive) to 10-31 (inclusive).
    assert cal.workdays_between(D(2025, 9, 30), D(2025, 10, 31)) == 18


def test_overrides_take_precedence_over_the_official_calendar():
    cal = WorkCalendar(
        {
            D(2025, 3, 5): False,  # a local day off on a Wednesday
            D(2025, 3, 8): True,  # a Saturday worked locally
            D(2024, 2, 18): False,  # the official make-up Sunday declared a holiday
            D(2024, 10, 7): True,  # an official holiday worked
        }
    )
    assert cal.is_workday(D(2025, 3, 5)) is False
    assert cal.is_workday(D(2025, 3, 8)) is True
    # Tue 03-04 +1: Wed 03-05 local holiday, Thu 03-06.
    assert cal.add_workdays(D(2025, 3, 4), 1) == D(2025, 3, 6)
    # Fri 03-07 +1: Sat 03-08 worked.
    assert cal.add_workdays(D(2025, 3, 7), 1) == D(2025, 3, 8)
    # Thu 2024-02-08 +2: 02-09 (1), 02-10..17 off, 02-18 overridden off, Mon 02-19 (2).
    assert cal.add_workdays(D(2024, 2, 8), 2) == D(2024, 2, 19)
    # Mon 2024-09-30 +1: 10-01..06 off, Mon 10-07 worked by override.
    assert cal.add_workdays(D(2024, 9, 30), 1) == D(2024, 10, 7)
    # Without the overrides the same questions give the official answers.
    official = WorkCalendar()
    assert official.add_workdays(D(2025, 3, 4), 1) == D(2025, 3, 5)
    assert official.add_workdays(D(2024, 2, 8), 2) == D(2024, 2, 18)


def test_overrides_accept_datetime_keys():
    cal = WorkCalendar({datetime(2025, 3, 5, 9, 30): False})
    assert cal.is_workday(D(2025, 3, 5)) is False


# The statutory holidays of 2027, the first year after the package's (《全国年节及纪念日放假办法》, 2024
# revision). Not taken from the library: the lunar new year 2027 is Saturday 6 February in published tables,
# so 除夕 is Friday 5 February; 端午 (5th day of the 5th lunar month) is 9 June in published tables; 清明 5 April
# and 中秋 (15th of the 8th) 15 September as every lunar library and chinese-calendar's solar-term formula
# give them (docs/method.md §9).
STATUTORY_2027 = {
    D(2027, 1, 1): "元旦",  # Fri
    D(2027, 2, 5): "春节", D(2027, 2, 6): "春节", D(2027, 2, 7): "春节", D(2027, 2, 8): "春节",  # 除夕 Fri .. 初三 Mon
    D(2027, 4, 5): "清明",  # Mon
    D(2027, 5, 1): "劳动节", D(2027, 5, 2): "劳动节",  # Sat, Sun
    D(2027, 6, 9): "端午",  # Wed
    D(2027, 9, 15): "中秋",  # Wed
    D(2027, 10, 1): "国庆节", D(2027, 10, 2): "国庆节", D(2027, 10, 3): "国庆节",  # Fri .. Sun
}


def test_the_statutory_holidays_of_2027():
    assert LAST_KNOWN_YEAR == 2026, "the package knows 2027 now: move these dates to the notice's"
    assert {day: h.chinese for day, h in statutory_holidays(2027).items()} == STATUTORY_2027
    # Holidays of part of the population (妇女节 03-08, 青年节 05-04, 儿童节 06-01, 建军节 08-01) are no day off.
    cal = WorkCalendar()
    assert [cal.is_workday(d) for d in (D(2027, 3, 8), D(2027, 5, 4), D(2027, 6, 1), D(2028, 8, 1))] == [True] * 4
    # Later years from the same library; a year with a leap fifth month (闰五月) keeps 端午 on the regular one.
    assert {d: h.chinese for d, h in statutory_holidays(2028).items() if h.chinese != "国庆节"} == {
        D(2028, 1, 1): "元旦", D(2028, 1, 25): "春节", D(2028, 1, 26): "春节", D(2028, 1, 27): "春节",
        D(2028, 1, 28): "春节", D(2028, 4, 4): "清明", D(2028, 5, 1): "劳动节", D(2028, 5, 2): "劳动节",
        D(2028, 5, 28): "端午"}  # lunar new year 2028-01-26
    # 中秋 2028 (10-03) is 国庆's third day: one day off, named after 国庆; 13 days in all, 12 in 2028.
    assert [len(statutory_holidays(y)) for y in (2027, 2028)] == [13, 12]
    assert D(2030, 2, 2) in statutory_holidays(2030) and D(2029, 2, 12) in statutory_holidays(2029)  # 除夕


@pytest.mark.parametrize("year", range(2008, LAST_KNOWN_YEAR + 1))
def test_the_lunar_and_solar_term_dates_agree_with_every_notice_the_package_knows(year):
    """Since 2008 清明, 端午 and 中秋 are holidays, and 春节 always held 初一 and 初二: each day the library computes
    for them must be a day off in the State Council's notice of that year (the package's data), including the
    years with a leap month (2009, 2012, 2014, 2017, 2020, 2023, 2025). From 2025, every statutory day is."""
    days = statutory_holidays(year)
    spring = sorted(d for d, h in days.items() if h.chinese == "春节")
    checked = [d for d, h in days.items() if h.chinese in ("清明", "端午", "中秋")] + spring[1:3]
    if year >= 2025:  # the 2024 revision: 除夕 and 5-02 too
        checked = list(days)
    assert [d for d in checked if not chinese_calendar.is_holiday(d)] == []


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # 元旦: Thu 2026-12-31 +1: Fri 01-01 off, Sat, Sun, Mon 01-04. (Weekends only gave Fri 01-01.)
        (D(2026, 12, 31), 1, D(2027, 1, 4)),
        # +15: 01-04..08 (1-5), 01-11..15 (6-10), 01-18..22 (11-15).
        (D(2026, 12, 31), 15, D(2027, 1, 22)),
        # 春节: Thu 02-04 +1: 除夕 Fri 02-05, Sat, Sun, 初三 Mon 02-08 off: Tue 02-09.
        (D(2027, 2, 4), 1, D(2027, 2, 9)),
        # +15: 02-09..12 (1-4), 02-15..19 (5-9), 02-22..26 (10-14), Mon 03-01 (15). (Weekends only: 02-25.)
        (D(2027, 2, 4), 15, D(2027, 3, 1)),
        # 清明: Fri 04-02 +1: Mon 04-05 off, Tue 04-06; +15: 04-06..09 (1-4), 12..16 (5-9), 19..23 (10-14), 26.
        (D(2027, 4, 2), 1, D(2027, 4, 6)),
        (D(2027, 4, 2), 15, D(2027, 4, 26)),
        # 劳动节 05-01..02 is a weekend: Fri 04-30 +1 is Mon 05-03 (the notice will likely say otherwise: 补假).
        (D(2027, 4, 30), 1, D(2027, 5, 3)),
        # 端午: Tue 06-08 +1: Wed 06-09 off, Thu 06-10; +15: 06-10, 11 (1-2), 14..18, 21..25 (3-12), 28..30.
        (D(2027, 6, 8), 1, D(2027, 6, 10)),
        (D(2027, 6, 8), 15, D(2027, 6, 30)),
        # 中秋: Tue 09-14 +1: Wed 09-15 off, Thu 09-16; +15: 16, 17, 20..24, 27..30 (1-11), 10-01 off, 10-04..07.
        (D(2027, 9, 14), 1, D(2027, 9, 16)),
        (D(2027, 9, 14), 15, D(2027, 10, 7)),
        # 国庆: Thu 09-30 +1: Fri 10-01 off, Sat, Sun: Mon 10-04; +15: 10-04..08, 11..15, 18..22.
        (D(2027, 9, 30), 1, D(2027, 10, 4)),
        (D(2027, 9, 30), 15, D(2027, 10, 22)),
        # 2028: 除夕 Tue 01-25 .. 初三 Fri 01-28: Mon 01-24 +1 is Mon 01-31; 清明 Tue 04-04; 国庆 with 中秋 10-03.
        (D(2028, 1, 24), 1, D(2028, 1, 31)),
        (D(2028, 4, 3), 1, D(2028, 4, 5)),
        (D(2028, 9, 29), 1, D(2028, 10, 4)),
    ],
)
def test_beyond_the_known_years_deadlines_skip_the_statutory_holidays(start, n, due):
    cal = WorkCalendar()
    assert cal.add_workdays(start, n) == due
    assert cal.workdays_between(start, due) == n
    assert not set(statutory_holidays(due.year)) & {due}
    assert cal.fallback_years == frozenset({due.year}) | ({start.year} if start.year > LAST_KNOWN_YEAR else set())


def test_a_year_without_its_notice_is_said_so_in_chinese():
    cal = WorkCalendar()
    assert cal.fallback_used is False
    assert cal.fallback_note() is None
    assert cal.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert cal.fallback_years == frozenset({2027})
    assert cal.fallback_note() == (
        "2027 年的调休安排尚未确定：期限已避开周末和《全国年节及纪念日放假办法》（2024年修订）规定的法定节假日"
        "（元旦、春节、清明节、劳动节、端午节、中秋节、国庆节），未含国务院放假通知将安排的调休上班日和补假；"
        "通知发布后由市局导入（haocha calendar import），未办结事项的期限将重新计算。")
    cal.add_workdays(D(2027, 12, 30), 3)  # into 2028
    assert cal.fallback_note().startswith("2027、2028 年的调休安排尚未确定")


# A hypothetical 2027 notice (the real one is not out on 2026-12-01): 元旦 01-01..03, 春节 02-05..13 with Sat
# 02-20 worked, 国庆 10-01..07 with Sun 09-26 and Sat 10-09 worked.
NOTICE_2027 = {**{D(2027, 1, d): False for d in (1, 2, 3)}, **{D(2027, 2, d): False for d in range(5, 14)},
               **{D(2027, 10, d): False for d in range(1, 8)},
               D(2027, 2, 20): True, D(2027, 9, 26): True, D(2027, 10, 9): True}


def test_a_year_with_local_entries_counts_as_given():
    cal = WorkCalendar(NOTICE_2027)
    # Thu 02-04 +1: 02-05..13 off, Mon 02-15; +15: 02-15..19 (1-5), Sat 02-20 (6), 02-22..26 (7-11), 03-01..04.
    assert cal.add_workdays(D(2027, 2, 4), 1) == D(2027, 2, 15)
    assert cal.add_workdays(D(2027, 2, 4), 15) == D(2027, 3, 4)
    # Tue 09-14 +15: 16, 17, 20..24 (1-7), Sun 09-26 (8), 27..30 (9-12), 10-08 (13), Sat 10-09 (14), 10-11.
    assert cal.add_workdays(D(2027, 9, 14), 15) == D(2027, 10, 11)
    # The statutory holidays the notice does not list stay days off (清明 Mon 04-05).
    assert cal.add_workdays(D(2027, 4, 2), 1) == D(2027, 4, 6)
    assert cal.fallback_years == frozenset()
    assert cal.fallback_note() is None


def test_before_the_first_year_weekends_only():
    cal = WorkCalendar()
    # Fri 2003-10-03 +1 is Mon 2003-10-06 (the real 国庆 week is unknown; the 2024 rule did not apply then).
    assert cal.add_workdays(D(2003, 10, 3), 1) == D(2003, 10, 6)
    assert cal.add_workdays(D(2003, 1, 1), 0) == D(2003, 1, 1)
    assert cal.is_workday(D(2003, 1, 1)) is True
    assert cal.fallback_years == frozenset({2003})
    assert cal.fallback_note() == ("2003 年早于 haocha 所知的官方日历（2004–2026 年），期限按周一至周五计算"
                                   "（另计本地日历条目）。")


def test_a_day_decided_by_an_override_is_no_fallback():
    cal = WorkCalendar({D(2027, 1, 1): False})
    assert cal.is_workday(D(2027, 1, 1)) is False
    assert cal.fallback_years == frozenset()


def test_negative_deadline_is_refused(cal):
    with pytest.raises(InvalidInput) as err:
        cal.add_workdays(D(2025, 3, 7), -1)
    assert isinstance(err.value, HaochaError)
    assert str(err.value) == "a deadline cannot be a negative number of working days (-1) (use 0 or more)"


@pytest.mark.parametrize("n", [1.5, "3", True, None])
def test_deadline_must_be_a_whole_number(cal, n):
    with pytest.raises(InvalidInput) as err:
        cal.add_workdays(D(2025, 3, 7), n)
    assert str(err.value) == f"a deadline must be a whole number of working days, not {n!r}"


def test_absurd_deadline_is_refused(cal):
    with pytest.raises(InvalidInput) as err:
        cal.add_workdays(D(2025, 3, 7), 10_001)
    assert str(err.value) == "a deadline of 10001 working days is too long (use at most 10000)"


def test_bad_inputs(cal):
    with pytest.raises(InvalidInput) as err:
        cal.is_workday("2025-03-07")
    assert str(err.value) == "the day must be a date, not '2025-03-07' (use YYYY-MM-DD)"
    with pytest.raises(InvalidInput) as err:
        WorkCalendar({D(2025, 3, 5): 1})
    assert str(err.value) == (
        "the calendar entry for 2025-03-05 must be True (working day) or False (holiday), not 1"
    )


def _walk_add(cal: WorkCalendar, start: date, n: int) -> date:
    """The day-by-day walk that add_workdays replaced (issue 22): the reference its answers are checked on."""
    day, counted = start, 0
    while counted < n:
        day = day.fromordinal(day.toordinal() + 1)
        counted += cal.is_workday(day)
    return day


def _walk_between(cal: WorkCalendar, a: date, b: date) -> int:
    if b < a:
        return -_walk_between(cal, b, a)
    return sum(cal.is_workday(date.fromordinal(o)) for o in range(a.toordinal() + 1, b.toordinal() + 1))


@pytest.mark.parametrize("overrides", [None, {D(2025, 3, 3): False, D(2025, 3, 8): True, D(2027, 2, 1): False}],
                         ids=["official", "local entries"])
def test_prefix_sums_give_the_walks_deadlines_every_day_2024_2028(overrides):
    # Every start day of 2024–2028 (2027–2028 past the package: the statutory-holiday fallback), the deadlines
    # the configuration uses and more, and the working days between the day and days up to a year either side:
    # the same answers, and the same fallback years noted, as walking day by day.
    fast, walked = WorkCalendar(overrides), WorkCalendar(overrides)
    start = D(2024, 1, 1)
    for offset in range((D(2028, 12, 31) - start).days + 1):
        day = date.fromordinal(start.toordinal() + offset)
        for n in (0, 1, 2, 3, 5, 10, 15, 20):
            assert fast.add_workdays(day, n) == _walk_add(walked, day, n), (day, n)
        other = date.fromordinal(day.toordinal() + (offset * 37) % 731 - 365)
        assert fast.workdays_between(day, other) == _walk_between(walked, day, other), (day, other)
        assert fast.workdays_between(day, day) == 0
    noticed = {d.year for d in overrides or {}}  # a year with local entries counts as given
    assert fast.fallback_years == walked.fallback_years == frozenset(
        y for y in (2027, 2028, 2029) if y > LAST_KNOWN_YEAR and y not in noticed)


def test_fallback_years_are_noted_per_question():
    # A fresh calendar notes a fallback year only when a question reached into it, as the walk did.
    cal = WorkCalendar()
    cal.workdays_between(D(LAST_KNOWN_YEAR, 3, 1), D(LAST_KNOWN_YEAR, 6, 1))
    assert cal.fallback_years == frozenset()
    cal.add_workdays(D(LAST_KNOWN_YEAR, 12, 20), 10)
    assert cal.fallback_years == {LAST_KNOWN_YEAR + 1}
    # a year whose notice is recorded as local entries is no fallback
    noticed = WorkCalendar({D(LAST_KNOWN_YEAR + 1, 1, 2): False})
    assert noticed.add_workdays(D(LAST_KNOWN_YEAR, 12, 20), 10) == _walk_add(
        WorkCalendar({D(LAST_KNOWN_YEAR + 1, 1, 2): False}), D(LAST_KNOWN_YEAR, 12, 20), 10)
    assert noticed.fallback_years == frozenset()
