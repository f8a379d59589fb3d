"""Exports (导出) of ratings and rectification cases for other systems: CSV, XLSX or JSON.

Phones are always masked (138****1234) — the file leaves haocha — and so are mobile and landline numbers
written inside free text (a comment "请回电13812345678"). Each file says which fields are masked: the
masked columns are named ``…_masked``; an .xlsx has a second sheet 说明 describing every column, the
level scale and the channel codes; a JSON export carries ``masked_fields`` beside its rows. CSV has no
place for more without breaking importers (a comment line would be read as the header), so it relies on the
column names and docs/export.md. Control characters and bidi overrides in text (a comment's ESC) are visible
escapes in CSV and .xlsx cells (``\\x1b``) and ``\\u`` escapes in JSON (``untrusted``), never raw.

Two profiles: ``canonical`` writes haocha's own field names (what ``haocha import`` reads by default);
``national`` writes the provincial platform's interface fields and codes (GB/T 39046 / 好差评 platform:
``satisfaction`` on the platform scale 5 = 非常满意 … 1 = 非常不满意, ``pf`` channel codes 1–7), the mirror
of the import profile ``platform``, so that an export read back with ``--profile platform`` gives the same
ratings. Fields the platform has no documented name for keep haocha's names, which every profile reads.

Rows are streamed from the database cursor to the file (CSV and JSON line by line, .xlsx in openpyxl's
write-only mode): a million-row export holds one row at a time.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from haocha_cli import files
from haocha_cli.cases import STATES, parse_status
from haocha_cli.clock import now_text
from haocha_cli.config import LEVELS
from haocha_cli.context import Context
from haocha_cli.errors import InvalidInput, NotFound
from haocha_cli.periods import Period, resolve
from haocha_cli.privacy import mask_numbers
from haocha_cli.profiles import LEVEL_SCALES, NATIONAL_CHANNELS, load_profile
from haocha_cli.ratings import EXCLUSION_REASONS
from haocha_cli.spreadsheet import csv_safe, xlsx_value
from haocha_cli.untrusted import dumps

KINDS = ("ratings", "cases")
XLSX_MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header
FORMATS = ("csv", "xlsx", "json")
PROFILES = {
    "canonical": "haocha's field names (read back by `haocha import`, profile canonical)",
    "national": "GB/T 39046 / provincial platform interface fields and codes (read back with --profile platform)",
}
_FORMAT_HINT = "use csv, xlsx or json"
_PROFILE_HINT = "use canonical (haocha's field names) or national (GB/T 39046 / provincial platform fields)"

# Platform scale (the platform's `satisfaction`): code -> level is the identity, 5 = 非常满意.
_SATISFACTION = {level: code for code, level in LEVEL_SCALES["platform"].items()}
SCALE_NOTE = ("platform scale, 5 = 非常满意, 4 = 满意, 3 = 基本满意, 2 = 不满意, 1 = 非常不满意 "
              "(GB/T 39046 level codes run the other way, 1 = 非常满意; this file does not use them)")

def _platform_channel_codes() -> dict[str, int]:
    """National channel -> the platform's `pf` code, read from the import profile `platform` (its mirror)."""
    codes = {channel: int(label) for label, (channel, _mode) in load_profile("platform").channels.items()
             if label.isdigit()}
    # A channel the profile does not code keeps the national list's position (DOMAIN §2 order).
    return {c: codes.get(c, i) for i, c in enumerate(NATIONAL_CHANNELS, 1)}


@dataclass(frozen=True)
class Column:
    key: str  # key of the row dict
    header: str
    zh: str  # 中文名
    note: str = ""
    masked: bool = False


# --- the columns of each export and profile ----------------------------------------------------------

_C = Column
_RATINGS_CANONICAL = [
    _C("rating_id", "rating_id", "评价编号", "unique per source"),
    _C("source", "source", "来源", "the system the rating came from"),
    _C("rated_at", "rated_at", "评价时间", "YYYY-MM-DD HH:MM:SS, Asia/Shanghai"),
    _C("county_code", "county_code", "行政区划代码"),
    _C("window_code", "window_code", "窗口编码"),
    _C("mode", "mode", "服务方式", "offline (窗口) / online (网上办理)"),
    _C("channel", "channel", "评价渠道", "national channel: " + ", ".join(NATIONAL_CHANNELS)),
    _C("item_code", "item_code", "事项编码"),
    _C("level", "level", "评价等级", " / ".join(reversed(LEVELS))),
    _C("case_no", "case_no", "办件编号"),
    _C("rating_round", "rating_round", "评价次数", "1 first rating, 2 追评"),
    _C("comment", "comment", "评价内容", "as written; phone numbers in it masked", masked=True),
    _C("phone", "rater_phone_masked", "联系电话(已脱敏)", "masked 138****1234", masked=True),
    _C("anonymous", "anonymous", "是否匿名", "1 anonymous, 0 real-name (实名)"),
    _C("staff_code", "staff_code", "工作人员"),
    _C("problems", "problems", "差评问题", "indicator codes"),
    _C("scores", "scores", "指标评分", 'JSON {"A1": 5, …}, 1–5'),
    _C("rating_index", "rating_index", "评价指数", "0–100, by the weights version"),
    _C("weights_version", "weights_version", "指标体系版本"),
    _C("qr_token_ok", "qr_token_verified", "二维码令牌校验",
       "1 verified, 0 did not verify, empty no token; 2 verified by the previous QR secret in its grace period"),
    _C("excluded", "excluded", "剔除", "empty: counted; appeal_upheld 申诉成立 or confirmed_false 评价信息不实"),
    _C("excluded_at", "excluded_at", "剔除时间"),
    _C("batch", "batch", "导入批次"),
]
_RATINGS_NATIONAL = [
    _C("rating_id", "rating_id", "评价编号", "unique per source (haocha's name: the platform keys by projectNo#assessNumber)"),
    _C("source", "source", "来源"),
    _C("rated_at", "assessTime", "评价时间"),
    _C("county_code", "areacode", "行政区划代码"),
    _C("window_code", "windowCode", "窗口编码"),
    _C("channel_code", "pf", "评价渠道代码", "platform codes: see pfName"),
    _C("channel", "pfName", "评价渠道", "national channel name"),
    _C("task_code", "taskCode", "事项实施编码", "the item's national implementation code (实施编码); its local code when it has none"),
    _C("satisfaction", "satisfaction", "整体满意度", SCALE_NOTE),
    _C("level", "satisfactionName", "满意度名称", " / ".join(reversed(LEVELS))),
    _C("case_no", "projectNo", "办件编号"),
    _C("rating_round", "assessNumber", "评价次数", "1 first rating, 2 追评"),
    _C("comment", "writingEvaluation", "文字评价", "as written; phone numbers in it masked", masked=True),
    _C("phone", "mobile_masked", "联系电话(已脱敏)", "masked 138****1234", masked=True),
    _C("anonymous", "anonymous", "是否匿名", "1 anonymous, 0 real-name (实名)"),
    _C("staff_code", "staff_code", "工作人员"),
    _C("problems", "problems", "差评问题", "indicator codes"),
    _C("scores", "scores", "指标评分", 'JSON {"A1": 5, …}, 1–5'),
    _C("excluded", "excluded", "剔除", "empty: counted; appeal_upheld 申诉成立 or confirmed_false 评价信息不实"),
    _C("excluded_at", "excluded_at", "剔除时间"),
]
# The rectification fields have no platform names: both profiles write haocha's.
_CASE_FIELDS = [
    _C("state", "state", "状态", ", ".join(STATES)),
    _C("state_name", "state_name", "状态名称"),
    _C("classification", "classification", "分类", "rectifiable 可整改 / unrectifiable 无法整改 / no_action 无需整改"),
    _C("classify_reason", "classify_reason", "分类理由", "phone numbers in it masked", masked=True),
    _C("classified_at", "classified_at", "分类时间"),
    _C("real_name", "real_name", "实名评价", "1: a return visit (回访) is due"),
    _C("revisit_due", "revisit_due", "回访期限"),
    _C("revisit_first_at", "revisit_first_at", "首次回访时间"),
    _C("revisit_outcome", "revisit_outcome", "回访结果", "reached 已联系上 / unreachable 联系不上"),
    _C("revisit_note", "revisit_note", "回访说明", "phone numbers in it masked", masked=True),
    _C("rectify_from", "rectify_from", "整改起算日"),
    _C("rectify_due", "rectify_due", "整改期限"),
    _C("measures", "measures", "整改措施", "phone numbers in it masked", masked=True),
    _C("post", "post", "责任岗位", "the post of the first problem ticked (问题责任清单), or as the county set it"),
    _C("department", "department", "责任部门"),
    _C("responsible", "responsible", "责任人", "phone numbers in it masked", masked=True),
    _C("closed_at", "closed_at", "办结时间"),
    _C("resolved_at", "resolved_at", "处理完毕时间"),
    _C("on_time", "on_time", "按期", "1 on time, 0 late"),
    _C("rerate_level", "rerate_level", "整改复评"),
    _C("rerated_at", "rerated_at", "复评时间"),
    _C("reopen_count", "reopen_count", "重新整改次数"),
    _C("opened_at", "opened_at", "立案时间"),
]
_CASES_CANONICAL = [
    _C("case", "case", "案件编号"),
    _C("source", "rating_source", "评价来源"),
    _C("rating_id", "rating_id", "评价编号"),
    _C("rated_at", "rated_at", "评价时间"),
    _C("county_code", "county_code", "行政区划代码"),
    _C("window_code", "window_code", "窗口编码"),
    _C("channel", "channel", "评价渠道"),
    _C("item_code", "item_code", "事项编码"),
    _C("level", "level", "评价等级"),
    _C("case_no", "case_no", "办件编号"),
    _C("problems", "problems", "差评问题", "indicator codes"),
    _C("staff_code", "staff_code", "工作人员"),
    _C("phone", "rater_phone_masked", "联系电话(已脱敏)", "masked 138****1234", masked=True),
    _C("comment", "comment", "评价内容", "as written; phone numbers in it masked", masked=True),
    *_CASE_FIELDS,
    _C("excluded", "excluded", "评价剔除", "the rating's exclusion, if any"),
]
_CASES_NATIONAL = [
    _C("case", "case", "案件编号"),
    _C("source", "rating_source", "评价来源"),
    _C("rating_id", "rating_id", "评价编号"),
    _C("rated_at", "assessTime", "评价时间"),
    _C("county_code", "areacode", "行政区划代码"),
    _C("window_code", "windowCode", "窗口编码"),
    _C("channel_code", "pf", "评价渠道代码"),
    _C("channel", "pfName", "评价渠道"),
    _C("task_code", "taskCode", "事项实施编码", "the item's national implementation code (实施编码); its local code when it has none"),
    _C("satisfaction", "satisfaction", "整体满意度", SCALE_NOTE),
    _C("level", "satisfactionName", "满意度名称"),
    _C("case_no", "projectNo", "办件编号"),
    _C("rating_round", "assessNumber", "评价次数"),
    _C("problems", "problems", "差评问题", "indicator codes"),
    _C("staff_code", "staff_code", "工作人员"),
    _C("phone", "mobile_masked", "联系电话(已脱敏)", "masked 138****1234", masked=True),
    _C("comment", "writingEvaluation", "文字评价", "as written; phone numbers in it masked", masked=True),
    *_CASE_FIELDS,
    _C("excluded", "excluded", "评价剔除", "the rating's exclusion, if any"),
]
COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("ratings", "canonical"): _RATINGS_CANONICAL,
    ("ratings", "national"): _RATINGS_NATIONAL,
    ("cases", "canonical"): _CASES_CANONICAL,
    ("cases", "national"): _CASES_NATIONAL,
}
del _C


def columns(kind: str, profile: str = "canonical") -> list[Column]:
    return COLUMNS[(_check(kind, KINDS, "export"), _check_profile(profile))]


def _check(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{what} {value!r} is not known", f"use {', '.join(allowed)}")
    return value


def _check_profile(profile: str | None) -> str:
    name = profile or "canonical"
    if name not in PROFILES:
        raise InvalidInput(f"export profile {name!r} is not known", _PROFILE_HINT)
    return name


# --- reading ------------------------------------------------------------------------------------------

_RATING_SQL = (
    "SELECT r.rating_id, r.source, r.rated_at, r.county_code, r.window_code, r.mode, r.channel, r.item_code,"
    " r.level, r.case_no, r.rating_round, r.comment, k.phone_masked, r.anonymous, r.staff_code, r.problems,"
    " r.scores, r.rating_index, r.weights_version, r.token_ok, r.excluded, r.excluded_at, r.batch_id,"
    " (SELECT i.impl_code FROM items i WHERE i.code = r.item_code)"
    " FROM ratings r LEFT JOIN contacts k ON k.id = r.contact_id")
_CASE_SQL = (
    "SELECT c.id, r.source, r.rating_id, c.rated_at, c.county_code, c.window_code, r.channel, c.item_code,"
    " c.level, r.case_no, r.rating_round, c.problems, c.staff_code, k.phone_masked, r.comment, c.state,"
    " c.classification, c.classify_reason, c.classified_at, c.real_name, c.revisit_due, c.revisit_first_at,"
    " c.revisit_outcome, c.revisit_note, c.rectify_from, c.rectify_due, c.measures, c.responsible, c.closed_at,"
    " c.resolved_at, c.on_time, c.rerate_level, c.rerated_at, c.reopen_count, c.opened_at, r.excluded,"
    " (SELECT i.impl_code FROM items i WHERE i.code = c.item_code), c.post, c.department"
    " FROM cases c JOIN ratings r ON r.id = c.rating_id LEFT JOIN contacts k ON k.id = c.contact_id")


def _json_list(text: str | None) -> list | None:
    return json.loads(text) if text else None


def _rating_rows(ctx: Context, where: str, params: list[Any]) -> Iterator[dict[str, Any]]:
    pf = _platform_channel_codes()
    sql = f"{_RATING_SQL} WHERE {where} ORDER BY r.rated_at, r.id"
    # The sqlite3 cursor fetches as it is iterated: one row in memory at a time.
    for (rating_id, source, rated_at, county, window, mode, channel, item, level, case_no, rnd, comment, phone,
         anonymous, staff, problems, scores, index, version, token_ok, excluded, excluded_at,
         batch, impl) in ctx.db.execute(sql, params):
        yield {
            "rating_id": rating_id, "source": source, "rated_at": rated_at, "county_code": county,
            "window_code": window, "mode": mode, "channel": channel, "channel_code": pf.get(channel),
            "item_code": item or None, "task_code": impl or item or None, "level": LEVELS[level - 1],
            "satisfaction": _SATISFACTION[level],
            "case_no": case_no, "rating_round": rnd, "comment": mask_numbers(comment), "phone": phone,
            "anonymous": anonymous, "staff_code": staff, "problems": _json_list(problems),
            "scores": json.loads(scores) if scores else None, "rating_index": round(index, 6),
            "weights_version": version, "qr_token_ok": token_ok, "excluded": excluded,
            "excluded_at": excluded_at, "batch": batch,
        }


def _case_rows(ctx: Context, where: str, params: list[Any]) -> Iterator[dict[str, Any]]:
    pf = _platform_channel_codes()
    sql = f"{_CASE_SQL} WHERE {where} ORDER BY c.id"
    for (case_id, source, rating_id, rated_at, county, window, channel, item, level, case_no, rnd, problems, staff,
         phone, comment, state, classification, classify_reason, classified_at, real_name, revisit_due,
         revisit_first_at, revisit_outcome, revisit_note, rectify_from, rectify_due, measures, responsible,
         closed_at, resolved_at, on_time, rerate_level, rerated_at, reopen_count, opened_at,
         excluded, impl, post, department) in ctx.db.execute(sql, params):
        yield {
            "case": case_id, "source": source, "rating_id": rating_id, "rated_at": rated_at, "county_code": county,
            "window_code": window, "channel": channel, "channel_code": pf.get(channel), "item_code": item or None,
            "task_code": impl or item or None, "post": post, "department": department,
            "level": LEVELS[level - 1], "satisfaction": _SATISFACTION[level], "case_no": case_no,
            "rating_round": rnd, "problems": _json_list(problems), "staff_code": staff, "phone": phone,
            "comment": mask_numbers(comment), "state": state, "state_name": STATES.get(state, state),
            "classification": classification, "classify_reason": mask_numbers(classify_reason),
            "classified_at": classified_at, "real_name": real_name, "revisit_due": revisit_due,
            "revisit_first_at": revisit_first_at, "revisit_outcome": revisit_outcome,
            "revisit_note": mask_numbers(revisit_note), "rectify_from": rectify_from, "rectify_due": rectify_due,
            "measures": mask_numbers(measures), "responsible": mask_numbers(responsible), "closed_at": closed_at,
            "resolved_at": resolved_at, "on_time": on_time, "rerate_level": rerate_level, "rerated_at": rerated_at,
            "reopen_count": reopen_count, "opened_at": opened_at, "excluded": excluded,
        }


# --- the export ---------------------------------------------------------------------------------------


def export(ctx: Context, kind: str, *, fmt: str = "csv", profile: str | None = "canonical",
           period: str | None = None, date_from: str | None = None, date_to: str | None = None,
           county: str | None = None, status: str | None = None, out: str | Path | None = None,
           stream: IO[str] | None = None) -> dict[str, Any]:
    """Export ratings or cases (``kind``) to ``out`` (a file) or, for csv and json, to ``stream``.

    ``period`` (2024-05, 2024-Q2, 2024, a day) or ``date_from``/``date_to`` select by rating day (all when
    none is given); ``county`` one county (a county operator: its own only); ``status`` the cases' states
    (open, resolved, all — the default — or state names). Phones masked always.

    Returns {export, format, profile, rows, excluded, path, period, county, masked_fields}."""
    kind = _check(kind, KINDS, "export")
    fmt = _check(fmt, FORMATS, "export format")
    profile = _check_profile(profile)
    cols = COLUMNS[(kind, profile)]
    span = resolve(period, date_from, date_to) if (period or date_from or date_to) else None
    if status is not None and kind != "cases":
        raise InvalidInput("--status applies to cases only", "leave out --status for ratings")
    if out is None and fmt == "xlsx":
        raise InvalidInput("xlsx is written to a file only", "give --out FILE.xlsx, or use --format csv or json")
    if out is None and stream is None:
        raise InvalidInput("no output given", "give --out FILE")
    county = _county_scope(ctx, county)
    if county and not ctx.db.execute("SELECT 1 FROM counties WHERE code = ?", [county]).fetchone():
        raise NotFound(f"county {county} does not exist", "`haocha org show --part counties` lists them")
    if kind == "ratings":
        where, params = _where("r.day", "r.county_code", span, county)
        rows = _rating_rows(ctx, where, params)
        count_sql = f"SELECT count(*) FROM ratings r WHERE {where}"
    else:
        where, params = _where("substr(c.rated_at, 1, 10)", "c.county_code", span, county)
        states = parse_status(status or "all")
        where += f" AND c.state IN ({','.join('?' * len(states))})"
        params += list(states)
        rows = _case_rows(ctx, where, params)
        count_sql = f"SELECT count(*) FROM cases c WHERE {where}"
    if fmt == "xlsx":
        count = ctx.db.execute(count_sql, params).fetchone()[0]
        if count > XLSX_MAX_ROWS:
            raise InvalidInput(f"{count} {kind} do not fit in one xlsx sheet (at most {XLSX_MAX_ROWS:,} rows)",
                               "export a shorter period (--period, --from/--to), or use --format csv or json")
    meta = _meta(kind, fmt, profile, cols, span, county, status)
    counter = _Counter(rows)
    if out is None:
        (_write_csv if fmt == "csv" else _write_json)(counter, cols, meta, stream)
    else:
        _write_file(Path(out), fmt, counter, cols, meta, files.modes(ctx.config))
    return {"export": kind, "format": fmt, "profile": profile, "rows": counter.rows, "excluded": counter.excluded,
            "path": None if out is None else str(out), "period": meta["period"], "county": county,
            "masked_fields": meta["masked_fields"]}


def _county_scope(ctx: Context, county: str | None) -> str | None:
    """The city exports any county (or all); a county operator its own only."""
    return ctx.county_scope(county, "export the data")


def _where(day_sql: str, county_sql: str, span: Period | None, county: str | None) -> tuple[str, list[Any]]:
    where, params = ["1 = 1"], []
    if span is not None:
        where.append(f"{day_sql} BETWEEN ? AND ?")
        params += [span.start.isoformat(), span.end.isoformat()]
    if county:
        where.append(f"{county_sql} = ?")
        params.append(county)
    return " AND ".join(where), params


class _Counter:
    """Counts rows (and excluded ratings) as they stream past."""

    def __init__(self, rows: Iterator[dict[str, Any]]):
        self._rows = rows
        self.rows = 0
        self.excluded = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self._rows:
            self.rows += 1
            if row["excluded"]:
                self.excluded += 1
            yield row


def _meta(kind: str, fmt: str, profile: str, cols: list[Column], span: Period | None, county: str | None,
          status: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "export": kind,
        "profile": profile,
        "profile_description": PROFILES[profile],
        "generated_at": now_text(),
        "period": span.as_dict() if span else None,
        "county": county,
        "masked_fields": [c.header for c in cols if c.masked],
        "masking": "phones masked as 138****1234 (landlines keep area code and last 4 digits); phone numbers "
                   "written inside free text are masked the same way",
        "excluded": "empty (null): the rating is counted; "
                    + "; ".join(f"{code} = {name}" for code, name in EXCLUSION_REASONS.items()),
    }
    if kind == "cases":
        meta["status"] = status or "all"
    if profile == "national":
        meta["level_scale"] = SCALE_NOTE
        meta["channel_codes"] = {code: channel for channel, code in _platform_channel_codes().items()}
    if fmt != "json":
        meta["fields"] = [{"field": c.header, "中文": c.zh, "note": c.note} for c in cols]
    else:
        meta["fields"] = {c.header: (f"{c.zh}: {c.note}" if c.note else c.zh) for c in cols}
    return meta


# --- writers ------------------------------------------------------------------------------------------


def _write_file(path: Path, fmt: str, rows: _Counter, cols: list[Column], meta: dict[str, Any],
                modes: files.Modes) -> None:
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder", "give a file name, e.g. --out ratings.csv")
    if not path.parent.exists():
        raise InvalidInput(f"cannot write {path}: folder {path.parent} does not exist", "create the folder first")
    # Written beside and renamed at the end: a failed export leaves no half-written file behind. The .part
    # has the export's mode (owner-only, or the files.group's) from the start.
    part = path.with_name(path.name + ".part")
    try:
        if fmt == "xlsx":
            with files.open_file(part, "wb", modes) as fh:
                _write_xlsx(rows, cols, meta, fh)
        else:
            # A BOM so that Excel reads the CSV as UTF-8; haocha's importer and JSON readers skip it.
            with files.open_file(part, "w", modes, encoding="utf-8-sig" if fmt == "csv" else "utf-8",
                                 newline="") as fh:
                if fmt == "csv":
                    _write_csv(rows, cols, meta, fh, "\r\n")  # RFC 4180 lines in a file
                else:
                    _write_json(rows, cols, meta, fh)
        os.replace(part, path)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}", "check that the folder is writable") from None
    finally:
        if part.exists():
            part.unlink()


def _text_cell(value: Any) -> Any:
    """A value as a CSV/XLSX cell: lists joined with commas, objects as compact JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _write_csv(rows: _Counter, cols: list[Column], meta: dict[str, Any], fh: IO[str], newline: str = "\n") -> None:
    writer = csv.writer(fh, lineterminator=newline)
    writer.writerow([c.header for c in cols])
    keys = [c.key for c in cols]
    for row in rows:
        writer.writerow([csv_safe(_text_cell(row[k])) for k in keys])


def _write_json(rows: _Counter, cols: list[Column], meta: dict[str, Any], fh: IO[str]) -> None:
    # One object, streamed: the metadata first, then one row per line, then the count.
    # untrusted.dumps: the values exact, no raw control or bidi character from a comment in the file.
    head = dumps(meta, indent=1)
    fh.write(head[:-1].rstrip() + ',\n "rows": [')
    keys = [(c.key, c.header) for c in cols]
    first = True
    for row in rows:
        fh.write(("\n  " if first else ",\n  ")
                 + dumps({header: row[key] for key, header in keys}))
        first = False
    fh.write(("\n ]" if not first else "]") + f',\n "count": {rows.rows}\n}}\n')


def _write_xlsx(rows: _Counter, cols: list[Column], meta: dict[str, Any], path: Path | IO[bytes]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    # The data sheet first: importers (haocha's included) read the first sheet.
    ws = wb.create_sheet(meta["export"])
    bold = Font(bold=True)
    header = []
    for c in cols:
        cell = WriteOnlyCell(ws, value=c.header)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    keys = [c.key for c in cols]
    for row in rows:
        # None stays None: openpyxl writes no element for an empty cell.
        ws.append([None if row[k] is None else xlsx_value(ws, _text_cell(row[k])) for k in keys])
    notes = wb.create_sheet("说明")
    lines: list[list[Any]] = [
        ["haocha export", meta["export"]],
        ["profile", f"{meta['profile']}: {meta['profile_description']}"],
        ["generated_at", meta["generated_at"]],
        ["period", f"{meta['period']['from']} .. {meta['period']['to']}" if meta["period"] else "all"],
        ["county", meta["county"] or "all"],
        ["rows", rows.rows],
        ["masked_fields 已脱敏字段", ", ".join(meta["masked_fields"])],
        ["masking", meta["masking"]],
        ["excluded 剔除", meta["excluded"]],
    ]
    if "status" in meta:
        lines.append(["status", meta["status"]])
    if "level_scale" in meta:
        lines.append(["level_scale 满意度代码", meta["level_scale"]])
        lines.append(["channel_codes 渠道代码 (pf)",
                      ", ".join(f"{code} = {name}" for code, name in meta["channel_codes"].items())])
    lines += [[], ["field", "中文", "note"]]
    lines += [[f["field"], f["中文"], f["note"]] for f in meta["fields"]]
    for line in lines:
        notes.append([xlsx_value(notes, v) for v in line])
    wb.save(path)

