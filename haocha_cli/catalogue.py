"""The catalogue (目录): city, counties (县级局), windows and online channels, service items (事项), staff."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit
from haocha_cli.clock import now_text
from haocha_cli.context import Context
from haocha_cli.db import get_meta, set_meta, transaction
from haocha_cli.errors import InvalidInput, NotFound
from haocha_cli.readers import decode_small_text, regular_file
from haocha_cli.tomlfile import loads_toml

KINDS = {"offline": "offline", "online": "online", "实体窗口": "offline", "窗口": "offline",
         "网上渠道": "online", "网上办理": "online", "线上": "online", "线下": "offline"}

# 状态 as bureaus write it (an empty cell, or no 状态 column, is active). Read case-blind, a leading 已 dropped
# (已停用 = 停用). Anything else refuses the file: a misread status would switch a window on or off unseen.
ACTIVE_WORDS = ("启用", "在用", "正常", "有效", "是", "1", "true", "yes", "active")
INACTIVE_WORDS = ("停用", "撤销", "注销", "关闭", "无效", "否", "0", "false", "no", "inactive")
_STATUS = dict.fromkeys(ACTIVE_WORDS, 1) | dict.fromkeys(INACTIVE_WORDS, 0)
STATUS_HINT = (f"write {'/'.join(ACTIVE_WORDS)} for one in use, {'/'.join(INACTIVE_WORDS)} for one no longer"
               " in use, or leave the cell empty (in use)")

# The keys a TOML organisation file's entries may have: a misspelt key would otherwise be dropped unseen.
_KEYS = {
    "counties": ("code", "name"),
    "items": ("code", "name", "legal_days", "promised_days", "active", "impl_code", "item_type", "windows"),
    "windows": ("code", "name", "county", "county_name", "kind", "opening_hours", "active"),
    "staff": ("code", "name", "county", "phone", "active"),
}

# Window-directory CSV headers as bureaus keep them, and their English twins.
CSV_HEADERS = {
    "区县局": "county_name", "county_name": "county_name",
    "行政区划代码": "county", "county": "county", "county_code": "county",
    "窗口编码": "code", "window_code": "code", "code": "code",
    "窗口名称": "name", "window_name": "name", "name": "name",
    "窗口类型": "kind", "kind": "kind",
    "办公时间": "opening_hours", "营业时间": "opening_hours", "opening_hours": "opening_hours",
    "状态": "active", "active": "active",
}
_REQUIRED_WINDOW = ("code", "name", "county", "kind")
_WINDOW_NAMES = {"code": "窗口编码", "name": "窗口名称", "county": "行政区划代码", "kind": "窗口类型"}

# A service-item list (服务事项清单) CSV, headers as bureaus keep them and their English twins. A CSV with one of
# ITEM_MARKS in its header is an item list; any other CSV is a window directory.
ITEM_CSV_HEADERS = {
    "事项编码": "code", "code": "code", "item_code": "code",
    "事项名称": "name", "name": "name", "item_name": "name",
    "实施编码": "impl_code", "事项实施编码": "impl_code", "impl_code": "impl_code",
    "事项类型": "item_type", "item_type": "item_type",
    "法定时限": "legal_days", "法定办结时限": "legal_days", "legal_days": "legal_days",
    "承诺时限": "promised_days", "承诺办结时限": "promised_days", "promised_days": "promised_days",
    "办理窗口": "windows", "窗口": "windows", "windows": "windows",
    "状态": "active", "active": "active",
}
ITEM_MARKS = ("事项编码", "事项名称", "实施编码", "事项实施编码", "法定时限", "法定办结时限", "item_code", "impl_code",
              "legal_days")
_REQUIRED_ITEM = ("code", "name", "legal_days", "promised_days")
_ITEM_NAMES = {"code": "事项编码", "name": "事项名称", "legal_days": "法定时限", "promised_days": "承诺时限"}
# Between the window codes of an item's 办理窗口 cell: 、 ; ， or spaces (a comma only in a quoted cell).
_LIST_SEPARATOR = re.compile(r"[,，;；、\s]+")
# A time limit as bureaus write it: 20, 20个工作日, 20工作日, 20日, 20天 (working days, always).
_DAYS_SUFFIX = re.compile(r"\s*(个工作日|工作日|日|天)$")

# field name -> (table, columns compared for "changed")
_TABLES = {
    "counties": ("counties", ("name",)),
    "items": ("items", ("name", "legal_days", "promised_days", "active", "impl_code", "item_type", "windows")),
    "windows": ("windows", ("name", "county_code", "kind", "opening_hours", "active")),
    "staff": ("staff", ("name", "county_code", "phone_hash", "active")),
}


def default_org_path() -> Path:
    from haocha_cli.resources import resource_path

    return resource_path("examples") / "qingdao.toml"


def load_org_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML organisation file or a CSV window directory into plain lists, each entry tagged with
    where it came from (for error messages)."""
    path = regular_file(path)
    raw = path.read_bytes()
    if path.suffix.lower() == ".csv":
        if _is_item_list(path, raw):
            items, ignored = _read_window_csv(path, raw, ITEM_CSV_HEADERS, _REQUIRED_ITEM, _ITEM_NAMES)
            return {"items": items, "ignored_columns": ignored}
        windows, ignored = _read_window_csv(path, raw)
        return {"windows": windows, "ignored_columns": ignored}
    data = loads_toml(decode_small_text(path, raw), str(path))
    result: dict[str, Any] = {}
    if "city" in data:
        city = data["city"]
        if not isinstance(city, dict):
            raise InvalidInput(f"{path.name}: city must be a table", "write [city] with code, name and bureau_name")
        unknown = [k for k in city if k not in ("code", "name", "bureau_name")]
        if unknown:
            raise InvalidInput(f"{path.name}: unknown key(s) {', '.join(unknown)} in [city]",
                               "[city] has the keys code, name, bureau_name")
        result["city"] = city
    for section in ("counties", "items", "windows", "staff"):
        entries = data.get(section, [])
        if not isinstance(entries, list):
            raise InvalidInput(f"{path}: [{section}] must be a list of tables", f"write [[{section}]] entries")
        result[section] = [_toml_entry(path, section, i, e) for i, e in enumerate(entries, 1)]
    return result


def _toml_entry(path: Path, section: str, number: int, entry: Any) -> dict[str, Any]:
    where = f"{path.name} {section} entry {number}"
    if not isinstance(entry, dict):
        return {"_where": where, "_problem": InvalidInput(f"{where} is not a table", f"write [[{section}]] entries")}
    result = dict(entry, _where=where)
    unknown = [k for k in entry if k not in _KEYS[section]]
    if unknown:
        result["_problem"] = InvalidInput(f"{where}: unknown key(s) {', '.join(unknown)}",
                                          f"a {section} entry has the keys {', '.join(_KEYS[section])}")
    return result


def _is_item_list(path: Path, raw: bytes) -> bool:
    """Whether a CSV is a service-item list (its header names an item column) rather than a window directory."""
    first = decode_small_text(path, raw).split("\n", 1)[0]
    return any(h.strip().strip('"').lstrip("\ufeff") in ITEM_MARKS for h in first.split(","))


def _read_window_csv(path: Path, raw: bytes, headers: dict[str, str] = CSV_HEADERS,
                     required: tuple[str, ...] = _REQUIRED_WINDOW,
                     names: dict[str, str] = _WINDOW_NAMES) -> tuple[list[dict[str, Any]], list[str]]:
    """The windows of a CSV window directory (or the items of an item list, with its ``headers``), and the
    columns it ignored. A line that cannot be read as it
    stands (a cell too many or too few, a cell under no column, a broken quote) is an entry whose
    ``_problem`` says so: the file is then refused with every such line named, never read half."""
    reader = csv.reader(io.StringIO(decode_small_text(path, raw), newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidInput(f"{path.name}: the header line cannot be read ({exc})",
                           "the first line must name the columns, separated by commas") from None
    if not header:
        raise InvalidInput(f"{path} is empty", "the first line must name the columns, e.g. 行政区划代码,窗口编码,窗口名称,窗口类型")
    header = [h.strip() for h in header]
    fields = [headers.get(h) for h in header]
    missing = [f for f in required if f not in fields]
    if missing:
        raise InvalidInput(
            f"{path.name}: missing column(s) {', '.join(names[m] + '/' + m for m in missing)}",
            f"columns found: {', '.join(header)}",
        )
    for field in dict.fromkeys(f for f in fields if f):
        both = [h for h, f in zip(header, fields, strict=True) if f == field]
        if len(both) > 1:
            raise InvalidInput(f"{path.name}: columns {' and '.join(both)} both give {field}", "keep one of them")
    ignored = [h for h, f in zip(header, fields, strict=True) if f is None and h]
    width = len(header)
    if "windows" in fields:
        too_many = ('a cell holding a comma must be in double quotes: quote the windows cell ("LC01,LC02")'
                    " or separate the window codes with 、 or ;")
    elif "opening_hours" in fields:
        too_many = ('a cell holding a comma must be in double quotes: quote the hours cell ("09:00-12:00,13:30-17:00")'
                    " or separate the spans with 、 or ;")
    else:
        too_many = 'a cell holding a comma must be in double quotes, e.g. "李沧区局政务服务大厅,二楼"'
    windows = []
    last = reader.line_num
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            where = f"{path.name} line {last + 1}"
            last = reader.line_num
            windows.append({"_where": where, "_problem": InvalidInput(
                f"{where} cannot be split into cells ({exc})",
                'a quote is not closed or not doubled: a quote inside a quoted cell is written ""')})
            continue
        if row is None:
            break
        where, last = f"{path.name} line {last + 1}", reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > width and not any(cell.strip() for cell in row[width:]):
            del row[width:]  # trailing empty cells: a spreadsheet's ragged right edge
        entry: dict[str, Any] = {"_where": where}
        if len(row) != width:
            entry["_problem"] = InvalidInput(
                f"{where}: {len(row)} cells where the header has {width} columns",
                too_many if len(row) > width else
                "a cell is missing or the line is cut off; an empty cell is nothing between two commas")
        else:
            stray = [cell.strip() for h, cell in zip(header, row, strict=True) if not h and cell.strip()]
            if stray:
                entry["_problem"] = InvalidInput(
                    f"{where}: {stray[0]!r} is under a column without a header",
                    too_many if "opening_hours" in fields else "name the column in the first line, or delete the cell")
        entry.update({f: cell.strip() for f, cell in zip(fields, row, strict=False) if f})
        windows.append(entry)
    return windows, ignored


def _validate(db: sqlite_utils.Database, data: dict[str, Any], vault) -> dict[str, list[dict[str, Any]]]:
    """Check every entry before anything is written; return rows ready for the tables."""
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _TABLES}
    seen: dict[str, set[str]] = {k: set() for k in (*_TABLES, "impl")}

    def need(entry: dict[str, Any], *keys: str) -> None:
        for key in keys:
            if str(entry.get(key, "")).strip() == "":
                raise InvalidInput(f"{entry['_where']}: {key} is missing", f"every entry needs {', '.join(keys)}")

    def once(section: str, entry: dict[str, Any]) -> str:
        code = str(entry["code"]).strip()
        if code in seen[section]:
            raise InvalidInput(f"{entry['_where']}: duplicate code {code}", "each code may appear once in a file")
        seen[section].add(code)
        return code

    def county(e: dict[str, Any]) -> None:
        need(e, "code", "name")
        code = once("counties", e)
        if not (code.isdigit() and len(code) == 6):
            raise InvalidInput(f"{e['_where']}: county code {code} is not a 6-digit division code", "e.g. 370213")
        rows["counties"].append({"code": code, "name": str(e["name"]).strip()})

    # Every entry is checked and every problem reported at once, so that a clerk fixes a file in one go.
    problems: list[InvalidInput] = []

    def check(section: str, function: Callable[[dict[str, Any]], None]) -> None:
        for entry in data.get(section, []):
            if "_problem" in entry:  # the line or entry cannot be read as it stands: nothing else is checked
                problems.append(entry["_problem"])
                continue
            try:
                function(entry)
            except InvalidInput as exc:
                problems.append(exc)

    check("counties", county)
    known_counties = {r[0] for r in db.execute("SELECT code FROM counties")} | seen["counties"]
    county_names = dict(db.execute("SELECT code, name FROM counties").fetchall()) | {
        r["code"]: r["name"] for r in rows["counties"]}

    def county_of(e: dict[str, Any]) -> str:
        code = str(e.get("county", "")).strip()
        if code not in known_counties:
            listed = ", ".join(f"{c} {county_names.get(c, '')}".rstrip() for c in sorted(known_counties))
            raise InvalidInput(
                f"{e['_where']}: county {code or '(empty)'} does not exist",
                f"known counties: {listed}",
            )
        return code

    def item(e: dict[str, Any]) -> None:
        need(e, "code", "name", "legal_days", "promised_days")
        code = once("items", e)
        for key in ("legal_days", "promised_days"):  # 20个工作日 in a CSV cell is 20
            if isinstance(e[key], str):
                e[key] = _DAYS_SUFFIX.sub("", e[key].strip())
        try:
            if any(isinstance(e[k], bool) or (isinstance(e[k], float) and not e[k].is_integer())
                   for k in ("legal_days", "promised_days")):
                raise ValueError("not a whole number")  # int() would take true as 1 and cut 5.5 to 5
            legal, promised = int(e["legal_days"]), int(e["promised_days"])
        except (TypeError, ValueError):
            raise InvalidInput(f"{e['_where']}: legal_days and promised_days must be whole numbers", "e.g. 20 and 5") from None
        if legal <= 0 or promised <= 0 or promised > legal:
            raise InvalidInput(
                f"{e['_where']}: time limits {legal}/{promised} are not valid",
                "working days must be positive and the promised limit no longer than the legal one",
            )
        rows["items"].append({"code": code, "name": str(e["name"]).strip(), "legal_days": legal,
                              "promised_days": promised, "active": _active(e), "impl_code": _impl_code(e, code),
                              "item_type": str(e.get("item_type") or "").strip() or None,
                              "windows": _item_windows(e)})

    # 实施编码: one item's each, never another item's local code (a rating file may give either).
    impl_owner = {impl: code for code, impl in db.execute("SELECT code, impl_code FROM items WHERE impl_code IS NOT NULL")}
    local_codes = {r[0] for r in db.execute("SELECT code FROM items")} | {
        str(e.get("code", "")).strip() for e in data.get("items", [])}

    def _impl_code(e: dict[str, Any], code: str) -> str | None:
        impl = str(e.get("impl_code") or "").strip()
        if not impl:
            return None
        if impl in seen["impl"]:
            raise InvalidInput(f"{e['_where']}: 实施编码 {impl} is given twice in the file",
                               "each item has its own 实施编码")
        seen["impl"].add(impl)
        owner = impl_owner.get(impl)
        if owner is not None and owner != code:
            raise InvalidInput(f"{e['_where']}: 实施编码 {impl} is already item {owner}'s",
                               "each item has its own 实施编码; to move it, clear it from that item first")
        if impl != code and impl in local_codes:
            raise InvalidInput(f"{e['_where']}: 实施编码 {impl} is the local code of another item",
                               "a rating file may give either code, so they must not overlap")
        return impl

    known_windows = {r[0] for r in db.execute("SELECT code FROM windows")} | {
        str(e.get("code", "")).strip() for e in data.get("windows", [])}

    def _item_windows(e: dict[str, Any]) -> str | None:
        given = e.get("windows")
        if given is None or given == "":
            return None
        codes = ([str(c).strip() for c in given] if isinstance(given, list)
                 else [c for c in _LIST_SEPARATOR.split(str(given).strip()) if c])
        codes = list(dict.fromkeys(c for c in codes if c))
        unknown = [c for c in codes if c not in known_windows]
        if unknown:
            raise InvalidInput(f"{e['_where']}: window(s) {', '.join(unknown)} of 办理窗口 do not exist",
                               "`haocha org show --part windows` lists the windows; import them first")
        return ",".join(codes) or None

    def window(e: dict[str, Any]) -> None:
        need(e, "code", "name", "county", "kind")
        code = once("windows", e)
        kind = KINDS.get(str(e["kind"]).strip().lower())
        if kind is None:
            raise InvalidInput(f"{e['_where']}: window type {e['kind']!r} is not known", "use 实体窗口/网上渠道 or offline/online")
        hours = str(e.get("opening_hours") or "").strip() or None
        if hours is not None:
            try:
                hours = ",".join(f"{a:02d}:{b:02d}-{c:02d}:{d:02d}" for a, b, c, d in read_opening_hours(hours))
            except ValueError as why:
                reason = f": {why}" if str(why) else ""
                raise InvalidInput(f"{e['_where']}: opening hours {hours!r} cannot be read{reason}",
                                   "write spans such as 09:00-12:00,13:30-17:00, or leave the cell empty") from None
        rows["windows"].append({"code": code, "name": str(e["name"]).strip(), "county_code": county_of(e),
                                "kind": kind, "opening_hours": hours, "active": _active(e)})

    def member(e: dict[str, Any]) -> None:
        need(e, "code", "name", "county")
        code = once("staff", e)
        row = {"code": code, "name": str(e["name"]).strip(), "county_code": county_of(e), "active": _active(e),
               "phone_hash": None, "phone_enc": None, "phone_masked": None}
        if str(e.get("phone", "")).strip():
            try:
                row["phone_hash"], row["phone_enc"], row["phone_masked"] = vault.protect(str(e["phone"]))
            except InvalidInput as exc:
                raise InvalidInput(f"{e['_where']}: {exc.message}", exc.hint) from None
        rows["staff"].append(row)

    check("items", item)
    check("windows", window)
    check("staff", member)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InvalidInput.listing(f"{len(problems)} entries cannot be imported, so nothing was changed",
                                   [str(p) for p in problems], "fix them and import the file again")
    return rows


# One span: 09:00-12:00, also as clerks type it: 9:00 - 12:00, 09：00至12：00, 13:30~17:00.
_SPAN = re.compile(r"(\d{1,2})[:：](\d{2})\s*[-–—~～至到]\s*(\d{1,2})[:：](\d{2})")
# Between spans: a comma, or what a clerk uses where a comma would split the CSV cell (、 ; ，；), or spaces.
_SPAN_SEPARATOR = re.compile(r"\s*[,，;；、]\s*|\s+")


def read_opening_hours(text: str) -> list[tuple[int, int, int, int]]:
    """``09:00-12:00,13:30-17:00`` → [(9, 0, 12, 0), (13, 30, 17, 0)]; ValueError (with the reason, or none
    when the text is not spans at all) when it cannot be read."""
    text = str(text).strip().strip(",，;；、").strip()  # a separator after the last span is a slip, not a span
    spans, at = [], 0
    while True:
        m = _SPAN.match(text, at)
        if not m:
            raise ValueError("")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        span = m.group(0)
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{span} is not a time of day")
        if (h2, m2) <= (h1, m1):
            raise ValueError(f"the span {span} ends before it begins")
        spans.append((h1, m1, h2, m2))
        at = m.end()
        if at == len(text):
            return spans
        sep = _SPAN_SEPARATOR.match(text, at)
        if not sep or sep.end() == len(text):
            raise ValueError("")
        at = sep.end()


def parse_opening_hours(text: str | None) -> list[tuple[time, time]] | None:
    """``09:00-12:00,13:30-17:00`` → [(09:00, 12:00), (13:30, 17:00)]; None when absent or unreadable."""
    if not text or not str(text).strip():
        return None
    try:
        spans = read_opening_hours(text)
    except ValueError:
        return None
    return [(time(h1, m1), time(23, 59, 59) if h2 == 24 else time(h2, m2)) for h1, m1, h2, m2 in spans]


def _active(entry: dict[str, Any]) -> int:
    """An entry's 状态: 1 in use, 0 not; InvalidInput for a value that says neither."""
    value = entry.get("active", True)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return 1
        found = _STATUS.get(word.removeprefix("已") if len(word) > 1 else word)
        if found is not None:
            return found
    raise InvalidInput(f"{entry['_where']}: status (状态) {value!r} is not known", STATUS_HINT)


def import_org(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Add or update catalogue entries (city's task). All or nothing; one audit event per change."""
    ctx.require_city("changing the catalogue")
    rows = _validate(ctx.db, data, ctx.vault)
    city_code = str(data.get("city", {}).get("code") or get_meta(ctx.db, "city_code") or ctx.config["city_code"])
    for row in rows["counties"]:
        row["city_code"] = city_code
    counts = {"added": 0, "updated": 0, "unchanged": 0, "deactivated": 0}
    changes: list[str] = []
    now = now_text()
    with transaction(ctx.db):
        for key in ("code", "name", "bureau_name"):
            value = data.get("city", {}).get(key) or get_meta(ctx.db, f"city_{key}")
            set_meta(ctx.db, f"city_{key}", str(value or ctx.config["bureau_name" if key == "bureau_name" else f"city_{key}"]))
        for section, (table, compared) in _TABLES.items():
            for row in rows[section]:
                old = ctx.db.execute(f"SELECT * FROM {table} WHERE code = ?", [row["code"]]).fetchone()
                if old is None:
                    ctx.db[table].insert(dict(row, created_at=now))
                    counts["added"] += 1
                    changes.append(f"added {section[:-1] if section != 'staff' else 'staff'} {row['code']}")
                    audit.record(ctx.db, ctx.operator, "catalogue.add", table, row["code"], None, _public(row))
                    continue
                old = dict(zip([c[0] for c in ctx.db.execute(f"SELECT * FROM {table} LIMIT 0").description], old, strict=True))
                if all(old.get(c) == row.get(c) for c in compared):
                    counts["unchanged"] += 1
                    continue
                update = {k: v for k, v in row.items() if k != "code"}
                if table == "windows" and old["active"] and not row["active"]:
                    update["deactivated_at"] = now
                    counts["deactivated"] += 1
                elif table == "windows" and row["active"]:
                    update["deactivated_at"] = None
                ctx.db[table].update(row["code"], update)
                counts["updated"] += 1
                changes.append(f"updated {table} {row['code']}")
                audit.record(ctx.db, ctx.operator, "catalogue.update", table, row["code"],
                             _public(old), _public(row))
    return {**counts, "changes": changes, "ignored_columns": list(data.get("ignored_columns", []))}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the audit trail may show it: never the phone itself."""
    return {k: v for k, v in row.items() if k not in ("phone_enc", "phone_hash", "created_at")}


def remove_window(ctx: Context, code: str) -> str:
    """Delete a window that never took a rating; deactivate one that did (its history must stay)."""
    ctx.require_city("changing the catalogue")
    window = get_window(ctx.db, code)
    with transaction(ctx.db):
        rated = ctx.db.execute("SELECT 1 FROM ratings WHERE window_code = ? LIMIT 1", [code]).fetchone()
        if rated:
            if not window["active"]:
                return "already inactive"
            ctx.db["windows"].update(code, {"active": 0, "deactivated_at": now_text()})
            audit.record(ctx.db, ctx.operator, "catalogue.deactivate", "windows", code, {"active": 1}, {"active": 0})
            return "deactivated"
        ctx.db.execute("DELETE FROM windows WHERE code = ?", [code])
        audit.record(ctx.db, ctx.operator, "catalogue.delete", "windows", code, _public(window), None)
        return "deleted"


def get_window(db: sqlite_utils.Database, code: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM windows WHERE code = ?", [code]))
    if not rows:
        known = [r[0] for r in db.execute("SELECT code FROM windows ORDER BY code LIMIT 12")]
        raise NotFound(f"window {code} does not exist", f"known windows include {', '.join(known)}")
    return rows[0]


def get_county(db: sqlite_utils.Database, code: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM counties WHERE code = ?", [code]))
    if not rows:
        raise NotFound(f"county {code} does not exist", f"known counties: {county_list(db)}")
    return rows[0]


def county_list(db: sqlite_utils.Database, codes: list[str] | None = None) -> str:
    """The counties as an error lists them: ``370202 市南区, 370203 市北区, …`` (all, or those of ``codes``)."""
    rows = db.execute("SELECT code, name FROM counties ORDER BY code").fetchall()
    names = dict(rows)
    return ", ".join(f"{code} {names[code]}".rstrip() if code in names else code
                     for code in (codes if codes is not None else [code for code, _ in rows]))


# What a clerk adds to a county's name: 李沧区局 is 李沧区's bureau; 李沧 its short name (the name without 区/市/县).
_COUNTY_SUFFIXES = ("自治县", "区", "市", "县", "旗")


def _short_county_name(name: str) -> str:
    for suffix in _COUNTY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def resolve_county(db: sqlite_utils.Database, text: str) -> str:
    """The code of the county a clerk names: its code (370213), its name (李沧区), its short name (李沧) or its
    bureau (李沧区局), full-width digits and surrounding spaces allowed. Unknown or ambiguous: an error listing
    the counties as ``370213 李沧区``. Every ``--county`` option (and a ``county:`` role) comes through here."""
    import unicodedata

    given = unicodedata.normalize("NFKC", str(text or "")).strip()
    rows = db.execute("SELECT code, name FROM counties ORDER BY code").fetchall()
    if not given:
        raise InvalidInput("the county is empty", f"name one: {county_list(db)}")
    for code, _name in rows:
        if given == code:
            return code
    wanted = given.removesuffix("局") if given.endswith("局") and len(given) > 2 else given
    for match in (lambda name: name == wanted, lambda name: _short_county_name(name) == wanted):
        found = [code for code, name in rows if name and match(unicodedata.normalize("NFKC", name).strip())]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InvalidInput(f"county {given!r} may be any of {county_list(db, found)}",
                               "give the county's code")
    raise NotFound(f"county {given} does not exist", f"known counties: {county_list(db)}")


def show_org(ctx: Context) -> dict[str, Any]:
    """The catalogue. Counties, windows and items are the organisation everyone works in (the windows' codes
    and names are printed on the QR sheets in the halls); a county operator sees its own staff only (names
    and phones are personal data) and its own risk level only (the others' are the city's assessment)."""
    db = ctx.db
    meta = {r["key"]: r["value"] for r in db.query("SELECT key, value FROM meta WHERE key LIKE 'city_%'")}
    counties = [dict(c) if ctx.sees_county(c["code"]) else dict(c, risk_level=None) for c in db.query(
        "SELECT c.code, c.name, c.risk_level, (SELECT count(*) FROM windows w WHERE w.county_code = c.code"
        " AND w.active) AS windows FROM counties c ORDER BY c.code")]
    return {
        "city": {"code": meta.get("city_code"), "name": meta.get("city_name"), "bureau_name": meta.get("city_bureau_name")},
        "counties": counties,
        "windows": list(db.query(
            "SELECT code, name, county_code, kind, opening_hours, active FROM windows ORDER BY county_code, code")),
        "items": list(db.query("SELECT code, impl_code, name, item_type, legal_days, promised_days,"
                               " windows AS item_windows, active FROM items ORDER BY code")),
        "staff": [s for s in db.query(
            "SELECT code, name, county_code, phone_masked AS phone, active FROM staff ORDER BY county_code, code")
            if ctx.sees_county(s["county_code"])],
    }
