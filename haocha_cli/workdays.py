"""China's official working-day calendar (工作日), with 调休 make-up workdays and local overrides.

Deadlines of the closed loop (return visit 回访, rectification 整改) are counted in working days. The
official calendar comes from the ``chinese-calendar`` package, which follows the State Council's yearly
notice (国务院办公厅关于部分节假日安排的通知): public holidays that fall on weekdays are days off, and
the Saturdays or Sundays named in the notice (调休上班) are working days.

Local overrides (a county's own day off, a notice the package does not know yet) take precedence over
the package. For a year the package does not cover, haocha counts Monday to Friday as working days and
records the year in :attr:`WorkCalendar.fallback_years`, so the caller can tell the user.

Deadline convention: the clock starts at the rating time; the start day itself never counts, whatever
time of day and whether or not it is a working day. ``add_workdays(start, n)`` returns the n-th working
day after the start day, so a rating on a Friday with n = 1 is due on the next working day (usually the
Monday), and a rating on a Saturday with n = 1 is due on the same Monday.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache

import chinese_calendar

from haocha_cli.errors import InvalidInput

# Beyond this a deadline is surely a typo in a configuration, and counting it day by day would hang.
MAX_WORKDAYS = 10_000

_OFFICIAL_DAYS = list(chinese_calendar.holidays) + list(chinese_calendar.workdays)
FIRST_KNOWN_YEAR: int = min(_OFFICIAL_DAYS).year
LAST_KNOWN_YEAR: int = max(_OFFICIAL_DAYS).year


def _as_date(value: date | datetime, what: str) -> date:
    # datetime is a subclass of date: test it first so that the time of day is dropped.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise InvalidInput(f"{what} must be a date, not {value!r}", "use YYYY-MM-DD")


def _check_overrides(overrides: Mapping[date, bool] | None) -> dict[date, bool]:
    checked: dict[date, bool] = {}
    for day, is_working in (overrides or {}).items():
        key = _as_date(day, "a calendar entry's day")
        if not isinstance(is_working, bool):
            raise InvalidInput(
                f"the calendar entry for {key.isoformat()} must be True (working day) or False (holiday), "
                f"not {is_working!r}"
            )
        checked[key] = is_working
    return checked


@lru_cache(maxsize=8192)
def _official_workday(d: date) -> bool:
    # chinese_calendar checks its whole range on every call: an import opening thousands of cases asks
    # about the same few hundred days again and again.
    return chinese_calendar.is_workday(d)


class WorkCalendar:
    """Working days of China's official calendar, with local overrides taking precedence.

    ``overrides`` maps a day to True (a working day, e.g. a make-up Saturday the package does not know)
    or False (a holiday, e.g. a local day off). ``fallback_years`` collects every year outside the
    package's range (``FIRST_KNOWN_YEAR``..``LAST_KNOWN_YEAR``) for which weekends-only was used.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None):
        self.overrides = _check_overrides(overrides)
        self._fallback_years: set[int] = set()

    @property
    def fallback_years(self) -> frozenset[int]:
        """The years, outside the official calendar haocha knows, that were counted as weekends only."""
        return frozenset(self._fallback_years)

    @property
    def fallback_used(self) -> bool:
        return bool(self._fallback_years)

    def fallback_note(self) -> str | None:
        """A sentence telling the user which years were counted as weekends only, or None."""
        if not self._fallback_years:
            return None
        years = sorted(self._fallback_years)
        listed = ", ".join(str(y) for y in years)
        verb = "is" if len(years) == 1 else "are"
        return (
            f"{listed} {verb} beyond the official calendar haocha knows "
            f"({FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR}); weekends only were used, plus the local calendar "
            f"entries (add holidays and make-up workdays with `haocha calendar add-holiday|add-workday`)"
        )

    def is_workday(self, day: date | datetime) -> bool:
        """True when ``day`` is a working day: override first, then the official calendar, else Mon–Fri."""
        d = _as_date(day, "the day")
        if d in self.overrides:
            return self.overrides[d]
        if FIRST_KNOWN_YEAR <= d.year <= LAST_KNOWN_YEAR:
            return _official_workday(d)
        self._fallback_years.add(d.year)
        return d.weekday() < 5

    def add_workdays(self, start: date | datetime, n: int) -> date:
        """The due date of a deadline of ``n`` working days whose clock starts at ``start``.

        The start day itself does not count: the result is the n-th working day after it. n = 0 gives
        the start day (due the same day).
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise InvalidInput(f"a deadline must be a whole number of working days, not {n!r}")
        if n < 0:
            raise InvalidInput(
                f"a deadline cannot be a negative number of working days ({n})", "use 0 or more"
            )
        if n > MAX_WORKDAYS:
            raise InvalidInput(f"a deadline of {n} working days is too long", f"use at most {MAX_WORKDAYS}")
        day = _as_date(start, "the start")
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day

    def workdays_between(self, a: date | datetime, b: date | datetime) -> int:
        """The number of working days after ``a`` up to and including ``b``.

        It is the inverse of :meth:`add_workdays`: ``workdays_between(s, add_workdays(s, n)) == n``.
        Negative when ``b`` is before ``a`` (e.g. how many working days a case is overdue, read the
        other way round); 0 when they are the same day.
        """
        start, end = _as_date(a, "the first day"), _as_date(b, "the second day")
        if end < start:
            return -self.workdays_between(end, start)
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count
