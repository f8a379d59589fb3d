"""Bulk work the way counties work: the open cases as a sheet (xlsx or csv), filled in by the county
and read back (``apply``) with the same checks per row as the single commands, all or nothing.

The sheet has read-only columns (what the case is) and fill-in columns: 分类 + 分类理由 (classify),
回访结果 + 回访说明 (revisit), 整改措施 + 责任人 (close). A row may carry several actions; they run in that
order. Headers are read in Chinese or English; phones are masked.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from haocha_cli import cases, files
from haocha_cli.clock import today
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import HaochaError, InvalidInput, NotFound
from haocha_cli.service_lists import case_standards
from haocha_cli.spreadsheet import FORMULA_PREFIXES, make_text, xlsx_text
from haocha_cli.spreadsheet import csv_safe as _csv_safe

# (key, Chinese header, English header)
READ_ONLY = [
    ("case", "案件编号", "case"),
    ("state", "状态", "state"),
    ("rated_at", "评价时间", "rated_at"),
    ("window", "窗口", "window"),
    ("item", "事项", "item"),
    ("level", "满意度", "level"),
    ("problems", "差评问题", "problems"),
    ("post", "责任岗位", "post"),  # 问题责任清单: the post of the first problem ticked (or as set)
    ("standard", "服务标准", "standard"),  # 服务标准清单: the standards of the problems ticked
    ("staff", "工作人员", "staff"),
    ("phone", "联系电话", "phone"),
    ("revisit_due", "回访期限", "revisit_due"),
    ("revisited", "已回访", "revisited"),
    ("rectify_due", "整改期限", "rectify_due"),
    ("current_class", "当前分类", "current_classification"),
    ("last_action", "最近办理", "last_action"),  # what was done last, when, by whom (the audit trail's person)
]
FILL_IN = [
    ("classify", "分类", "classify"),
    ("reason", "分类理由", "reason"),
    ("revisit", "回访结果", "revisit"),
    ("revisit_note", "回访说明", "revisit_note"),
    ("measures", "整改措施", "measures"),
    ("responsible", "责任人", "responsible"),
]
COLUMNS = READ_ONLY + FILL_IN
_HEADER_KEYS = {name.strip().lower(): key for key, zh, en in COLUMNS for name in (zh, en)}
SHEET_NAME = "整改事项"
FORMATS = ("xlsx", "csv")


def export_rows(ctx: Context, county: str) -> list[dict[str, Any]]:
    """The county's cases that still need its work: rectification open, or a return visit not yet made."""
    if not county:
        raise InvalidInput("--county is required", "name the county whose cases to export, e.g. --county 370213")
    county = cases._visible_county(ctx, county)
    if not ctx.db.execute("SELECT 1 FROM counties WHERE code = ?", [county]).fetchone():
        raise NotFound(f"county {county} does not exist", "`haocha org show --part counties` lists them")
    marks = ",".join("?" * len(cases.OPEN_STATES))
    query = (
        "SELECT c.*, k.phone_masked FROM cases c LEFT JOIN contacts k ON k.id = c.contact_id"
        f" WHERE c.county_code = ? AND (c.state IN ({marks})"
        "   OR (c.real_name = 1 AND c.revisit_first_at IS NULL AND c.state NOT IN ('excluded', 'rerated')))"
        " ORDER BY c.rectify_due, c.id"
    )
    rows = []
    last = _last_actions(ctx, county)
    kinds = dict(ctx.db.execute("SELECT code, kind FROM windows WHERE county_code = ?", [county]).fetchall())
    for case in ctx.db.query(query, [county, *cases.OPEN_STATES]):
        problems = json.loads(case["problems"]) if case["problems"] else []
        standards = case_standards(ctx.db, case["item_code"], kinds.get(case["window_code"]),
                                   problems if isinstance(problems, list) else [])
        rows.append({
            "case": case["id"],
            "state": f"{case['state']} {cases.STATES[case['state']]}",
            "rated_at": case["rated_at"],
            "window": case["window_code"],
            "item": case["item_code"],
            "level": cases.LEVELS[case["level"] - 1],
            "problems": " ".join(problems) if isinstance(problems, list) else str(problems),
            "post": case["post"] or "",
            "standard": "；".join(s["standard"] for s in standards),
            "staff": case["staff_code"] or "",
            "phone": case["phone_masked"] or ("" if case["real_name"] else "匿名"),
            "revisit_due": case["revisit_due"] or "",
            "revisited": cases.OUTCOMES.get(case["revisit_outcome"] or "", ""),
            "rectify_due": case["rectify_due"],
            "current_class": cases.CLASSES.get(case["classification"] or "", ""),
            "last_action": last.get(str(case["id"]), ""),
        })
    return rows


def _last_actions(ctx: Context, county: str) -> dict[str, str]:
    """Case id -> its last audit event, as the sheet shows it: ``回访 2024-05-06 10:00 lc (county:370213)``."""
    rows = ctx.db.execute(
        "SELECT e.entity_id, e.action, e.at, e.person, e.operator FROM audit_events e JOIN ("
        "  SELECT entity_id, max(id) AS id FROM audit_events WHERE entity = 'cases' AND entity_id IN"
        "  (SELECT CAST(id AS TEXT) FROM cases WHERE county_code = ?) GROUP BY entity_id) last ON last.id = e.id",
        [county])
    return {case: f"{cases.EVENT_NAMES.get(action, action)} {at[:16]} {person or '?'} ({operator})"
            for case, action, at, person, operator in rows}


def export_sheet(ctx: Context, county: str, fmt: str, path: str | Path) -> dict[str, Any]:
    """Write the county's open cases to ``path`` as xlsx or csv. Returns {path, rows}."""
    if fmt not in FORMATS:
        raise InvalidInput(f"export format {fmt!r} is not known", "use xlsx or csv")
    rows = export_rows(ctx, county)
    path = Path(path)
    modes = files.modes(ctx.config)  # the sheet names raters and their masked phones: never 0644
    if fmt == "xlsx":
        with files.open_file(path, "wb", modes) as fh:
            _write_xlsx(rows, fh)
    else:
        with files.open_file(path, "w", modes, encoding="utf-8-sig", newline="") as fh:
            _write_csv(rows, fh)
    return {"path": str(path), "rows": len(rows)}


def _write_csv(rows: list[dict[str, Any]], fh: IO[str]) -> None:
    # UTF-8 with a BOM (the file is opened so): Excel opens it as UTF-8 instead of the system code page.
    writer = csv.writer(fh)
    writer.writerow([zh for _, zh, _ in COLUMNS])
    for row in rows:
        writer.writerow([_csv_safe(row.get(key, "")) for key, _, _ in COLUMNS])


def _write_xlsx(rows: list[dict[str, Any]], fh: IO[bytes]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    ws.append([zh for _, zh, _ in COLUMNS])
    fill = PatternFill("solid", fgColor="FFF2CC")
    for i, (key, _, _) in enumerate(COLUMNS, 1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True)
        if key in {k for k, _, _ in FILL_IN}:
            cell.fill = fill
        ws.column_dimensions[get_column_letter(i)].width = 22 if key in ("rated_at", "window", "measures") else 14
    for r, row in enumerate(rows, 2):
        for c, (key, _, _) in enumerate(COLUMNS, 1):
            value = row.get(key)
            # text, never a formula; a window code's control characters shown (openpyxl refuses most of them)
            make_text(ws.cell(row=r, column=c, value=xlsx_text(value) if isinstance(value, str) else value))
    last = max(len(rows) + 1, 200)
    for key, choices in (("classify", "可整改,无法整改,无需整改"), ("revisit", "已联系上,联系不上")):
        col = get_column_letter([k for k, _, _ in COLUMNS].index(key) + 1)
        validation = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
        ws.add_data_validation(validation)
        validation.add(f"{col}2:{col}{last}")
    ws.freeze_panes = "B2"
    help_sheet = wb.create_sheet("说明")
    for line in (
        ["填写说明 (how to fill in)"],
        ["分类", "可整改 / 无法整改 / 无需整改 (rectifiable / unrectifiable / no-action); 后两者须填分类理由"],
        ["回访结果", "已联系上 / 联系不上 (reached / unreachable), 实名评价; 回访说明可选"],
        ["整改措施, 责任人", "可整改的案件整改完成后填写, 即办结 (close)"],
        ["", "一行可同时填写分类、回访和办结, 依次执行; 任一行被拒绝则整个文件不生效"],
        ["", f"导出日期 {today().isoformat()}"],
    ):
        help_sheet.append(line)
    wb.save(fh)


# --- reading the filled-in sheet back ----------------------------------------------------------------------


def read_sheet(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(sheet row or CSV line, {key: value}) for each non-empty row of an exported sheet."""
    from haocha_cli.readers import regular_file

    path = regular_file(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        table = _xlsx_rows(path)
    elif suffix == ".csv":
        table = _csv_rows(path)
    else:
        raise InvalidInput(f"{path.name}: cannot read {suffix or 'a file without extension'}",
                           "save the sheet as .xlsx or .csv")
    if not table:
        raise InvalidInput(f"{path.name} is empty", "apply a sheet made by `haocha cases export`")
    header_line, header = table[0]
    keys = [_HEADER_KEYS.get(str(h or "").strip().lower()) for h in header]
    if "case" not in keys:
        raise InvalidInput(f"{path.name} has no 案件编号 (case) column in its first row",
                           "apply a sheet made by `haocha cases export`, with its header row kept")
    result = []
    for line, values in table[1:]:
        row = {k: v for k, v in zip(keys, values, strict=False) if k is not None}
        if all(_blank(v) for v in row.values()):
            continue
        result.append((line, row))
    return result


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _xlsx_rows(path: Path) -> list[tuple[int, list[Any]]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise InvalidInput(f"{path.name} is not a readable xlsx file ({exc})", "save it again as .xlsx") from None
    try:
        ws = wb[SHEET_NAME] if SHEET_NAME in wb.sheetnames else wb.worksheets[0]
        return [(i, list(values)) for i, values in enumerate(ws.iter_rows(values_only=True), 1)]
    finally:
        wb.close()


def _csv_rows(path: Path) -> list[tuple[int, list[Any]]]:
    from haocha_cli.readers import decode_small_text

    reader = csv.reader(io.StringIO(decode_small_text(path, path.read_bytes()), newline=""))
    rows = []
    for values in reader:
        rows.append((reader.line_num, values))
    return rows


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    # Only the apostrophe that the export put before a formula-like cell is ours; any other is the county's.
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text


def _case_number(value: Any) -> int:
    text = _cell_text(value)
    if text.isdigit():
        return int(text)
    raise InvalidInput(f"案件编号 {text!r} is not a case number", "keep the 案件编号 column as exported")


class _Refused(Exception):
    """Raised to roll the whole sheet back."""


def apply_sheet(ctx: Context, path: str | Path) -> dict[str, Any]:
    """Apply the filled-in rows of ``path``: each row's actions with the same checks as the commands.

    All or nothing: if any row is refused, nothing is applied. Returns {ok, applied_rows, refused_rows,
    actions, rows: [{row, case, actions, result, reason}]} (rows with nothing filled in are not listed).
    """
    entries = read_sheet(path)
    report: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    try:
        with transaction(ctx.db):
            for line, row in entries:
                report.append(_apply_row(ctx, line, row, seen))
            if any(r["result"] == "refused" for r in report):
                raise _Refused
    except _Refused:
        for entry in report:
            if entry["result"] == "applied":
                entry["result"] = "not applied"
                entry["reason"] = "the sheet was refused as a whole"
    applied = [r for r in report if r["result"] == "applied"]
    refused = [r for r in report if r["result"] == "refused"]
    return {
        "ok": not refused,
        "applied_rows": len(applied),
        "refused_rows": len(refused),
        "actions": sum(len(r["actions"].split("; ")) for r in applied),
        "rows": [r for r in report if r["actions"] or r["result"] == "refused"],
    }


def _apply_row(ctx: Context, line: int, row: dict[str, Any], seen: dict[int, int]) -> dict[str, Any]:
    entry: dict[str, Any] = {"row": line, "case": _cell_text(row.get("case")), "actions": "", "result": "",
                             "reason": ""}
    plan: list[tuple[str, Any]] = []
    try:
        case_id = _case_number(row.get("case"))
        entry["case"] = case_id
        values = {key: _cell_text(row.get(key)) for key, _, _ in FILL_IN}
        plan = _plan(values)
        if not plan:
            entry["result"] = "nothing to do"
            return entry
        if case_id in seen:
            raise InvalidInput(f"case {case_id} appears again (first at row {seen[case_id]})",
                               "give each case one row")
        seen[case_id] = line
    except HaochaError as exc:
        entry.update(result="refused", reason=str(exc), actions="; ".join(name for name, _ in plan))
        return entry
    ctx.db.execute("SAVEPOINT sheet_row")
    done: list[str] = []
    try:
        for name, call in plan:
            call(ctx, case_id)
            done.append(name)
    except HaochaError as exc:
        ctx.db.execute("ROLLBACK TO sheet_row")
        ctx.db.execute("RELEASE sheet_row")
        entry.update(result="refused", actions="; ".join(name for name, _ in plan),
                     reason=f"{plan[len(done)][0]}: {exc}")
        return entry
    ctx.db.execute("RELEASE sheet_row")
    entry.update(result="applied", actions="; ".join(done))
    return entry


def _plan(values: dict[str, str]) -> list[tuple[str, Any]]:
    """The row's actions, in order: classify, revisit, close."""
    plan: list[tuple[str, Any]] = []
    if values["classify"]:
        cls = cases.parse_classification(values["classify"])
        reason = values["reason"]
        plan.append((f"classify {cls.replace('_', '-')}", lambda c, i: cases.classify(c, i, cls, reason)))
    elif values["reason"]:
        raise InvalidInput("分类理由 is filled in but 分类 is empty", "fill in 分类 or clear 分类理由")
    if values["revisit"]:
        outcome = cases.parse_outcome(values["revisit"])
        note = values["revisit_note"]
        plan.append((f"revisit {outcome}", lambda c, i: cases.revisit(c, i, outcome, note)))
    elif values["revisit_note"]:
        raise InvalidInput("回访说明 is filled in but 回访结果 is empty", "fill in 回访结果 or clear 回访说明")
    if values["measures"] or values["responsible"]:
        measures, responsible = values["measures"], values["responsible"]
        plan.append(("close", lambda c, i: cases.close(c, i, measures, responsible)))
    return plan
