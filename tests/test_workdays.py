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

import pytest

from haocha_cli.errors import HaochaError, InvalidInput
from haocha_cli.workdays import LAST_KNOWN_YEAR, WorkCalendar

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


def test_fallback_to_weekends_beyond_the_known_years():
    assert LAST_KNOWN_YEAR == 2026
    cal = WorkCalendar()
    assert cal.fallback_used is False
    assert cal.fallback_note() is None
    # Thu 2026-12-31 +1: Fri 2027-01-01 is a working day under weekends only (the real 元旦 is unknown).
    assert cal.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 1)
    assert cal.fallback_years == frozenset({2027})
    assert cal.fallback_used is True
    assert cal.fallback_note() == (
        "2027 is beyond the official calendar haocha knows (2004–2026); weekends only were used, "
        "plus the local calendar entries (add holidays and make-up workdays with "
        "`haocha calendar add-holiday|add-workday`)"
    )
    # Fri 2027-02-05 +5: Mon 02-08 .. Fri 02-12 (no Spring Festival known).
    assert cal.add_workdays(D(2027, 2, 5), 5) == D(2027, 2, 12)


def test_fallback_with_local_entries_and_before_the_first_year():
    cal = WorkCalendar({D(2027, 1, 1): False})
    # Thu 2026-12-31 +1: Fri 2027-01-01 local holiday, Sat, Sun, Mon 2027-01-04.
    assert cal.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert cal.fallback_years == frozenset({2027})
    # Before 2004 as well: Fri 2003-10-03 +1 is Mon 2003-10-06 (the real 国庆 week is unknown).
    assert cal.add_workdays(D(2003, 10, 3), 1) == D(2003, 10, 6)
    assert cal.fallback_years == frozenset({2003, 2027})
    assert cal.fallback_note().startswith("2003, 2027 are beyond the official calendar haocha knows")


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
