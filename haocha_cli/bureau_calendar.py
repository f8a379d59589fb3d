"""The bureau's working-day calendar: the official one (haocha_cli.official_calendar) plus local entries kept in
the ``calendar_overrides`` table (`haocha calendar add-holiday|add-workday|remove|import|show`).

A new entry moves the deadlines of the cases still open, since they are counted in working days.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import sqlite_utils

from haocha_cli import audit
from haocha_cli.clock import now_text
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput, NotFound
from haocha_cli.official_calendar import (
    FIRST_KNOWN_YEAR,
    LAST_KNOWN_YEAR,
    STATUTORY_RULE,
    WorkCalendar,
    statutory_holidays,
)

WEEKDAYS = ["一", "二", "三", "四", "五", "六", "日"]


def load_calendar(db: sqlite_utils.Database) -> WorkCalendar:
    overrides = {date.fromisoformat(day): bool(flag)
                 for day, flag in db.execute("SELECT day, is_workday FROM calendar_overrides")}
    return WorkCalendar(overrides)


def parse_day(text: str, what: str = "the date") -> date:
    """A calendar day as a clerk writes it (2027-02-08, 2027/2/8, 2027年2月8日: ``periods.read_day``)."""
    from haocha_cli.periods import read_day

    day = read_day(str(text))
    if day is None:
        raise InvalidInput(f"{what} {text!r} is not a date", "use YYYY-MM-DD, e.g. 2027-02-08")
    return day


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
        if old is not None and bool(old[0]) == is_workday and old[1] == (note or ""):
            return {"day": day.isoformat(), "is_workday": is_workday, "before": is_workday, "official": official,
                    "moved": [], "unchanged": True}
        ctx.db.execute(
            "INSERT INTO calendar_overrides (day, is_workday, note, created_at, operator) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(day) DO UPDATE SET is_workday = excluded.is_workday, note = excluded.note,"
            " created_at = excluded.created_at, operator = excluded.operator",
            [day.isoformat(), int(is_workday), note or "", now_text(), ctx.operator.label],
        )
        from haocha_cli.cases import recompute_deadlines

        moved = recompute_deadlines(ctx.db, load_calendar(ctx.db))
        before = None if old is None else {"is_workday": bool(old[0]), "note": old[1]}
        audit.record(ctx.db, ctx.operator, "calendar.add-workday" if is_workday else "calendar.add-holiday",
                     "calendar", day.isoformat(), before,
                     {"is_workday": is_workday, "note": note or "", "moved": moved})
    return {"day": day.isoformat(), "is_workday": is_workday, "before": None if old is None else bool(old[0]),
            "official": official, "moved": moved, "unchanged": False}


def remove_day(ctx: Context, day: date) -> dict[str, Any]:
    """Remove a local entry (city's task): the day is again what the official calendar says, and the open
    cases' deadlines move back. Returns {day, was_workday, note, official, moved}."""
    ctx.require_city("changing the working-day calendar")
    with transaction(ctx.db):
        old = ctx.db.execute("SELECT is_workday, note FROM calendar_overrides WHERE day = ?",
                             [day.isoformat()]).fetchone()
        if old is None:
            raise NotFound(f"{day} has no local calendar entry", "`haocha calendar show` lists the local entries")
        ctx.db.execute("DELETE FROM calendar_overrides WHERE day = ?", [day.isoformat()])
        from haocha_cli.cases import recompute_deadlines

        moved = recompute_deadlines(ctx.db, load_calendar(ctx.db))
        audit.record(ctx.db, ctx.operator, "calendar.remove", "calendar", day.isoformat(),
                     {"is_workday": bool(old[0]), "note": old[1]}, {"moved": moved})
    return {"day": day.isoformat(), "was_workday": bool(old[0]), "note": old[1], "official": _official(day),
            "moved": moved}


# The kinds a calendar file may name, in the words of the State Council's notices (放假, 调休上班) or haocha's.
KINDS = {"holiday": False, "休": False, "休息": False, "放假": False, "假": False,
         "workday": True, "班": True, "上班": True, "调休上班": True, "工作日": True}
_DAY_HEADERS = {"day", "date", "日期"}
_KIND_HEADERS = {"kind", "类型", "安排"}
_NOTE_HEADERS = {"note", "备注", "说明"}


def read_days_file(path: str | Path) -> list[tuple[date, bool, str]]:
    """The entries of a calendar CSV (UTF-8 or GB18030): columns day/日期, kind/类型 (放假 or 调休上班, holiday or
    workday) and optionally note/备注. Every bad line is named at once."""
    from haocha_cli.readers import decode_small_text, regular_file

    path = regular_file(path)

    reader = csv.reader(io.StringIO(decode_small_text(path, path.read_bytes()), newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    where = {}
    for name, names in (("day", _DAY_HEADERS), ("kind", _KIND_HEADERS), ("note", _NOTE_HEADERS)):
        found = [i for i, h in enumerate(header) if h in names]
        if found:
            where[name] = found[0]
    if "day" not in where or "kind" not in where:
        raise InvalidInput(f"{path.name} needs the columns day (日期) and kind (类型); found: {', '.join(header) or 'none'}",
                           "e.g. 日期,类型,备注 then 2027-02-08,放假,春节")
    entries: list[tuple[date, bool, str]] = []
    problems: list[str] = []
    seen: dict[date, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        cells = [v.strip() for v in values] + [""] * len(header)
        try:
            day = parse_day(cells[where["day"]], f"{path.name} line {line}: the day")
        except InvalidInput as exc:
            problems.append(str(exc))
            continue
        kind = KINDS.get(cells[where["kind"]].lower())
        if kind is None:
            problems.append(f"{path.name} line {line}: kind {cells[where['kind']]!r} is not known (use 放假 or "
                            "调休上班, holiday or workday)")
            continue
        if day in seen:
            problems.append(f"{path.name} line {line}: {day} is already on line {seen[day]}")
            continue
        seen[day] = line
        entries.append((day, kind, cells[where["note"]] if "note" in where else ""))
    if problems:
        raise InvalidInput.listing(f"{len(problems)} line(s) of {path.name} cannot be read, so nothing was changed",
                                   problems, "fix them and import the file again")
    if not entries:
        raise InvalidInput(f"{path.name} has no days", "one line per day: 2027-02-08,放假,春节")
    return entries


def import_days(ctx: Context, path: str | Path) -> dict[str, Any]:
    """All the entries of a calendar file (e.g. the State Council's notice of next year's holidays) in one
    transaction, each as `add-holiday`/`add-workday` would record it; a day already recorded the same way
    is left alone, so importing the file again changes nothing."""
    ctx.require_city("changing the working-day calendar")
    entries = read_days_file(path)
    results = []
    with transaction(ctx.db):
        for day, is_workday, note in entries:
            results.append(set_day(ctx, day, is_workday, note))
    changed = [r for r in results if not r["unchanged"]]
    return {"file": Path(path).name, "days": len(entries), "changed": len(changed),
            "holidays": sum(1 for r in changed if not r["is_workday"]),
            "workdays": sum(1 for r in changed if r["is_workday"]),
            "moved": [m for r in results for m in r["moved"]]}


CALENDAR_HORIZON_DAYS = 45  # about 15 working days with a Golden Week: how far ahead a case deadline can reach


def unknown_year_ahead(db: sqlite_utils.Database, day: date) -> int | None:
    """The first year whose notice the deadlines counted from ``day`` may soon need but nobody has given:
    beyond the official calendar haocha knows, with no local entry in it (the rule of ``WorkCalendar``: a
    year with local entries counts as given). Its deadlines skip the statutory holidays but not its 调休.
    None when all is known."""
    for year in range(max(day.year, LAST_KNOWN_YEAR + 1), (day + timedelta(days=CALENDAR_HORIZON_DAYS)).year + 1):
        given = db.execute("SELECT 1 FROM calendar_overrides WHERE day BETWEEN ? AND ? LIMIT 1",
                           [f"{year}-01-01", f"{year}-12-31"]).fetchone()
        if not given:
            return year
    return None


def _official(day: date) -> bool | None:
    if FIRST_KNOWN_YEAR <= day.year <= LAST_KNOWN_YEAR:
        return chinese_calendar.is_workday(day)
    return None


def show_calendar(db: sqlite_utils.Database, year: int | None = None) -> dict[str, Any]:
    """The days that differ from "Monday to Friday" (official holidays on weekdays, make-up workdays 调休)
    of ``year``, and the local entries; without a year, the local entries only. For a year after the
    official calendar, its statutory holidays (source "statutory"), weekend or not.

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
        statutory = statutory_holidays(year) if year > LAST_KNOWN_YEAR else {}
        given = any(d.startswith(f"{year}-") for d in local)
        beyond = f"{year} is beyond the official calendar haocha knows ({FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR})"
        if statutory and given:
            note = (f"{beyond}: the statutory holidays of {STATUTORY_RULE} (法定节假日) and weekends are days off, "
                    "and the local entries below (the year's notice) take precedence")
        elif statutory:
            note = (f"{beyond}: weekends and the statutory holidays of {STATUTORY_RULE} are days off (listed as "
                    "法定节假日（未含调休）); the make-up working days (调休) are not known until the State Council's "
                    "notice is recorded (haocha calendar import), and open cases' deadlines are recounted then")
        elif not known:
            note = f"{beyond}: weekends only, plus the local entries below"
        day = date(year, 1, 1)
        while day.year == year:
            text = day.isoformat()
            if text in local:
                name = _holiday_name(day, known) or _statutory_name(statutory.get(day))
                rows.append(_row(day, bool(local[text]["is_workday"]), "local", name, local[text]["note"]))
            elif day in statutory:
                rows.append(_row(day, False, "statutory", _statutory_name(statutory[day]),
                                 "法定节假日" if given else "法定节假日（未含调休）"))
            elif known:
                working = chinese_calendar.is_workday(day)
                if working != (day.weekday() < 5):
                    rows.append(_row(day, working, "official", _holiday_name(day, known), ""))
            day += timedelta(days=1)
    return {"rows": rows, "known": f"{FIRST_KNOWN_YEAR}–{LAST_KNOWN_YEAR}", "note": note}


def _statutory_name(holiday: chinese_calendar.Holiday | None) -> str:
    return "" if holiday is None else f"{holiday.chinese} {holiday.value}"


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
