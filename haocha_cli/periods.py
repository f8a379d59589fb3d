"""Periods (统计周期) as a clerk writes them: 2024-05, 2024-Q2, 2024, 2024-05-06, or from/to dates.

The one place where the command line reads a day or a month: every option that asks for one (--from, --to,
--period, --date, --month, --due-before, calendar days) comes through ``read_day`` / ``read_month``, so a day
is written 2026-08-01, 2026-8-1, 2026/8/1, 2026.8.1 or 2026年8月1日 and a month 2026-08, 2026-8, 2026/8,
2026.8 or 2026年8月, in full-width digits too, wherever one is asked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from haocha_cli.errors import InvalidInput

_HINT = "write a month 2024-05, a quarter 2024-Q2, a year 2024, a day 2024-05-06, or --from/--to dates"
DAY_HINT = "write a day as 2024-05-06, 2024/5/6 or 2024年5月6日"
# One separator throughout (2026/8/1, not 2026/8-1); the Chinese form may end in 日 or 号.
_DAY = re.compile(r"([0-9]{4})(?:([-/.])([0-9]{1,2})\2([0-9]{1,2})|年([0-9]{1,2})月([0-9]{1,2})[日号]?)")
_MONTH = re.compile(r"([0-9]{4})(?:[-/.]([0-9]{1,2})|年([0-9]{1,2})月份?)")
_YEAR = re.compile(r"([0-9]{4})年?")
_RANGE = re.compile(r"(.+?)(?:\.\.|至|~)(.+)")


def _clerk_text(text: str) -> str:
    """The text as compared: full-width digits and signs made ASCII (NFKC), spaces dropped."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))


def read_day(text: str) -> date | None:
    """The day in ``text`` written as a clerk writes it (2026-08-01, 2026-8-1, 2026/8/1, 2026.8.1,
    2026年8月1日), or None when it is no day (another shape, or no such date: 2026-02-30)."""
    m = _DAY.fullmatch(_clerk_text(text))
    if not m:
        return None
    year, month, day = m.group(1), m.group(3) or m.group(5), m.group(4) or m.group(6)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def read_month(text: str) -> tuple[int, int] | None:
    """(year, month) of a month written 2026-08, 2026-8, 2026/8, 2026.8 or 2026年8月, or None. The month
    number is not checked here (2026-13 gives (2026, 13)): the caller says what is wrong."""
    m = _MONTH.fullmatch(_clerk_text(text))
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or m.group(3))


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str
    kind: str  # day, month, quarter, year, range

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before (the previous month for a month, and so on)."""
        if self.kind == "month":
            return parse_period(_month_label(self.start - timedelta(days=1)))
        if self.kind == "quarter":
            start = self.start
            prev_end = start - timedelta(days=1)
            return parse_period(f"{prev_end.year}-Q{(prev_end.month - 1) // 3 + 1}")
        if self.kind == "year":
            return parse_period(str(self.start.year - 1))
        end = self.start - timedelta(days=1)
        start = end - timedelta(days=self.days - 1)
        return Period(start, end, f"{start}..{end}", "day" if self.kind == "day" else "range")

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "from": self.start.isoformat(), "to": self.end.isoformat()}


def _month_label(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def parse_date(text: str, what: str = "date") -> date:
    """A day of an option (``what`` names it in the error), in any shape ``read_day`` reads."""
    day = read_day(text)
    if day is None:
        raise InvalidInput(f"{what} {text!r} is not a date", DAY_HINT)
    return day


def parse_period(text: str) -> Period:
    """A period: a month (2024-05, 2024/5, 2024年5月), a quarter 2024-Q2, a year 2024, a day in any shape
    ``read_day`` reads, or two days D..D (also D至D, D~D)."""
    text = text.strip()
    compact = _clerk_text(text)
    if month_of := read_month(compact):
        year, month = month_of
        if not 1 <= month <= 12:
            raise InvalidInput(f"period {text!r} has no month {month}", _HINT)
        return Period(date(year, month, 1), _month_end(year, month), f"{year:04d}-{month:02d}", "month")
    if m := re.fullmatch(r"(\d{4})-?[Qq]([1-4])", compact):
        year, q = int(m.group(1)), int(m.group(2))
        return Period(date(year, 3 * q - 2, 1), _month_end(year, 3 * q), f"{year}-Q{q}", "quarter")
    if m := _YEAR.fullmatch(compact):
        year = int(m.group(1))
        return Period(date(year, 1, 1), date(year, 12, 31), m.group(1), "year")
    if _DAY.fullmatch(compact):
        day = parse_date(text, "period")
        return Period(day, day, day.isoformat(), "day")
    if (m := _RANGE.fullmatch(compact)) and _DAY.fullmatch(m.group(1)) and _DAY.fullmatch(m.group(2)):
        return date_range(parse_date(m.group(1), "the period's first day"),
                          parse_date(m.group(2), "the period's last day"))
    raise InvalidInput(f"period {text!r} is not understood", _HINT)


def date_range(start: str | date, end: str | date) -> Period:
    a = start if isinstance(start, date) else parse_date(start, "--from")
    b = end if isinstance(end, date) else parse_date(end, "--to")
    if a > b:
        raise InvalidInput(f"--from {a} is after --to {b}", "swap the dates")
    return Period(a, b, f"{a}..{b}", "range")


def resolve(period: str | None = None, start: str | None = None, end: str | None = None,
            default: Period | None = None) -> Period:
    """One period from the options --period or --from/--to (both bounds needed), else ``default``."""
    if period and (start or end):
        raise InvalidInput("give either --period or --from/--to, not both", _HINT)
    if period:
        return parse_period(period)
    if start or end:
        if not (start and end):
            raise InvalidInput("--from and --to go together", "give both dates")
        return date_range(start, end)
    if default is None:
        raise InvalidInput("no period given", _HINT)
    return default
