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

# field name -> (table, columns compared for "changed")
_TABLES = {
    "counties": ("counties", ("name",)),
    "items": ("items", ("name", "legal_days", "promised_days", "active")),
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
        return {"windows": _read_window_csv(path, raw)}
    data = loads_toml(decode_small_text(path, raw), str(path))
    result: dict[str, Any] = {}
    if "city" in data:
        result["city"] = data["city"]
    for section in ("counties", "items", "windows", "staff"):
        entries = data.get(section, [])
        if not isinstance(entries, list):
            raise InvalidInput(f"{path}: [{section}] must be a list of tables", f"write [[{section}]] entries")
        result[section] = [dict(e, _where=f"{path.name} {section} entry {i}") for i, e in enumerate(entries, 1)]
    return result


def _read_window_csv(path: Path, raw: bytes) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(decode_small_text(path, raw), newline=""))
    header = next(reader, None)
    if not header:
        raise InvalidInput(f"{path} is empty", "the first line must name the columns, e.g. 行政区划代码,窗口编码,窗口名称,窗口类型")
    fields = [CSV_HEADERS.get(h.strip()) for h in header]
    missing = [f for f in _REQUIRED_WINDOW if f not in fields]
    if missing:
        names = {"code": "窗口编码", "name": "窗口名称", "county": "行政区划代码", "kind": "窗口类型"}
        raise InvalidInput(
            f"{path.name}: missing column(s) {', '.join(names[m] + '/' + m for m in missing)}",
            f"columns found: {', '.join(header)}",
        )
    windows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        entry = {f: cell.strip() for f, cell in zip(fields, row, strict=False) if f}
        entry["_where"] = f"{path.name} line {reader.line_num}"
        windows.append(entry)
    return windows


def _validate(db: sqlite_utils.Database, data: dict[str, Any], vault) -> dict[str, list[dict[str, Any]]]:
    """Check every entry before anything is written; return rows ready for the tables."""
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _TABLES}
    seen: dict[str, set[str]] = {k: set() for k in _TABLES}

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
            try:
                function(entry)
            except InvalidInput as exc:
                problems.append(exc)

    check("counties", county)
    known_counties = {r[0] for r in db.execute("SELECT code FROM counties")} | seen["counties"]

    def county_of(e: dict[str, Any]) -> str:
        code = str(e.get("county", "")).strip()
        if code not in known_counties:
            raise InvalidInput(
                f"{e['_where']}: county {code or '(empty)'} does not exist",
                f"known counties: {', '.join(sorted(known_counties))}",
            )
        return code

    def item(e: dict[str, Any]) -> None:
        need(e, "code", "name", "legal_days", "promised_days")
        code = once("items", e)
        try:
            legal, promised = int(e["legal_days"]), int(e["promised_days"])
        except (TypeError, ValueError):
            raise InvalidInput(f"{e['_where']}: legal_days and promised_days must be whole numbers", "e.g. 20 and 5") from None
        if legal <= 0 or promised <= 0 or promised > legal:
            raise InvalidInput(
                f"{e['_where']}: time limits {legal}/{promised} are not valid",
                "working days must be positive and the promised limit no longer than the legal one",
            )
        rows["items"].append({"code": code, "name": str(e["name"]).strip(), "legal_days": legal,
                              "promised_days": promised, "active": _active(e)})

    def window(e: dict[str, Any]) -> None:
        need(e, "code", "name", "county", "kind")
        code = once("windows", e)
        kind = KINDS.get(str(e["kind"]).strip())
        if kind is None:
            raise InvalidInput(f"{e['_where']}: window type {e['kind']!r} is not known", "use 实体窗口/网上渠道 or offline/online")
        hours = str(e.get("opening_hours") or "").strip() or None
        if hours is not None:
            if parse_opening_hours(hours) is None:
                raise InvalidInput(f"{e['_where']}: opening hours {hours!r} cannot be read",
                                   "write spans such as 09:00-12:00,13:30-17:00, or leave the cell empty")
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


def parse_opening_hours(text: str | None) -> list[tuple[time, time]] | None:
    """``09:00-12:00,13:30-17:00`` → [(09:00, 12:00), (13:30, 17:00)]; None when absent or unreadable."""
    if not text or not str(text).strip():
        return None
    spans = []
    for part in re.split(r"[,，;；、\s]+", str(text).strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d{1,2}):(\d{2})\s*[-–~～至]\s*(\d{1,2}):(\d{2})", part)
        if not m:
            return None
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            return None
        end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
        spans.append((time(h1, m1), end))
    return spans or None


def _active(entry: dict[str, Any]) -> int:
    value = entry.get("active", True)
    if isinstance(value, str):
        return 0 if value.strip().lower() in ("0", "false", "no", "停用", "否", "inactive") else 1
    return 1 if value else 0


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
    return {**counts, "changes": changes}


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
        known = [r[0] for r in db.execute("SELECT code FROM counties ORDER BY code")]
        raise NotFound(f"county {code} does not exist", f"known counties: {', '.join(known)}")
    return rows[0]


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
        "items": list(db.query("SELECT code, name, legal_days, promised_days, active FROM items ORDER BY code")),
        "staff": [s for s in db.query(
            "SELECT code, name, county_code, phone_masked AS phone, active FROM staff ORDER BY county_code, code")
            if ctx.sees_county(s["county_code"])],
    }
