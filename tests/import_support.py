"""Test data for the rating import: the bureau's Chinese-header export format, a sample that covers the
layouts a spreadsheet program changes (dates, long numbers, quotes, newlines, characters outside GBK),
and writers for CSV in any encoding.

The LibreOffice-saved fixture tests/data/import/sample_libreoffice.xlsx holds SAMPLE; it was made by
tests/data/import/make_fixture.py (soffice --convert-to xlsx of SAMPLE written as CSV). The platform-style
export tests/data/import/platform_export.csv (UTF-8 with BOM, CRLF) carries the item's code and name, the
window's code and name, 所属市, 区县局 and the channel labels platforms write; tests/test_import_bureau_files.py
reads it.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

HEADER = ["评价编号", "评价时间", "窗口编码", "评价渠道", "事项编码", "满意度", "办件编号", "评价次数", "文字评价",
          "联系电话", "是否匿名", "工作人员", "差评问题", "着装规范", "服务规范", "办理时限", "网办便捷"]
FIELDS = ["rating_id", "rated_at", "window_code", "channel", "item_code", "level", "case_no", "rating_round",
          "comment", "rater_phone", "anonymous", "staff_code", "problems", "A1", "C1", "D1", "D3"]
FIXTURE_DIR = Path(__file__).resolve().parent / "data" / "import"
LIBREOFFICE_XLSX = FIXTURE_DIR / "sample_libreoffice.xlsx"
PLATFORM_EXPORT = FIXTURE_DIR / "platform_export.csv"
NOW = "2024-12-31 12:00:00"


def row(**values: str) -> list[str]:
    """A data row in HEADER order from field names; unnamed fields are empty."""
    unknown = set(values) - set(FIELDS)
    assert not unknown, unknown
    return [values.get(f, "") for f in FIELDS]


def good(i: int, **values: str) -> list[str]:
    """A valid rating, number i, at LC01, minutes apart on 2024-05-06."""
    base = {"rating_id": f"R{i:05d}", "rated_at": f"2024-05-06 {9 + i // 60 % 8:02d}:{i % 60:02d}:00",
            "window_code": "LC01", "channel": "窗口评价器", "item_code": "XK01", "level": "满意"}
    base.update(values)
    return row(**base)


# One row per thing a spreadsheet program or a Chinese Excel changes; the same data import identically from
# a GB18030 CSV and from the LibreOffice-saved .xlsx (the line numbers aside).
SAMPLE = [
    row(rating_id="S001", rated_at="2024-05-06 09:30:00", window_code="LC01", channel="窗口评价器", item_code="XK01",
        level="满意", case_no="BJ20240506001", rating_round="1", comment="办得很快，谢谢", rater_phone="13812345678",
        anonymous="否", staff_code="LC-S01", A1="5", C1="4"),
    row(rating_id="S002", rated_at="2024/5/6 9:31", window_code="LC02", channel="二维码",
        item_code="烟草专卖零售许可证新办", level="非常满意", comment='他说"很好"，\n下次还来'),
    row(rating_id="S003", rated_at="2024-05-06T09:32:00+08:00", window_code="LCWS", channel="网上评价",
        item_code="XK02", level="不满意", problems="办理时限、C2", D1="2", D3="1", rater_phone="13987654321"),
    row(rating_id="S004", rated_at="20240506093300", window_code="SN01", channel="短信评价", item_code="XK03",
        level="基本满意", comment="𠮷野家旁边的窗口 <b>不错</b> 👍"),
    row(rating_id="S005", rated_at="2024年5月6日 9:34", window_code="HD01", channel="政务大厅平板电脑",
        item_code="XK08", level="非常不满意", anonymous="是", problems="C1"),
    row(rating_id="S006", rated_at="2024-05-06 09:35:00", window_code="QD99", channel="二维码", item_code="XK01",
        level="满意"),  # a window of another city
    row(rating_id="S007", rated_at="2024-05-06 09:36:00", window_code="LC01", channel="二维码", item_code="XK01",
        level="很好"),  # not a level
    row(rating_id="S008", rated_at="2024-05-06 09:37:00", window_code="LC01", channel="窗口评价器", item_code="XK01",
        level="满意", rating_round="2", case_no="BJ20240506001", rater_phone="13812345678"),
]


def write_csv(path: Path, rows: list[list[str]], *, header: list[str] | None = None, encoding: str = "utf-8",
              lineterminator: str = "\r\n") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator=lineterminator)
        writer.writerow(header or HEADER)
        writer.writerows(rows)
    return path


def query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


RATING_VIEW = """
SELECT r.rating_id, r.rated_at, r.day, r.window_code, r.county_code, r.mode, r.channel, r.item_code, r.level,
       round(r.rating_index, 9), r.weights_version, r.scores, r.problems, r.case_no, r.rating_round, r.comment,
       c.phone_hash, c.phone_masked, r.anonymous, r.staff_code, r.qr_token, r.token_ok
FROM ratings r LEFT JOIN contacts c ON c.id = r.contact_id ORDER BY r.rating_id"""
