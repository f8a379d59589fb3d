"""Two of the paper's three lists (the third, 服务事项清单, is the catalogue's items: catalogue.py).

- 服务标准清单 (service standards): per service item and window kind, what its service must meet — the
  standard's text, the promised days, the number of materials, and the indicator it falls under. A case page
  and the case sheets show the standards of the problems the rater ticked (``case_standards``).
- 问题责任清单 (problem → responsible post): per indicator and window kind, the post (岗位) and department that
  answer for it. A case opened for a bad review gets the posts of the problems ticked (``route``), the first
  the primary (``post``); the county may change it with a reason (cases.set_post).

Each list is imported from a CSV (Chinese headers, or their English twins) and the file is the whole list:
an import replaces it, entry by entry (added, updated, removed, each one audit event); a second import of
the same file changes nothing. All or nothing: every bad line is named at once and nothing is written.
Window kinds: 实体窗口 (offline), 网上渠道 (online), 全部 (all; an empty cell is 全部). An entry for one kind
wins over one for 全部.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlite_utils

from haocha_cli import audit
from haocha_cli.catalogue import KINDS, _read_window_csv
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput
from haocha_cli.readers import regular_file

WINDOW_KINDS = {**KINDS, "全部": "all", "all": "all", "通用": "all", "": "all"}
KIND_NAMES = {"offline": "实体窗口", "online": "网上渠道", "all": "全部"}
_KIND_HINT = "write 实体窗口, 网上渠道 or 全部"

STANDARD_HEADERS = {
    "事项编码": "item", "事项": "item", "实施编码": "item", "事项名称": "item", "item": "item", "item_code": "item",
    "窗口类型": "window_kind", "window_kind": "window_kind", "kind": "window_kind",
    "服务标准": "standard", "标准": "standard", "标准内容": "standard", "standard": "standard",
    "承诺时限": "promised_days", "承诺天数": "promised_days", "promised_days": "promised_days",
    "材料数": "materials", "材料数量": "materials", "申请材料数": "materials", "materials": "materials",
    "指标": "indicator", "适用指标": "indicator", "indicator": "indicator",
}
_STANDARD_REQUIRED = ("item", "standard")
_STANDARD_NAMES = {"item": "事项编码", "standard": "服务标准"}

RESPONSIBILITY_HEADERS = {
    "指标": "indicator", "差评问题": "indicator", "indicator": "indicator",
    "窗口类型": "window_kind", "window_kind": "window_kind", "kind": "window_kind",
    "责任岗位": "post", "岗位": "post", "post": "post",
    "责任部门": "department", "部门": "department", "department": "department",
}
_RESPONSIBILITY_REQUIRED = ("indicator", "window_kind", "post")
_RESPONSIBILITY_NAMES = {"indicator": "指标", "window_kind": "窗口类型", "post": "责任岗位"}


def _indicators(db: sqlite_utils.Database) -> dict[str, str]:
    """Indicator code or name (as written, and upper-cased codes) -> code, from the indicator systems held."""
    found: dict[str, str] = {}
    for code, name in db.execute("SELECT code, name FROM indicators"):
        found.setdefault(code, code)
        found.setdefault(code.upper(), code)
        found.setdefault(name, code)
    return found


def _read(path: str | Path, headers: dict[str, str], required: tuple[str, ...],
          names: dict[str, str]) -> list[dict[str, Any]]:
    path = regular_file(path)
    if path.suffix.lower() != ".csv":
        raise InvalidInput(f"{path.name} is not a CSV file", "save the list as CSV (UTF-8 or GBK)")
    entries, _ignored = _read_window_csv(path, path.read_bytes(), headers, required, names)
    return entries


def _line(where: str) -> str:
    """``line 3`` of ``items.csv line 3``."""
    return "line " + where.rsplit(" line ", 1)[-1]


def _refuse(problems: list[InvalidInput]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InvalidInput.listing(f"{len(problems)} lines cannot be imported, so nothing was changed",
                                   [str(p) for p in problems], "fix them and import the file again")


def _kind(entry: dict[str, Any]) -> str:
    text = str(entry.get("window_kind") or "").strip()
    kind = WINDOW_KINDS.get(text.lower())
    if kind is None:
        raise InvalidInput(f"{entry['_where']}: window type (窗口类型) {text!r} is not known", _KIND_HINT)
    return kind


def _indicator(entry: dict[str, Any], indicators: dict[str, str], *, required: bool) -> str:
    text = str(entry.get("indicator") or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{entry['_where']}: the indicator (指标) is empty", "give an indicator code or name, e.g. C1 or 服务规范")
        return ""
    code = indicators.get(text) or indicators.get(text.upper())
    if code is None:
        raise InvalidInput(f"{entry['_where']}: indicator (指标) {text!r} is not an indicator code or name",
                           "`haocha indicators show` lists them")
    return code


def _whole(entry: dict[str, Any], key: str, what: str) -> int | None:
    text = str(entry.get(key) or "").strip()
    for suffix in ("个工作日", "工作日", "日", "天", "份", "项", "件"):
        text = text.removesuffix(suffix).strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(f"{entry['_where']}: {what} {entry.get(key)!r} is not a whole number", "e.g. 5, or leave it empty")
    return int(text)


def _replace(ctx: Context, table: str, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Make ``table`` hold exactly ``rows``: one audit event per entry added, changed or removed."""
    def key_of(row: dict[str, Any]) -> tuple:
        return tuple(row[k] for k in keys)

    counts = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0}
    events = []
    with transaction(ctx.db):
        old = {key_of(r): r for r in ctx.db.query(f"SELECT * FROM {table}")}
        for row in rows:
            before = old.pop(key_of(row), None)
            entity_id = "/".join(str(v) for v in key_of(row))
            if before == row:
                counts["unchanged"] += 1
                continue
            if before is None:
                counts["added"] += 1
            else:
                counts["updated"] += 1
                ctx.db.execute(f"DELETE FROM {table} WHERE {' AND '.join(f'{k} = ?' for k in keys)}", key_of(row))
            ctx.db[table].insert(row)
            events.append((f"{table}.{'add' if before is None else 'update'}", table, entity_id, before, row))
        for key, before in old.items():
            ctx.db.execute(f"DELETE FROM {table} WHERE {' AND '.join(f'{k} = ?' for k in keys)}", key)
            counts["removed"] += 1
            events.append((f"{table}.remove", table, "/".join(str(v) for v in key), before, None))
        audit.record_many(ctx.db, ctx.operator, events)
    return counts


# --- 服务标准清单 -----------------------------------------------------------------------------------------


def import_standards(ctx: Context, path: str | Path) -> dict[str, Any]:
    """Replace the service-standard list with the CSV at ``path`` (city operator only).

    Headers: 事项编码 (the local code, the 实施编码 or the item's name), 窗口类型, 服务标准, and optionally
    承诺时限 (working days), 材料数 and 指标 (the indicator the standard falls under, code or name)."""
    ctx.require_city("changing the service-standard list (服务标准清单)")
    entries = _read(path, STANDARD_HEADERS, _STANDARD_REQUIRED, _STANDARD_NAMES)
    items: dict[str, str] = {}
    for code, name, impl in ctx.db.execute("SELECT code, name, impl_code FROM items"):
        items.setdefault(code, code)
        items.setdefault(name, code)
        if impl:
            items.setdefault(impl, code)
    indicators = _indicators(ctx.db)
    rows: list[dict[str, Any]] = []
    problems: list[InvalidInput] = []
    seen: dict[tuple, str] = {}
    for e in entries:
        try:
            if "_problem" in e:
                raise e["_problem"]
            text = str(e.get("item") or "").strip()
            item = items.get(text)
            if item is None:
                raise InvalidInput(f"{e['_where']}: service item (事项) {text or '(empty)'!r} is not in the catalogue",
                                   "give its code, 实施编码 or name; `haocha org show --part items` lists them")
            standard = str(e.get("standard") or "").strip()
            if not standard:
                raise InvalidInput(f"{e['_where']}: the standard (服务标准) is empty", "write what the service must meet")
            row = {"item_code": item, "window_kind": _kind(e), "indicator_code": _indicator(e, indicators, required=False),
                   "standard": standard, "promised_days": _whole(e, "promised_days", "承诺时限"),
                   "materials": _whole(e, "materials", "材料数")}
            key = (row["item_code"], row["window_kind"], row["indicator_code"])
            if key in seen:
                raise InvalidInput(f"{e['_where']}: item {item}, {KIND_NAMES[key[1]]}, indicator {key[2] or '(none)'} "
                                   f"is already given on {_line(seen[key])}",
                                   "one standard per item, window type and indicator: merge the two lines")
            seen[key] = e["_where"]
            rows.append(row)
        except InvalidInput as exc:
            problems.append(exc)
    _refuse(problems)
    return _replace(ctx, "service_standards", ("item_code", "window_kind", "indicator_code"), rows)


def list_standards(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r, window_kind=KIND_NAMES[r["window_kind"]]) for r in db.query(
        "SELECT s.item_code, i.name AS item_name, s.window_kind, s.indicator_code, n.name AS indicator_name,"
        " s.standard, s.promised_days, s.materials FROM service_standards s LEFT JOIN items i ON i.code = s.item_code"
        " LEFT JOIN indicators n ON n.code = s.indicator_code ORDER BY s.item_code, s.window_kind, s.indicator_code")]


def case_standards(db: sqlite_utils.Database, item_code: str, kind: str | None,
                   problems: list[str]) -> list[dict[str, Any]]:
    """The standards a bad review is about: the item's standards for the window's kind (or 全部) under the
    indicators the rater ticked; when none is under a ticked problem, all of the item's standards for that
    kind. Each with the indicator's name."""
    if not item_code:
        return []
    rows = list(db.query(
        "SELECT s.indicator_code, n.name AS indicator_name, s.window_kind, s.standard, s.promised_days, s.materials"
        " FROM service_standards s LEFT JOIN indicators n ON n.code = s.indicator_code"
        " WHERE s.item_code = ? AND s.window_kind IN ('all', ?) ORDER BY s.indicator_code, s.window_kind",
        [item_code, kind or "offline"]))
    about = [r for r in rows if r["indicator_code"] and r["indicator_code"] in problems]
    chosen = sorted(about, key=lambda r: problems.index(r["indicator_code"])) if about else rows
    return [dict(r, window_kind=KIND_NAMES[r["window_kind"]]) for r in chosen]


# --- 问题责任清单 -----------------------------------------------------------------------------------------


def import_responsibilities(ctx: Context, path: str | Path) -> dict[str, Any]:
    """Replace the problem-responsibility list with the CSV at ``path`` (city operator only). Headers:
    指标 (indicator code or name), 窗口类型 (实体窗口 / 网上渠道 / 全部), 责任岗位, and optionally 责任部门."""
    ctx.require_city("changing the problem-responsibility list (问题责任清单)")
    entries = _read(path, RESPONSIBILITY_HEADERS, _RESPONSIBILITY_REQUIRED, _RESPONSIBILITY_NAMES)
    indicators = _indicators(ctx.db)
    rows: list[dict[str, Any]] = []
    problems: list[InvalidInput] = []
    seen: dict[tuple, str] = {}
    for e in entries:
        try:
            if "_problem" in e:
                raise e["_problem"]
            indicator = _indicator(e, indicators, required=True)
            kind = _kind(e)
            post = str(e.get("post") or "").strip()
            if not post:
                raise InvalidInput(f"{e['_where']}: the post (责任岗位) is empty", "name the post, e.g. 窗口受理岗")
            key = (indicator, kind)
            if key in seen:
                raise InvalidInput(f"{e['_where']}: indicator {indicator} at {KIND_NAMES[kind]} is already given on "
                                   f"{_line(seen[key])}", "one post per indicator and window type")
            seen[key] = e["_where"]
            rows.append({"indicator_code": indicator, "window_kind": kind, "post": post,
                         "department": str(e.get("department") or "").strip()})
        except InvalidInput as exc:
            problems.append(exc)
    _refuse(problems)
    return _replace(ctx, "responsibilities", ("indicator_code", "window_kind"), rows)


def list_responsibilities(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r, window_kind=KIND_NAMES[r["window_kind"]]) for r in db.query(
        "SELECT r.indicator_code, n.name AS indicator_name, r.window_kind, r.post, r.department"
        " FROM responsibilities r LEFT JOIN indicators n ON n.code = r.indicator_code"
        " ORDER BY r.indicator_code, r.window_kind")]


class Router:
    """Routes bad reviews to posts: the list read once for a batch of cases."""

    def __init__(self, db: sqlite_utils.Database):
        self.table = {(r[0], r[1]): (r[2], r[3]) for r in db.execute(
            "SELECT indicator_code, window_kind, post, department FROM responsibilities")}

    def route(self, problems: list[str], kind: str | None) -> list[dict[str, str]]:
        """The posts of the problems ticked, in their order (a kind's own entry before 全部's); the first is
        the primary. A problem the list does not name adds none; a post named twice is listed once."""
        found: list[dict[str, str]] = []
        for code in problems:
            hit = self.table.get((code, kind or "offline")) or self.table.get((code, "all"))
            if hit and all(f["post"] != hit[0] for f in found):
                found.append({"indicator": code, "post": hit[0], "department": hit[1]})
        return found


def known_posts(db: sqlite_utils.Database) -> dict[str, str]:
    """Post -> its department (the first the list gives), for the posts of the problem-responsibility list."""
    posts: dict[str, str] = {}
    for post, department in db.execute("SELECT post, department FROM responsibilities ORDER BY indicator_code, window_kind"):
        posts.setdefault(post, department)
    return posts


def posts_of(text: str | None) -> list[dict[str, str]]:
    return json.loads(text) if text else []
