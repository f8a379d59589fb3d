"""Bulk work: `cases export` writes the county's open cases, the county fills the sheet in a spreadsheet
program, `cases apply` reads it back, all or nothing, with a report.

tests/data/cases/lc_filled_libreoffice.xlsx is the sheet exported for RATINGS below, filled in as FILLED
says (openpyxl) and then saved by LibreOffice Calc 7.4 (`fill_and_resave`): what a county sends back after
working in a spreadsheet program. The live test does the same again when soffice is installed.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cases_support import add_ratings
from openpyxl import load_workbook
from support import ok

from haocha_cli.context import os_person

LC = "county:370213"
FIXTURE = Path(__file__).parent / "data" / "cases" / "lc_filled_libreoffice.xlsx"
NOW = "2025-03-06 09:00:00"

RATINGS = [
    {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意", "phone": "13812341234",
     "problems": ["C1", "D1"], "staff": "LC-S01"},
    {"rated_at": "2025-03-04 10:00:00", "window": "LC02", "level": "非常不满意"},
    {"rated_at": "2025-03-05 10:00:00", "window": "LC01", "level": "不满意"},
    {"rated_at": "2025-03-05 10:00:00", "window": "SN01", "level": "不满意"},  # another county's
]
HEADER = ["案件编号", "状态", "评价时间", "窗口", "事项", "满意度", "差评问题", "责任岗位", "服务标准", "工作人员", "联系电话", "回访期限",
          "已回访", "整改期限", "当前分类", "最近办理", "分类", "分类理由", "回访结果", "回访说明", "整改措施", "责任人"]
# case -> the cells the county fills in
FILLED = {
    1: {"分类": "可整改", "回访结果": "已联系上", "回访说明": "已致歉并说明整改安排", "整改措施": "全员服务规范培训",
        "责任人": "张三"},
    2: {"分类": "无法整改", "分类理由": "法定办理时限所限"},
    3: {"分类": "无需整改", "分类理由": "评价内容与烟草业务无关"},
}




@pytest.fixture
def cases_db(db_path):
    add_ratings(db_path, RATINGS)
    return db_path




def states(db_path) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT id, state, classification, revisit_outcome, measures FROM cases ORDER BY id"
                            ).fetchall()
    finally:
        conn.close()


def snapshot(db_path) -> tuple:
    conn = sqlite3.connect(db_path)
    try:
        return tuple(list(conn.execute(f"SELECT * FROM {t} ORDER BY 1")) for t in ("cases", "audit_events", "meta"))
    finally:
        conn.close()


def fill(path: Path, filled: dict[int, dict[str, str]]) -> None:
    wb = load_workbook(path)
    ws = wb["整改事项"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        for name, value in filled.get(row[0].value, {}).items():
            row[header.index(name)].value = value
    wb.save(path)


def resave_with_libreoffice(src: Path, out_dir: Path) -> Path:
    """Open and save the sheet with LibreOffice Calc, headless, as a clerk's spreadsheet program would."""
    out_dir.mkdir(exist_ok=True)
    subprocess.run(["soffice", f"-env:UserInstallation=file://{out_dir / 'profile'}", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out_dir), str(src)],
                   check=True, capture_output=True, timeout=120)
    return out_dir / src.name


def fill_and_resave(exported: Path, out_dir: Path) -> Path:
    fill(exported, FILLED)
    return resave_with_libreoffice(exported, out_dir)


def test_export_writes_the_countys_open_cases_with_masked_phones(cases_db, run, tmp_path):
    result = ok(run(NOW, "cases", "export", "--format", "xlsx", "-o", str(tmp_path / "lc.xlsx"), operator=LC))
    assert result.stderr.strip() == f"wrote 3 case(s) of county 370213 to {tmp_path / 'lc.xlsx'}"
    ws = load_workbook(tmp_path / "lc.xlsx")["整改事项"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == HEADER
    assert rows[1] == [1, "new 待分类", "2025-03-03 10:00:00", "LC01", "XK01", "不满意", "C1 D1", None, None,
                       "LC-S01", "138****1234", "2025-03-04", None, "2025-03-24", None,
                       f"立案 2025-03-05 11:00 {os_person()} (city)", None, None, None, None, None, None]
    assert [r[0] for r in rows[1:]] == [1, 2, 3]
    assert rows[2][10] == "匿名"
    # A county may not export another's cases; the city must say which county.
    result = run(NOW, "cases", "export", "--county", "370202", operator=LC)
    assert result.stderr.strip() == ("Error: county:370213 may see the cases of county 370213 only, "
                                     "not of 370202 (leave out --county: a county sees its own county's data)")
    result = run(NOW, "cases", "export")
    assert result.exit_code != 0 and "--county" in result.stderr
    ok(run(NOW, "cases", "export", "--county", "370202", "--format", "csv", "-o", str(tmp_path / "sn.csv")))
    assert (tmp_path / "sn.csv").read_bytes().startswith(b"\xef\xbb\xbf\xe6\xa1\x88")  # BOM, then 案


def test_apply_a_sheet_saved_by_libreoffice(cases_db, run, tmp_path):
    # The fixture was made from this very export (same ratings, same case numbers).
    result = ok(run(NOW, "cases", "apply", str(FIXTURE), "--format", "json", operator=LC))
    report = json.loads(result.stdout)
    assert (report["ok"], report["applied_rows"], report["refused_rows"], report["actions"]) == (True, 3, 0, 5)
    assert [(r["row"], r["case"], r["actions"], r["result"]) for r in report["rows"]] == [
        (2, 1, "classify rectifiable; revisit reached; close", "applied"),
        (3, 2, "classify unrectifiable", "applied"),
        (4, 3, "classify no-action", "applied"),
    ]
    assert result.stderr.strip() == "applied 5 action(s) on 3 row(s)"
    assert states(cases_db) == [
        (1, "closed", "rectifiable", "reached", "全员服务规范培训"),
        (2, "unrectifiable", "unrectifiable", None, None),
        (3, "awaiting_approval", "no_action", None, None),
        (4, "new", None, None, None),
    ]
    history = json.loads(ok(run(NOW, "cases", "show", "1", "--format", "json", operator=LC)).stdout)["history"]
    assert [(e["operator"], e["action"], e["at"]) for e in history[1:]] == [
        (LC, "case.classify", NOW), (LC, "case.revisit", NOW), (LC, "case.close", NOW)]
    # Applying the same sheet again is refused row by row (the states moved on), and changes nothing.
    before = snapshot(cases_db)
    result = run(NOW, "cases", "apply", str(FIXTURE), "--format", "json", operator=LC)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["rows"][0]["reason"] == (
        "classify rectifiable: case 1 is closed (已整改待复评): classify is not allowed "
        "(allowed now: revisit (county), contact (county), rerate (county/city), reopen (city))")
    assert snapshot(cases_db) == before


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_live_round_trip_through_libreoffice(cases_db, run, tmp_path):
    exported = tmp_path / "lc.xlsx"
    ok(run(NOW, "cases", "export", "-o", str(exported), operator=LC))
    saved = fill_and_resave(exported, tmp_path / "saved")
    report = json.loads(ok(run(NOW, "cases", "apply", str(saved), "--format", "json", operator=LC)).stdout)
    assert (report["ok"], report["applied_rows"], report["actions"]) == (True, 3, 5)
    assert [s[1] for s in states(cases_db)] == ["closed", "unrectifiable", "awaiting_approval", "new"]


def test_a_refused_row_refuses_the_whole_sheet(cases_db, run, tmp_path):
    sheet = tmp_path / "lc.xlsx"
    ok(run(NOW, "cases", "export", "-o", str(sheet), operator=LC))
    wb = load_workbook(sheet)
    ws = wb["整改事项"]
    ws.append([4, *[None] * 15, "可整改"])  # SN's case: 分类 after the 16 read-only columns
    wb.save(sheet)
    fill(sheet, {
        1: {"整改措施": "培训", "责任人": "张三"},  # close before classification
        2: {"分类": "可整改"},  # fine on its own
        3: {"分类": "也许", "回访说明": "x"},
    })
    before = snapshot(cases_db)
    result = run(NOW, "cases", "apply", str(sheet), "--format", "json", operator=LC)
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: 3 row(s) refused; nothing was changed "
                                     "(fix the rows named and apply the file again)")
    report = json.loads(result.stdout)
    assert (report["ok"], report["applied_rows"], report["refused_rows"]) == (False, 0, 3)
    assert [(r["row"], r["case"], r["result"], r["reason"]) for r in report["rows"]] == [
        (2, 1, "refused", "close: case 1 is new (待分类): close is not allowed (allowed now: classify (county), "
                          "revisit (county), contact (county), appeal (county))"),
        (3, 2, "not applied", "the sheet was refused as a whole"),
        (4, 3, "refused", "'也许' is not a classification (use rectifiable (可整改), unrectifiable (无法整改) "
                          "or no-action (无需整改))"),
        (5, 4, "refused", "classify rectifiable: case 4 does not exist (`haocha cases list --status all` "
                          "lists the cases)"),
    ]
    assert snapshot(cases_db) == before


def test_csv_round_trip_as_excel_saves_it(cases_db, run, tmp_path):
    exported = tmp_path / "lc.csv"
    ok(run(NOW, "cases", "export", "--format", "csv", "-o", str(exported), operator=LC))
    rows = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert rows[0] == HEADER
    for row in rows[1:]:
        for name, value in FILLED[int(row[0])].items():
            row[HEADER.index(name)] = value
    back = tmp_path / "lc-filled.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    back.write_bytes(buffer.getvalue().encode("gb18030"))  # Excel on a Chinese Windows saves GB18030/GBK
    result = ok(run(NOW, "cases", "apply", str(back), operator=LC))
    assert result.stderr.strip() == "applied 5 action(s) on 3 row(s)"
    assert [s[1] for s in states(cases_db)] == ["closed", "unrectifiable", "awaiting_approval", "new"]


def test_apply_refuses_files_it_cannot_read(cases_db, run, tmp_path):
    (tmp_path / "x.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    result = run(NOW, "cases", "apply", str(tmp_path / "x.xls"), operator=LC)
    assert result.stderr.strip() == "Error: x.xls: cannot read .xls (save the sheet as .xlsx or .csv)"
    (tmp_path / "y.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    result = run(NOW, "cases", "apply", str(tmp_path / "y.csv"), operator=LC)
    assert result.stderr.strip() == ("Error: y.csv has no 案件编号 (case) column in its first row "
                                     "(apply a sheet made by `haocha cases export`, with its header row kept)")
