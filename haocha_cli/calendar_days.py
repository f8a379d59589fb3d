"""The bureau's working-day calendar: the official one (haocha_cli.workdays) plus local entries kept in
the ``calendar_overrides`` table (`haocha calendar add-holiday|add-workday|show`).

A new entry moves the deadlines of the cases still open, since they are counted in working days.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import chinese_calendar
import sqlite_utils

from haocha_cli import audit
from haocha_cli.clock import now_text
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput
from haocha_cli.workdays import FIRST_KNOWN_YEAR, LAST_KNOWN_YEAR, WorkCalendar

WEEKDAYS = ["一", "二", "三", "四", "五", "六", "日"]


def load_calendar(db: sqlite_utils.Database) -> WorkCalendar:
    overrides = {date.fromisoformat(day): bool(flag)
                 for day, flag in db.execute("SELECT day, is_workday FROM calendar_overrides")}
    return WorkCalendar(overrides)


def parse_day(text: str, what: str = "the date") -> date:
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date", "use YYYY-MM-DD, e.g. 2027-02-08") from None


def set_day(ctx: Context, day: date, is_workday: bool, note: str = "") -> dict[str, Any]:
    """Record a local calendar entry (city's task) and move the deadlines of the open cases it touches.

    Returns {day, is_workday, before (None, True or False), official (the package's verdict or None),
    moved: [{case, field, before, after}]}.
    """
    ctx.require_city("changing the working-day calendar")
    official = _official(day)
    with transaction(ctx.db):
        old = ctx.db.execute("SELECT is_workday, note FROM calendar_overrides WHERE day = ?",
                             [day.isoformat()]).fetchone()
        ctx.db.execute(
            "INSERT INTO calendar_overrides (day, is_workday, note, created_at, operator) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(day) DO UPDATE SET is_workday = excluded.is_workday, note = excluded.note,"
            " created_at = excluded.created_at, operator = excluded.operator",
            [day.isoformat(), int(is_workday), note or "", now_text(), str(ctx.operator)],
        )
        from haocha_cli.cases import recompute_deadlines

        moved = recompute_deadlines(ctx.db, load_calendar(ctx.db))
        before = None if old is None else {"is_workday": bool(old[0]), "note": old[1]}
        audit.record(ctx.db, str(ctx.operator), "calendar.add-workday" if is_workday else "calendar.add-holiday",
                     "calendar", day.isoformat(), before,
                     {"is_workday": is_workday, "note": note or "", "moved": moved})
    return {"day": day.isoformat(), "is_workday": is_workday, "before": None if old is None else bool(old[0]),
            "official": official, "moved": moved}


def _official(day: date) -> bool | None:
    if FIRST_KNOWN_YEAR <= day.year <= LAST_KNOWN_YEAR:
        return chinese_calendar.is_workday(day)
    return None


def show_calendar(db: sqlite_utils.Database, year: int | None = None) -> dict[str, Any]:
    """The days that differ from "Monday to Friday" (official holidays on weekdays, make-up workdays 调休)
    of ``year``, and the local entries; without a year, the local entries only.

    Returns {rows: [{day, weekday, workday, source, name, note}], known: "2004–2026", note: text or None}.
    """
    local = {r["day"]: r for r in db.query("SELECT day, is_workday, note FROM calendar_overrides ORDER BY day")}
    rows: list[dict[str, Any]] = []
    note = None
    if year is None:
        for day_text, entry in local.items():
            rows.append(_row(date.fromisoformat(day_text), bool(entry["is_workday"]), "local", "", entry["note"]))
    else:
        if not 1900 <= year <= 2200:
            raise InvalidInput(f"year {year} is out of range", "give a year such as 2026")
        known = FIRST_KNOWN_YEAR <= year <= LAST_KNOWN_YEAR
        if not known:
            note = (f"{year} is beyond the official calendar haocha knows ({FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR}): "
                    "weekends only, plus the local entries below")
        day = date(year, 1, 1)
        while day.year == year:
            text = day.isoformat()
            if text in local:
                rows.append(_row(day, bool(local[text]["is_workday"]), "local", _holiday_name(day, known),
                                 local[text]["note"]))
            elif known:
                working = chinese_calendar.is_workday(day)
                if working != (day.weekday() < 5):
                    rows.append(_row(day, working, "official", _holiday_name(day, known), ""))
            day += timedelta(days=1)
    return {"rows": rows, "known": f"{FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR}", "note": note}


def _holiday_name(day: date, known: bool) -> str:
    if not known:
        return ""
    _on_holiday, name = chinese_calendar.get_holiday_detail(day)
    if name is None:
        return ""
    try:
        return f"{chinese_calendar.Holiday(name).chinese} {name}"
    except ValueError:
        return str(name)


def _row(day: date, workday: bool, source: str, name: str, note: str) -> dict[str, Any]:
    kind = "workday" if workday else "holiday"
    if workday and day.weekday() >= 5:
        kind = "make-up workday (调休)"
    return {"day": day.isoformat(), "weekday": "周" + WEEKDAYS[day.weekday()], "kind": kind,
            "workday": workday, "source": source, "holiday": name, "note": note}
