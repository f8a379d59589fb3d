"""Formats and profiles: GB18030 CSV and a LibreOffice-saved .xlsx of the same data import to identical
ratings; openpyxl .xlsx with date cells and serial numbers; JSON Lines and JSON arrays; UTF-16 "Unicode
text"; the time layouts; the provincial-platform profile; a profile of one's own; the core API."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from import_support import HEADER, LIBREOFFICE_XLSX, NOW, RATING_VIEW, SAMPLE, good, query, write_csv
from support import imported, ok

from haocha_cli.context import open_context
from haocha_cli.errors import InvalidInput
from haocha_cli.importer import _Reject, import_file, import_records, parse_time


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)






def twin(db_path: Path, name: str) -> Path:
    """A second database, identical before the import (same key, so the same phone hashes)."""
    other = db_path.parent / name
    shutil.copy(db_path, other)
    shutil.copy(str(db_path) + ".key", str(other) + ".key")
    return other


SAMPLE_EXPECTED = [
    ("S001", "2024-05-06 09:30:00", "LC01", "政务大厅其他终端", "XK01", 4, '{"A1":5,"C1":4}', None, "BJ20240506001", 1,
     "办得很快，谢谢", "138****5678", 0),
    ("S002", "2024-05-06 09:31:00", "LC02", "二维码", "XK01", 5, None, None, None, 1, '他说"很好"，\n下次还来', None, 1),
    ("S003", "2024-05-06 09:32:00", "LCWS", "PC端", "XK02", 2, '{"D1":2,"D3":1}', '["D1", "C2"]', None, 1, None,
     "139****4321", 0),
    ("S004", "2024-05-06 09:33:00", "SN01", "短信", "XK03", 3, None, None, None, 1, "𠮷野家旁边的窗口 <b>不错</b> 👍", None, 1),
    ("S005", "2024-05-06 09:34:00", "HD01", "政务大厅平板电脑", "XK08", 1, None, '["C1"]', None, 1, None, None, 1),
    ("S008", "2024-05-06 09:37:00", "LC01", "政务大厅其他终端", "XK01", 4, None, None, "BJ20240506001", 2, None,
     "138****5678", 0),
]


def sample_view(db_path: Path) -> list[tuple]:
    return [(r[0], r[1], r[3], r[6], r[7], r[8], r[11], r[12], r[13], r[14], r[15], r[17], r[18])
            for r in query(db_path, RATING_VIEW)]


# --- the same data from a Chinese Excel CSV and from LibreOffice -------------------------------------------


def test_gb18030_csv_and_libreoffice_xlsx_of_the_same_data_import_to_identical_ratings(cli, db_path, tmp_path):
    other = twin(db_path, "other.db")
    csv_path = write_csv(tmp_path / "sample.csv", SAMPLE, encoding="gb18030")
    [from_csv] = imported(cli, str(csv_path))
    from_xlsx = import_file(open_context(other), LIBREOFFICE_XLSX)
    assert (from_csv["encoding"], from_csv["format"], from_xlsx["format"]) == ("gb18030", "csv", "xlsx")
    for summary in (from_csv, from_xlsx):
        assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (8, 6, 2)
        assert summary["reasons"] == {"level_invalid": 1, "window_unknown": 1}
    assert query(db_path, RATING_VIEW) == query(other, RATING_VIEW)
    assert sample_view(db_path) == SAMPLE_EXPECTED
    for table in ("daily_agg", "daily_indicator_agg"):
        assert query(db_path, f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4") == query(other, f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4")
    # Lines: the CSV's physical lines (S002's comment spans two), the sheet's rows.
    assert query(db_path, "SELECT line FROM ratings ORDER BY id") == [(2,), (3,), (5,), (6,), (7,), (10,)]
    assert query(other, "SELECT line FROM ratings ORDER BY id") == [(2,), (3,), (4,), (5,), (6,), (9,)]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_freshly_libreoffice_saved_xlsx_still_imports_like_the_csv(db_path, tmp_path):
    import sys

    sys.path.insert(0, str(LIBREOFFICE_XLSX.parent))
    from make_fixture import make

    fresh = make(tmp_path / "fresh.xlsx")
    other = twin(db_path, "other.db")
    import_file(open_context(db_path), write_csv(tmp_path / "sample.csv", SAMPLE, encoding="gb18030"))
    import_file(open_context(other), fresh)
    assert query(db_path, RATING_VIEW) == query(other, RATING_VIEW)


def test_an_openpyxl_workbook_with_date_cells_serial_numbers_and_lost_digits(cli, db_path, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(["X1", datetime(2024, 5, 6, 9, 30), "LC01", "窗口评价器", "XK01", "满意", None, 1, None, 13812345678])
    ws.append(["X2", 45418.395833333336, "LC01", "窗口评价器", "XK01", "满意"])  # a serial number, no date format
    ws.append([3.7e21, "2024-05-06 09:32:00", "LC01", "窗口评价器", "XK01", "满意"])  # an id Excel made a number
    ws.append(["X4", 45418, "LC01", "窗口评价器", "XK01", "满意"])  # a date without its time
    ws.append([])
    ws.append(["X5", datetime(2024, 5, 6, 9, 29, 59, 999600), "LC02", "二维码", "XK01", 4.0, None, None, None, None,
               None, None, None, 5.0])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    [summary] = imported(cli, str(path), "--level-scale", "platform")
    assert (summary["format"], summary["rows_read"], summary["accepted"], summary["rejected"]) == ("xlsx", 5, 3, 2)
    assert summary["first_rejects"] == [
        {"line": 4, "code": "excel_number", "reason": "rating id 3.70E+21 was turned into a number by a spreadsheet"
                                                      " and has lost digits; format the column as text and export again"},
        {"line": 5, "code": "time_invalid", "reason": "the cell holds the date 2024-05-06 but no time of day"},
    ]
    assert query(db_path, "SELECT rating_id, rated_at, level, scores, contact_id IS NOT NULL, line FROM ratings"
                          " ORDER BY id") == [
        ("X1", "2024-05-06 09:30:00", 4, None, 1, 2),
        ("X2", "2024-05-06 09:30:00", 4, None, 0, 3),
        ("X5", "2024-05-06 09:30:00", 4, '{"A1":5}', 0, 7),
    ]


# --- JSON ----------------------------------------------------------------------------------------------


def test_json_lines_with_their_physical_lines_nested_scores_and_bad_lines(cli, db_path, tmp_path):
    lines = [
        {"rating_id": "J1", "rated_at": "2024-05-06 09:30:00", "window_code": "LC01", "channel": "二维码",
         "level": "满意", "scores": {"A1": 5, "服务规范": "4"}, "problems": ["C1", "办理时限"], "note": "x"},
        "",
        '{"rating_id": "J2", "rated_at": "2024-05-06 09:31:00", "window_code": "LC01"',  # truncated
        [1, 2],
        {"评价编号": "J3", "评价时间": "2024-05-06T01:32:00Z", "窗口编码": "LC02", "评价渠道": "扫码评价", "满意度": "非常满意",
         "联系电话": 13812345678},
    ]
    path = tmp_path / "ratings.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
                              for line in lines) + "\n", encoding="utf-8")
    [summary] = imported(cli, str(path))
    assert (summary["format"], summary["rows_read"], summary["accepted"], summary["rejected"]) == ("jsonl", 4, 2, 2)
    assert [(r["line"], r["code"]) for r in summary["first_rejects"]] == [(3, "json_invalid"), (4, "json_invalid")]
    assert summary["ignored_columns"] == ["note"]
    assert query(db_path, "SELECT rating_id, line, rated_at, channel, scores, problems, contact_id IS NOT NULL"
                          " FROM ratings ORDER BY id") == [
        ("J1", 1, "2024-05-06 09:30:00", "二维码", '{"A1":5,"C1":4}', '["C1", "D1"]', 0),
        ("J3", 5, "2024-05-06 09:32:00", "二维码", None, None, 1),
    ]
    out = json.loads(ok(cli("batches", "rejects", "1", "--format", "json")).stdout)
    assert out["rows"][0]["text"].startswith('{"rating_id": "J2"')


def test_a_json_array_numbers_its_elements_and_a_broken_array_is_refused_whole(cli, db_path, tmp_path):
    records = [good(i) for i in (1, 2)]
    keys = ["rating_id", "rated_at", "window_code", "channel", "item_code", "level"]
    array = [dict(zip(keys, r[:6], strict=True)) for r in records] + ["not an object"]
    path = tmp_path / "ratings.json"
    path.write_text(json.dumps(array, ensure_ascii=False), encoding="utf-8")  # one line: elements share it
    [summary] = imported(cli, str(path))
    assert (summary["format"], summary["accepted"], summary["rejected"]) == ("json", 2, 1)
    assert summary["first_rejects"] == [{"line": 3, "code": "json_invalid", "reason": "the element is not a JSON object {…}"}]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(array, ensure_ascii=False)[:-30], encoding="utf-8")
    result = cli("import", str(broken))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: broken.json: not valid JSON (Unterminated string starting at) at line 1")
    assert query(db_path, "SELECT count(*) FROM batches") == [(1,)]


# --- encodings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "delimiter", "expected"), [
    ("utf-8-sig", ",", "utf-8-sig"),
    ("gb18030", ",", "gb18030"),
    ("utf-16", "\t", "utf-16"),  # Excel's "Unicode text": UTF-16 with a BOM, tab-separated
])
def test_csv_encodings_are_detected(cli, db_path, tmp_path, encoding, delimiter, expected):
    path = tmp_path / "ratings.txt"
    with path.open("w", encoding=encoding, newline="") as fh:
        import csv

        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(HEADER)
        writer.writerow(good(1, comment="服务规范，𠮷"))
    [summary] = imported(cli, str(path))
    assert (summary["encoding"], summary["accepted"]) == (expected, 1)
    assert query(db_path, "SELECT comment FROM ratings") == [("服务规范，𠮷",)]


# --- times ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-06 09:30:00", "2024-05-06 09:30:00"),
    ("2024/5/6 9:30", "2024-05-06 09:30:00"),
    ("2024.05.06 09:30:05", "2024-05-06 09:30:05"),
    ("2024-05-06T09:30:00+08:00", "2024-05-06 09:30:00"),
    ("2024-05-06T01:30:00Z", "2024-05-06 09:30:00"),
    ("2024-05-06T09:30:00.123+0800", "2024-05-06 09:30:00"),
    ("2024-05-05T20:30:00-05:00", "2024-05-06 09:30:00"),
    ("20240506093000", "2024-05-06 09:30:00"),
    ("202405060930", "2024-05-06 09:30:00"),
    ("2024年5月6日 9:30", "2024-05-06 09:30:00"),
    ("2024年5月6日 9时30分", "2024-05-06 09:30:00"),
    (" 2024-5-6 09:30:00 ", "2024-05-06 09:30:00"),
])
def test_time_layouts(text, expected):
    assert parse_time(text) == expected


def test_an_excel_serial_is_read_in_a_workbook_only():
    epoch = datetime(1899, 12, 30)
    assert parse_time("45418.395833333336", epoch) == "2024-05-06 09:30:00"
    with pytest.raises(_Reject) as exc:
        parse_time("45418.395833333336")
    assert exc.value.code == "time_excel_serial"


@pytest.mark.parametrize(("text", "code"), [
    ("", "time_missing"), ("2024-05-06", "time_invalid"), ("2024-02-30 10:00:00", "time_invalid"),
    ("06/05/2024 09:30", "time_invalid"), ("yesterday", "time_invalid"), ("2024-05-06 25:00", "time_invalid"),
])
def test_times_not_read_are_refused(text, code):
    with pytest.raises(_Reject) as exc:
        parse_time(text)
    assert exc.value.code == code


# --- profiles ------------------------------------------------------------------------------------------


def test_the_platform_profile_reads_the_interface_fields(cli, db_path, tmp_path):
    path = tmp_path / "platform.csv"
    path.write_text(
        "projectNo,assessNumber,assessTime,satisfaction,pf,taskCode,writingEvaluation,areacode,evalDetail\n"
        "P100,1,2024-05-06 09:30:00,5,1,XK01,很方便,370213,\"510,517\"\n"
        "P100,2,2024-05-07 10:00:00,2,2,XK01,追评：还是慢,370213000000,\n"
        "P101,1,2024-05-06 11:00:00,4,4,XK02,,370213,\n"
        "P102,1,2024-05-06 11:00:00,3,9,XK02,,370213,\n"
        ",1,2024-05-06 11:00:00,3,1,XK02,,370213,\n",
        encoding="utf-8")
    [summary] = imported(cli, str(path), "--profile", "platform")
    assert (summary["profile"], summary["source"]) == ("platform", "platform")
    assert summary["level_scale"] == "platform scale (5 = 非常满意 … 1 = 非常不满意), and names"
    assert (summary["accepted"], summary["rejected"], summary["levels_by_code"]) == (2, 3, 2)
    assert summary["ignored_columns"] == ["evalDetail"]
    assert [(r["line"], r["code"]) for r in summary["first_rejects"]] == [
        (4, "window_missing"), (5, "channel_unknown"), (6, "id_missing")]
    assert summary["first_rejects"][0]["reason"] == ("no window is given, and channel 政务大厅平板电脑 is not an online "
                                                     "channel whose window could be the county's online channel")
    assert query(db_path, "SELECT source, rating_id, window_code, mode, channel, level, case_no, rating_round, comment"
                          " FROM ratings ORDER BY id") == [
        ("platform", "P100#1", "LCWS", "online", "PC端", 5, "P100", 1, "很方便"),
        ("platform", "P100#2", "LCWS", "online", "移动服务端", 2, "P100", 2, "追评：还是慢"),
    ]


def test_a_profile_of_ones_own_maps_headers_labels_and_defaults(cli, db_path, tmp_path):
    profile = tmp_path / "device.toml"
    profile.write_text(
        'name = "lc-device"\nsource = "lc-device"\nlevel_scale = "national"\n'
        '[columns]\n"流水号" = "rating_id"\n"时间" = "rated_at"\n"窗口" = "window_code"\n"按键" = "level"\n'
        '[channels]\n"柜台" = { channel = "政务大厅其他终端", mode = "offline" }\n'
        '[defaults]\nchannel = "柜台"\nitem_code = "XK01"\n', encoding="utf-8")
    path = tmp_path / "device.csv"
    path.write_text("流水号,时间,窗口,按键\n1,2024-05-06 09:30:00,LC01,1\n2,2024-05-06 09:31:00,LC01,5\n",
                    encoding="utf-8")
    [summary] = imported(cli, str(path), "--profile", str(profile))
    assert (summary["profile"], summary["accepted"]) == ("lc-device", 2)
    assert query(db_path, "SELECT source, rating_id, channel, item_code, level FROM ratings ORDER BY id") == [
        ("lc-device", "1", "政务大厅其他终端", "XK01", 5), ("lc-device", "2", "政务大厅其他终端", "XK01", 1)]
    bad = tmp_path / "bad.toml"
    bad.write_text('[channels]\n"柜台" = { channel = "窗口" }\n', encoding="utf-8")
    result = cli("import", str(path), "--profile", str(bad))
    assert result.exit_code == 1
    # A bad profile is one error for the command, before any file is read (not one per file).
    assert result.stderr == ("Error: profile bad.toml: channel label '柜台' maps to '窗口', not a national channel"
                             " (national channels: PC端, 移动服务端, 二维码, 政务大厅平板电脑, 政务大厅其他终端, 电话, 短信)\n")
    result = cli("import", str(path), "--profile", "nosuch")
    assert result.stderr == ("Error: there is no profile named 'nosuch' (shipped profiles: canonical, platform;"
                             " or give the path of a .toml file)\n")


def test_two_sources_may_use_the_same_ids(cli, db_path, tmp_path):
    path = write_csv(tmp_path / "a.csv", [good(1)])
    imported(cli, str(path), "--source", "sms")
    other = write_csv(tmp_path / "b.csv", [good(1, level="非常满意")])
    [summary] = imported(cli, str(other), "--source", "devices")
    assert summary["accepted"] == 1
    assert query(db_path, "SELECT source, rating_id FROM ratings ORDER BY id") == [("sms", "R00001"), ("devices", "R00001")]


# --- the core API ---------------------------------------------------------------------------------------


def test_import_records_goes_through_the_same_path_and_is_idempotent(db_path):
    ctx = open_context(db_path)
    records = [{"rating_id": "W1", "rated_at": "2024-05-06 09:30:00", "window_code": "LC01", "channel": "二维码",
                "level": "不满意", "rater_phone": "13812345678", "problems": "C1 D1"},
               {"rating_id": "W2", "rated_at": "2024-05-06 09:31:00", "window_code": "ZZ01", "channel": "二维码",
                "level": "满意"}]
    summary = import_records(ctx, records, source="serve", file_name="form", fmt="form")
    assert (summary["accepted"], summary["rejected"], summary["cases_opened"], summary["ids"]) == (1, 1, 1, [1])
    assert summary["first_rejects"][0]["code"] == "window_unknown"
    again = import_records(ctx, records, source="serve", file_name="form", fmt="form")
    assert again["status"] == "already imported" and again["batch"] == summary["batch"]
    assert query(db_path, "SELECT format, source FROM batches") == [("form", "serve")]


def test_import_records_inside_a_callers_transaction_joins_it(db_path):
    ctx = open_context(db_path)
    record = {"rating_id": "W1", "rated_at": "2024-05-06 09:30:00", "window_code": "LC01", "channel": "二维码",
              "level": "满意"}
    ctx.db.conn.execute("BEGIN IMMEDIATE")
    dry = import_records(ctx, [record], source="serve", dry_run=True)
    assert dry["accepted"] == 1 and ctx.db.conn.in_transaction
    done = import_records(ctx, [record], source="serve")
    ctx.db.conn.execute("ROLLBACK")  # the caller changes its mind: the import goes with it
    assert done["accepted"] == 1
    assert query(db_path, "SELECT count(*) FROM ratings") == [(0,)]


def test_progress_is_reported_against_the_file_size(db_path, tmp_path):
    path = write_csv(tmp_path / "r.csv", [good(i) for i in range(1, 2501)])
    seen: list[tuple[int, int]] = []
    import_file(open_context(db_path), path,
                progress=lambda phase, done, total: seen.append((done, total)) if phase == "read" else None)
    assert len(seen) >= 3 and seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_an_old_xls_and_a_renamed_file_are_named_for_what_they_are(db_path, tmp_path):
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(InvalidInput) as exc:
        import_file(open_context(db_path), xls)
    assert str(exc.value) == ("old.xls is an old Excel 97-2003 workbook (.xls) (open it in Excel or LibreOffice and"
                              " save it as .xlsx or as CSV)")
    fake = write_csv(tmp_path / "fake.xlsx", [good(1)])
    with pytest.raises(InvalidInput) as exc:
        import_file(open_context(db_path), fake)
    assert exc.value.message == "fake.xlsx is named .xlsx but is not an Excel workbook"


def test_the_libreoffice_fixture_is_what_import_support_describes():
    assert LIBREOFFICE_XLSX.exists()
    values = list(openpyxl.load_workbook(LIBREOFFICE_XLSX, read_only=True).active.iter_rows(values_only=True))
    assert list(values[0]) == HEADER and [v[0] for v in values[1:]] == [r[0] for r in SAMPLE]
    # A spreadsheet program changed the cells: a date cell, a phone and a compact time turned into numbers.
    assert isinstance(values[1][1], datetime) and values[1][9] == 13812345678 and values[4][1] == 20240506093300


def test_make_fixture_needs_soffice_and_says_so(monkeypatch):
    import sys

    sys.path.insert(0, str(LIBREOFFICE_XLSX.parent))
    import make_fixture

    monkeypatch.setattr(make_fixture.shutil, "which", lambda _name: None)
    with pytest.raises(SystemExit) as exc:
        make_fixture.make(Path("unused.xlsx"))
    assert "apt-get install -y libreoffice-calc-nogui" in str(exc.value)
