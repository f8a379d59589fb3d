"""China's official working-day calendar (工作日), with 调休 make-up workdays and local overrides.

Deadlines of the closed loop (return visit 回访, rectification 整改) are counted in working days. The
official calendar comes from the ``chinese-calendar`` package, which follows the State Council's yearly
notice (国务院办公厅关于部分节假日安排的通知): public holidays that fall on weekdays are days off, and
the Saturdays or Sundays named in the notice (调休上班) are working days.

Local overrides (a county's own day off, a notice the package does not know yet) take precedence over
the package. For a year after the package's last one, haocha counts what is certain before the year's
notice is out: weekends and the statutory holidays of 《全国年节及纪念日放假办法》 (2024 revision,
:func:`statutory_holidays`) are days off. What only the notice sets (the make-up workdays 调休, the day off
for a holiday on a weekend 补假, a longer holiday) is not known, so such a year is recorded in
:attr:`WorkCalendar.fallback_years` and the caller tells the user (:meth:`WorkCalendar.fallback_note`)
until the notice is recorded as local entries (a year with local entries counts as given). Before the
package's first year, Monday to Friday are the working days.

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


# 《全国年节及纪念日放假办法》 as revised by 国务院令第795号 (2024-11-10, in force from 2025-01-01), article 2: the
# holidays of the whole population (全体公民放假的节日). The holidays of part of the population (妇女节, 青年节,
# 儿童节, 建军节: article 3) are no day off for a bureau, so they are not here.
STATUTORY_RULE = "《全国年节及纪念日放假办法》（2024年修订）"
STATUTORY_NAMES = "元旦、春节、清明节、劳动节、端午节、中秋节、国庆节"


def statutory_holidays(year: int) -> dict[date, chinese_calendar.Holiday]:
    """The statutory days off of ``year``, {day: holiday}: 元旦 (1 January), 春节 (4 days: 除夕, the lunar
    year's eve, and the first three days of the lunar year), 清明节 (the day of the 清明 solar term), 劳动节
    (1–2 May), 端午节 (5th day of the 5th lunar month), 中秋节 (15th day of the 8th) and 国庆节 (1–3 October).

    The lunar dates and the solar term come from ``lunar-python``, which computes them from the positions
    of the sun and the moon in Beijing time (the 寿星天文历 method), so it has no table that ends: see
    docs/method.md for how it was checked. A festival in a year with a leap month (闰月) is on the regular
    month: 端午 2028 is the 5th day of the regular fifth month (2028-05-28), not of the leap one (2028-06-27).
    """
    return dict(_statutory_days(year))


@lru_cache(maxsize=64)
def _statutory_days(year: int) -> dict[date, chinese_calendar.Holiday]:
    # Imported here, for a year past the package's only: every other command starts as fast as before.
    from lunar_python import Lunar

    def solar(month: int, day: int) -> date:
        s = Lunar.fromYmd(year, month, day).getSolar()
        return date(s.getYear(), s.getMonth(), s.getDay())

    H = chinese_calendar.Holiday
    spring = solar(1, 1)
    term = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]  # the lunar year's table: 清明 of April ``year``
    days = {date(year, 1, 1): H.new_years_day,
            date(term.getYear(), term.getMonth(), term.getDay()): H.tomb_sweeping_day,
            date(year, 5, 1): H.labour_day, date(year, 5, 2): H.labour_day,
            solar(5, 5): H.dragon_boat_festival, solar(8, 15): H.mid_autumn_festival}
    days.update({spring + timedelta(days=i): H.spring_festival for i in range(-1, 3)})
    # 中秋 can fall on 1–3 October (2028-10-03): the day is one day off either way, named after 国庆.
    days.update({date(year, 10, d): H.national_day for d in (1, 2, 3)})
    return days


class WorkCalendar:
    """Working days of China's official calendar, with local overrides taking precedence.

    ``overrides`` maps a day to True (a working day, e.g. a make-up Saturday the package does not know)
    or False (a holiday, e.g. a local day off). ``fallback_years`` collects every year outside the
    package's range (``FIRST_KNOWN_YEAR``..``LAST_KNOWN_YEAR``) that was counted without its notice:
    after the range, weekends and the statutory holidays (:func:`statutory_holidays`) are days off, and a
    year that has local entries counts as given (its notice imported), so it is no fallback; before the
    range, weekends only.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None):
        self.overrides = _check_overrides(overrides)
        self._fallback_years: set[int] = set()
        self.noticed_years = frozenset(d.year for d in self.overrides if d.year > LAST_KNOWN_YEAR)
        self._table = _PrefixTable(self._counted_workday)

    def fresh(self) -> WorkCalendar:
        """The same calendar with no fallback year recorded yet (one per case, for the case's own note),
        without checking the overrides again."""
        twin = WorkCalendar()
        twin.overrides, twin.noticed_years = self.overrides, self.noticed_years
        twin._table = self._table  # the same working days: the same prefix sums
        return twin

    @property
    def fallback_years(self) -> frozenset[int]:
        """The years, outside the official calendar haocha knows, that were counted without their notice."""
        return frozenset(self._fallback_years)

    @property
    def fallback_used(self) -> bool:
        return bool(self._fallback_years)

    def fallback_note(self) -> str | None:
        """What the staff read on a case whose deadlines were counted without the year's notice, or None:
        in Chinese, since it is shown as it is (`haocha cases show`, the workbench)."""
        later = "、".join(str(y) for y in sorted(self._fallback_years) if y > LAST_KNOWN_YEAR)
        earlier = "、".join(str(y) for y in sorted(self._fallback_years) if y < FIRST_KNOWN_YEAR)
        notes = []
        if later:
            notes.append(
                f"{later} 年的调休安排尚未确定：期限已避开周末和{STATUTORY_RULE}规定的法定节假日"
                f"（{STATUTORY_NAMES}），未含国务院放假通知将安排的调休上班日和补假；通知发布后由市局导入"
                "（haocha calendar import），未办结事项的期限将重新计算。")
        if earlier:
            notes.append(f"{earlier} 年早于 haocha 所知的官方日历（{FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR} 年），"
                         "期限按周一至周五计算（另计本地日历条目）。")
        return "".join(notes) or None

    def is_workday(self, day: date | datetime) -> bool:
        """True when ``day`` is a working day: override first, then the official calendar; after it, Mon–Fri
        less the statutory holidays; before it, Mon–Fri."""
        d = _as_date(day, "the day")
        if d in self.overrides:
            return self.overrides[d]
        if FIRST_KNOWN_YEAR <= d.year <= LAST_KNOWN_YEAR:
            return _official_workday(d)
        if d.year not in self.noticed_years:
            self._fallback_years.add(d.year)
        if d.year > LAST_KNOWN_YEAR and d in _statutory_days(d.year):
            return False
        return d.weekday() < 5

    def _counted_workday(self, d: date) -> bool:
        """``is_workday`` without recording a fallback year (the prefix sums read every day of a year)."""
        if d in self.overrides:
            return self.overrides[d]
        if FIRST_KNOWN_YEAR <= d.year <= LAST_KNOWN_YEAR:
            return _official_workday(d)
        if d.year > LAST_KNOWN_YEAR and d in _statutory_days(d.year):
            return False
        return d.weekday() < 5

    def _note_fallback(self, after: date, until: date) -> None:
        """Record the fallback years that a day-by-day walk over the days after ``after`` up to ``until``
        would have: each year outside the official calendar, not noticed, with a day there that is no
        local entry."""
        for year in range(after.year, until.year + 1):
            if FIRST_KNOWN_YEAR <= year <= LAST_KNOWN_YEAR or year in self.noticed_years:
                continue
            lo = max(after + timedelta(days=1), date(year, 1, 1))
            hi = min(until, date(year, 12, 31))
            if lo > hi:
                continue
            entries = sum(1 for d in self.overrides if lo <= d <= hi)
            if (hi - lo).days + 1 > entries:
                self._fallback_years.add(year)

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
        if n == 0:
            return day
        due = self._table.nth_after(day, n)
        self._note_fallback(day, due)
        return due

    def workdays_between(self, a: date | datetime, b: date | datetime) -> int:
        """The number of working days after ``a`` up to and including ``b``.

        It is the inverse of :meth:`add_workdays`: ``workdays_between(s, add_workdays(s, n)) == n``.
        Negative when ``b`` is before ``a`` (e.g. how many working days a case is overdue, read the
        other way round); 0 when they are the same day.
        """
        start, end = _as_date(a, "the first day"), _as_date(b, "the second day")
        if end < start:
            return -self.workdays_between(end, start)
        if end == start:
            return 0
        self._note_fallback(start, end)
        return self._table.between(start, end)


class _PrefixTable:
    """Prefix sums of the working days over a range of whole years, grown as asked: "working days between"
    and "the n-th working day after" in O(1) (issue 22: a long case list asks for thousands of deadlines)
    instead of a walk day by day. ``workday`` decides each day once, local entries included."""

    def __init__(self, workday):
        self.workday = workday
        self.first = self.last = None  # the years held
        self.origin = 0  # the ordinal of 1 January of ``first``
        self.cum: list[int] = [0]  # cum[i]: working days among the first i days from the origin
        self.work: list[int] = []  # the working days' ordinals, in order

    def _years(self, first: int, last: int) -> None:
        if self.first is not None and first >= self.first and last <= self.last:
            return
        if self.first is None or first < self.first:  # from the start again, from the earlier year
            first = first if self.first is None else min(first, self.first)
            last = last if self.last is None else max(last, self.last)
            self.first, self.last = first, first - 1
            self.origin = date(first, 1, 1).toordinal()
            self.cum, self.work = [0], []
        for year in range(self.last + 1, last + 1):
            for ordinal in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1):
                is_work = self.workday(date.fromordinal(ordinal))
                if is_work:
                    self.work.append(ordinal)
                self.cum.append(self.cum[-1] + is_work)
        self.last = max(self.last, last)

    def between(self, a: date, b: date) -> int:
        """Working days after ``a`` up to and including ``b``."""
        self._years(a.year, b.year)  # both in one origin
        return self.cum[b.toordinal() - self.origin + 1] - self.cum[a.toordinal() - self.origin + 1]

    def count_upto(self, day: date) -> int:
        """Working days from the origin up to and including ``day``."""
        self._years(day.year, day.year)
        return self.cum[day.toordinal() - self.origin + 1]

    def nth_after(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (n ≥ 1)."""
        target = self.count_upto(day) + n  # the target-th working day from the origin
        while len(self.work) < target:
            if self.last >= date.max.year:
                raise InvalidInput(f"a deadline of {n} working days after {day} is past the last date", "use fewer")
            self._years(self.first, min(date.max.year, self.last + 1 + (target - len(self.work)) // 240))
        return date.fromordinal(self.work[target - 1])
