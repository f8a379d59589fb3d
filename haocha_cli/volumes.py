"""Service volumes (办件量): services handled per day, window and item, as the licensing system exports them,
and the rating rate (主动评价率) = counted ratings ÷ services that they give (docs/method.md section 8).

A file (CSV in any Chinese encoding, or .xlsx) has the columns 日期, 窗口编码, 事项编码, 办件量. An import is all or
nothing: every bad line is named at once and nothing changes until the file is clean. It is idempotent per
day × window × item: the same file again adds nothing; a corrected file for a day replaces that day's figure of
each window and item it names (the licensing system's latest export is the truth), and says how many it replaced.
After an import the city's window flags (haocha_cli.flags ``scan_window_flags``) are scanned for its months.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit
from haocha_cli.clock import now_text
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput
from haocha_cli.periods import Period, read_day
from haocha_cli.readers import open_table

# Column headers as the licensing system and clerks write them, and their English twins.
COLUMNS = {
    "日期": "day", "办件日期": "day", "办理日期": "day", "day": "day", "date": "day",
    "窗口编码": "window", "窗口": "window", "window": "window", "window_code": "window",
    "事项编码": "item", "事项": "item", "事项名称": "item", "item": "item", "item_code": "item",
    "办件量": "services", "办件数": "services", "办件数量": "services", "services": "services", "volume": "services",
}
_NAMES = {"day": "日期", "window": "窗口编码", "item": "事项编码", "services": "办件量"}
_WHOLE = re.compile(r"[0-9]+(?:\.0+)?")
_MOST = 20  # bad lines named in one error


def _header(path: Path, header: list[str]) -> dict[str, int]:
    """Each field's column index; InvalidInput naming what is missing or doubled."""
    where: dict[str, int] = {}
    for i, name in enumerate(header):
        field = COLUMNS.get(unicodedata.normalize("NFKC", name).strip().lower())
        if field is None:
            continue
        if field in where:
            raise InvalidInput(f"{path.name}: columns {header[where[field]]} and {name} both give {_NAMES[field]}",
                               "keep one of them")
        where[field] = i
    missing = [_NAMES[f] for f in _NAMES if f not in where]
    if missing:
        raise InvalidInput(f"{path.name}: missing column(s) {', '.join(missing)}",
                           f"the header must be 日期,窗口编码,事项编码,办件量; columns found: {', '.join(header)}")
    return where


def _day(text: str, epoch) -> date | None:
    text = text.strip()
    if text.endswith(" 00:00:00"):  # a date cell of a spreadsheet, read as a moment
        text = text[:-9]
    if epoch is not None and text.isdigit() and 20000 < int(text) < 80000:  # an .xlsx date cell shown as a number
        return (epoch + timedelta(days=int(text))).date()
    return read_day(text)


def read_volumes(db: sqlite_utils.Database, path: str | Path) -> tuple[Path, list[dict[str, Any]]]:
    """The rows of a volume file, checked against the catalogue: [{line, day, window_code, county_code,
    item_code, services}]. Any bad line refuses the whole file with one error naming every bad line."""
    table = open_table(path)
    try:
        if table.format not in ("csv", "xlsx"):
            raise InvalidInput(f"{table.path.name} is {table.format}, not a table",
                               "export the service volumes as CSV or .xlsx with the columns 日期,窗口编码,事项编码,办件量")
        where = _header(table.path, table.header or [])
        windows = dict(db.execute("SELECT code, county_code FROM windows").fetchall())
        items: dict[str, str] = {}
        for code, name, impl in db.execute("SELECT code, name, impl_code FROM items").fetchall():
            items[code] = code
            items.setdefault(name, code)
            if impl:  # the national implementation code (实施编码) of the service-item list
                items.setdefault(impl, code)
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        seen: dict[tuple[str, str, str], int] = {}
        name = table.path.name
        for line, cells, _obj, _raw, error in table.rows:
            if error is not None or cells is None:
                problems.append(f"{name} line {line} cannot be split into cells ({error})")
                continue
            value = {f: (cells[i].strip() if i < len(cells) else "") for f, i in where.items()}
            day = _day(value["day"], table.excel_epoch)
            window = unicodedata.normalize("NFKC", value["window"]).strip()
            item = items.get(value["item"]) or items.get(unicodedata.normalize("NFKC", value["item"]).strip())
            count = unicodedata.normalize("NFKC", value["services"]).replace(",", "").strip()
            if day is None:
                problems.append(f"{name} line {line}: 日期 {value['day'] or '(empty)'!r} is not a day (e.g. 2026-08-03)")
            elif window not in windows:
                problems.append(f"{name} line {line}: 窗口编码 {window or '(empty)'} is not a window of the catalogue")
            elif item is None:
                problems.append(f"{name} line {line}: 事项编码 {value['item'] or '(empty)'} is not a service item of the"
                                " catalogue (its code or name)")
            elif not _WHOLE.fullmatch(count):
                problems.append(f"{name} line {line}: 办件量 {value['services'] or '(empty)'!r} is not a whole number of"
                                " services (0 or more)")
            else:
                key = (day.isoformat(), window, item)
                if key in seen:
                    problems.append(f"{name} line {line}: {key[0]} {window} {item} is on line {seen[key]} already")
                    continue
                seen[key] = line
                rows.append({"line": line, "day": key[0], "window_code": window, "county_code": windows[window],
                             "item_code": item, "services": int(float(count))})
    finally:
        table.close()
    if len(problems) == 1:
        raise InvalidInput(f"{problems[0]}, so nothing was imported", "fix the line and import the file again")
    if problems:
        raise InvalidInput.listing(f"{len(problems)} lines of {name} cannot be imported, so nothing was imported",
                                   problems, "fix them and import the file again", most=_MOST)
    if not rows:
        raise InvalidInput(f"{name} has no rows", "export the service volumes again: the file holds only its header")
    return table.path, rows


def import_volumes(ctx: Context, path: str | Path) -> dict[str, Any]:
    """`haocha volumes import`: the file's figures in one transaction (city's task); then the window flags
    of its months (and the month after each, whose drop is judged against it)."""
    ctx.require_city("importing service volumes")
    from haocha_cli.flags import scan_window_flags

    path, rows = read_volumes(ctx.db, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    counts = {"added": 0, "replaced": 0, "unchanged": 0}
    now = now_text()
    with transaction(ctx.db):
        for row in rows:
            old = ctx.db.execute("SELECT services FROM service_volumes WHERE day = ? AND window_code = ?"
                                 " AND item_code = ?", [row["day"], row["window_code"], row["item_code"]]).fetchone()
            if old is not None and old[0] == row["services"]:
                counts["unchanged"] += 1
                continue
            counts["replaced" if old is not None else "added"] += 1
            ctx.db.execute("INSERT OR REPLACE INTO service_volumes (day, window_code, item_code, county_code, services,"
                           " imported_at) VALUES (?, ?, ?, ?, ?, ?)",
                           [row["day"], row["window_code"], row["item_code"], row["county_code"], row["services"], now])
        days = sorted({r["day"] for r in rows})
        summary = {"file": path.name, "sha256": digest, "rows_read": len(rows), **counts,
                   "from": days[0], "to": days[-1], "services": sum(r["services"] for r in rows)}
        if counts["added"] or counts["replaced"]:
            audit.record(ctx.db, ctx.operator, "volumes.import", "service_volumes", f"{days[0]}..{days[-1]}", None,
                         summary)
        months = sorted({d[:7] for d in days})
        scanned = sorted(set(months) | {_next_month(m) for m in months})
        summary["months_scanned"] = scanned
        summary["window_flags_raised"] = scan_window_flags(ctx, scanned)["new_total"]
    return summary


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def list_volumes(ctx: Context, period: Period | None = None, county: str | None = None,
                 window: str | None = None) -> list[dict[str, Any]]:
    """The figures, by day, window and item; a county operator sees its own county's."""
    county = ctx.county_scope(county, "see the service volumes")
    where, params = [], []
    if period:
        where.append("v.day BETWEEN ? AND ?")
        params += [period.start.isoformat(), period.end.isoformat()]
    if county:
        where.append("v.county_code = ?")
        params.append(county)
    if window:
        where.append("v.window_code = ?")
        params.append(window)
    sql = ("SELECT v.day, v.county_code, c.name AS county_name, v.window_code, w.name AS window_name, v.item_code,"
           " i.name AS item_name, v.services, v.imported_at FROM service_volumes v"
           " LEFT JOIN counties c ON c.code = v.county_code LEFT JOIN windows w ON w.code = v.window_code"
           " LEFT JOIN items i ON i.code = v.item_code" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY v.day, v.county_code, v.window_code, v.item_code")
    return list(ctx.db.query(sql, params))


# --- the rating rate ---------------------------------------------------------------------------------

# The index's --by keys that service volumes have (they have no channel, mode or indicator).
RATE_KEYS = ("county", "window", "item", "day", "week", "month")


def services_by(db: sqlite_utils.Database, expressions: dict[str, str], where: str,
                params: list) -> dict[tuple, int] | None:
    """Services per group of the index's keys (``expressions``: key → SQL over day, county_code, window_code,
    item_code); None when a key is one volumes do not have (channel, mode): no rating rate then."""
    if any(k not in RATE_KEYS for k in expressions):
        return None
    select = "".join(f"{sql} AS {k}, " for k, sql in expressions.items())
    group = f" GROUP BY {', '.join(expressions)}" if expressions else ""
    found = {}
    for row in db.query(f"SELECT {select}sum(services) AS services FROM service_volumes WHERE {where}{group}",
                        params):
        if row["services"] is not None:
            found[tuple(row[k] for k in expressions)] = row["services"]
    return found


def rating_rate(n: int, services: int | None) -> float | None:
    """主动评价率 = counted ratings ÷ services; None without services (no figure, never 0 or ∞)."""
    return n / services if services else None


def window_months(db: sqlite_utils.Database, month: str) -> list[dict[str, Any]]:
    """Each window with services in the month: its counted ratings, services and rating rate, and its county's
    (the county's windows that have services that month: Σ ratings ÷ Σ services)."""
    start, end = f"{month}-01", f"{month}-31"
    services = db.execute("SELECT window_code, county_code, sum(services) FROM service_volumes"
                          " WHERE day BETWEEN ? AND ? GROUP BY window_code", [start, end]).fetchall()
    ratings = dict(db.execute("SELECT window_code, sum(n) FROM daily_agg WHERE day BETWEEN ? AND ?"
                              " GROUP BY window_code", [start, end]).fetchall())
    county: dict[str, list[int]] = {}
    rows = []
    for window, county_code, count in services:
        n = ratings.get(window) or 0
        acc = county.setdefault(county_code, [0, 0])
        acc[0] += n
        acc[1] += count
        rows.append({"month": month, "county_code": county_code, "window_code": window, "n": n, "services": count,
                     "rating_rate": rating_rate(n, count)})
    for row in rows:
        n, count = county[row["county_code"]]
        row.update(county_n=n, county_services=count, county_rate=rating_rate(n, count))
    return sorted(rows, key=lambda r: (r["county_code"], r["window_code"]))
