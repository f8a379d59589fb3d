"""Periods (统计周期) as a clerk writes them: 2024-05, 2024-Q2, 2024, 2024-05-06, or from/to dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from haocha_cli.errors import InvalidInput

_HINT = "write a month 2024-05, a quarter 2024-Q2, a year 2024, a day 2024-05-06, or --from/--to dates"


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
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date", "write YYYY-MM-DD, e.g. 2024-05-06") from None


def parse_period(text: str) -> Period:
    text = text.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise InvalidInput(f"period {text!r} has no month {month}", _HINT)
        return Period(date(year, month, 1), _month_end(year, month), f"{year:04d}-{month:02d}", "month")
    if m := re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text):
        year, q = int(m.group(1)), int(m.group(2))
        return Period(date(year, 3 * q - 2, 1), _month_end(year, 3 * q), f"{year}-Q{q}", "quarter")
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return Period(date(year, 1, 1), date(year, 12, 31), text, "year")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = parse_date(text, "period")
        return Period(day, day, text, "day")
    if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text):
        return date_range(m.group(1), m.group(2))
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
