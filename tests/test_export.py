"""`haocha export ratings|cases`: phones masked everywhere in the bytes, formulas inert in CSV and XLSX,
JSON as plain data with its masked fields named, the national profile read back by the import profile
`platform` to the same ratings, period and county filters, and bad input with its exact message."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import zipfile

import pytest
from openpyxl import load_workbook
from support import ok
from typer.testing import CliRunner

from haocha_cli.cli import app
from haocha_cli.context import open_context
from haocha_cli.importer import import_records
from haocha_cli.profiles import load_profile
from haocha_cli.ratings import exclude_rating

NOW = "2024-06-10 09:00:00"
FORMULA = ("=", "+", "-", "@")
PHONES = ["13812345678", "13900001111", "88886666"]  # no export may hold any of them
CALC = "=cmd|' /C calc'!A0"
RATINGS = [
    {"rating_id": "R1", "rated_at": "2024-05-06 09:30:00", "window_code": "LC01", "channel": "二维码",
     "item_code": "XK01", "level": "不满意", "rater_phone": "13812345678", "comment": f"{CALC} 请回电13812345678",
     "problems": "C1 D1", "scores": json.dumps({"C1": 2, "D1": 1}), "case_no": "P001", "rating_round": "1",
     "staff_code": "LC-S01"},
    {"rating_id": "R2", "rated_at": "2024-05-20 14:00:00", "window_code": "LCWS", "channel": "PC端",
     "level": "非常满意", "comment": "+1"},
    {"rating_id": "R3", "rated_at": "2024-06-02 10:00:00", "window_code": "LC02", "channel": "政务大厅平板电脑",
     "level": "基本满意", "comment": "-2", "rater_phone": "139 0000 1111", "anonymous": "否"},
    {"rating_id": "R4", "rated_at": "2024-05-10 11:00:00", "window_code": "SN01", "channel": "短信",
     "level": "非常不满意", "comment": "@SUM(A1:A9) <script>alert(1)</script>", "rater_phone": "0532-88886666"},
    {"rating_id": "R5", "rated_at": "2024-05-07 08:00:00", "window_code": "LC01", "channel": "电话",
     "item_code": "XK02", "level": "满意", "comment": "窗口服务很好 👍", "case_no": "P001", "rating_round": "2"},
]
CANONICAL_HEADER = ["rating_id", "source", "rated_at", "county_code", "window_code", "mode", "channel", "item_code",
                    "level", "case_no", "rating_round", "comment", "rater_phone_masked", "anonymous", "staff_code",
                    "problems", "scores", "rating_index", "weights_version", "qr_token_verified", "excluded",
                    "excluded_at", "batch"]
NATIONAL_HEADER = ["rating_id", "source", "assessTime", "areacode", "windowCode", "pf", "pfName", "taskCode",
                   "satisfaction", "satisfactionName", "projectNo", "assessNumber", "writingEvaluation",
                   "mobile_masked", "anonymous", "staff_code", "problems", "scores", "excluded", "excluded_at"]
# What a rating is, for the round trip: everything but its source, batch, contact and exclusion.
SAME = ("rating_id, rated_at, day, window_code, county_code, mode, channel, item_code, level, rating_index,"
        " weights_version, scores, problems, case_no, rating_round, comment, anonymous, staff_code")


def _import(db_path, records, source="test"):
    ctx = open_context(db_path, "city")
    try:
        summary = import_records(ctx, records, source=source)
    finally:
        ctx.db.close()
    assert summary["rejected"] == 0, summary["first_rejects"]
    return summary


@pytest.fixture
def blank(db_path, tmp_path):
    """A second, empty database, copied before the first is filled."""
    path = tmp_path / "blank.db"
    shutil.copy(db_path, path)
    shutil.copy(str(db_path) + ".key", str(path) + ".key")
    return path


@pytest.fixture
def seeded(db_path, blank, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    _import(db_path, RATINGS)
    db = open_context(db_path, "city").db
    (r4,) = db.execute("SELECT id FROM ratings WHERE rating_id = 'R4'").fetchone()
    exclude_rating(db, r4, "appeal_upheld")  # 申诉成立: kept, marked, not counted
    db.close()
    return db_path


@pytest.fixture
def run(seeded):
    runner = CliRunner()

    def invoke(*args, operator="city", db=None):
        return runner.invoke(app, ["--db", str(db or seeded), "--operator", operator, "export", *args])

    return invoke




def _csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _no_phone(data: bytes):
    for phone in PHONES:
        assert phone.encode() not in data


def _xlsx_bytes(path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return b"".join(z.read(name) for name in z.namelist())


def test_csv_masks_phones_and_neutralises_formulas(run, tmp_path):
    result = ok(run("ratings", "--format", "csv"))
    _no_phone(result.stdout.encode())
    header, rows = _csv(result.stdout)
    assert header == CANONICAL_HEADER
    by_id = {r["rating_id"]: r for r in rows}
    assert [r["rating_id"] for r in rows] == ["R1", "R5", "R4", "R2", "R3"]  # by rating time
    assert by_id["R1"]["rater_phone_masked"] == "138****5678"
    assert by_id["R3"]["rater_phone_masked"] == "139****1111"
    assert by_id["R4"]["rater_phone_masked"] == "0532****6666"
    assert by_id["R2"]["rater_phone_masked"] == ""
    # Formula prefixes get an apostrophe; the number inside the comment is masked too.
    assert by_id["R1"]["comment"] == f"'{CALC} 请回电138****5678"
    assert by_id["R2"]["comment"] == "'+1"
    assert by_id["R3"]["comment"] == "'-2"
    assert by_id["R4"]["comment"] == "'@SUM(A1:A9) <script>alert(1)</script>"
    assert by_id["R5"]["comment"] == "窗口服务很好 👍"
    assert not [cell for r in rows for cell in r.values() if cell.startswith(FORMULA)]
    # The excluded rating is exported, marked.
    assert (by_id["R4"]["excluded"], by_id["R4"]["excluded_at"]) == ("appeal_upheld", NOW)
    assert {r["excluded"] for r in rows if r["rating_id"] != "R4"} == {""}
    assert (by_id["R1"]["level"], by_id["R1"]["problems"], by_id["R1"]["scores"]) == ("不满意", "C1,D1",
                                                                                        '{"C1":2,"D1":1}')
    # To a file: UTF-8 with a BOM (Excel), CRLF lines, the same rows.
    out = tmp_path / "r.csv"
    result = ok(run("ratings", "--out", str(out)))
    assert result.stderr.strip() == (f"wrote 5 ratings, 1 of them excluded, to {out} (csv, profile canonical; "
                                     "masked: comment, rater_phone_masked)")
    data = out.read_bytes()
    _no_phone(data)
    assert data.startswith(b"\xef\xbb\xbfrating_id,source,") and b"\r\n" in data
    assert _csv(data.decode("utf-8-sig"))[1] == rows


def test_xlsx_cells_are_text_never_formulas(run, tmp_path):
    for kind in ("ratings", "cases"):
        out = tmp_path / f"{kind}.xlsx"
        ok(run(kind, "--out", str(out)))  # the format from the extension
        _no_phone(_xlsx_bytes(out))
        with zipfile.ZipFile(out) as z:
            sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
            assert sheets and not [n for n in sheets if b"<f>" in z.read(n) or b"<f " in z.read(n)]
        wb = load_workbook(out)
        assert wb.sheetnames == [kind, "说明"]
        formula_like = []
        for ws in wb:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (cell.coordinate, cell.value)
                    if isinstance(cell.value, str) and cell.value.startswith(FORMULA):
                        assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)
                        formula_like.append(cell.value)
        notes = {r[0]: r[1] for r in wb["说明"].iter_rows(values_only=True) if r and r[0]}
        if kind == "ratings":
            # The values are exact (no apostrophe added): the cell type keeps them text.
            assert sorted(formula_like) == sorted([f"{CALC} 请回电138****5678", "+1", "-2",
                                                   "@SUM(A1:A9) <script>alert(1)</script>"])
            assert notes["masked_fields 已脱敏字段"] == "comment, rater_phone_masked"
            assert notes["rows"] == 5
        else:
            assert sorted(formula_like) == sorted([f"{CALC} 请回电138****5678",
                                                   "@SUM(A1:A9) <script>alert(1)</script>"])
            assert notes["masked_fields 已脱敏字段"] == ("rater_phone_masked, comment, classify_reason, revisit_note, "
                                                     "measures, responsible")
            assert notes["rows"] == 2
        wb.close()


def test_json_is_plain_data_and_names_the_masked_fields(run):
    result = ok(run("ratings", "--format", "json", "--profile", "national"))
    _no_phone(result.stdout.encode())
    data = json.loads(result.stdout)
    assert data["masked_fields"] == ["writingEvaluation", "mobile_masked"]
    assert data["count"] == len(data["rows"]) == 5
    assert data["channel_codes"] == {"1": "PC端", "2": "移动服务端", "3": "二维码", "4": "政务大厅平板电脑",
                                     "5": "政务大厅其他终端", "6": "电话", "7": "短信"}
    assert data["level_scale"].startswith("platform scale, 5 = 非常满意, 4 = 满意, 3 = 基本满意, 2 = 不满意, 1 = 非常不满意")
    assert list(data["rows"][0]) == NATIONAL_HEADER
    by_id = {r["rating_id"]: r for r in data["rows"]}
    assert by_id["R1"] == {
        "rating_id": "R1", "source": "test", "assessTime": "2024-05-06 09:30:00", "areacode": "370213",
        "windowCode": "LC01", "pf": 3, "pfName": "二维码", "taskCode": "XK01", "satisfaction": 2,
        "satisfactionName": "不满意", "projectNo": "P001", "assessNumber": 1,
        "writingEvaluation": f"{CALC} 请回电138****5678", "mobile_masked": "138****5678", "anonymous": 0,
        "staff_code": "LC-S01", "problems": ["C1", "D1"], "scores": {"C1": 2, "D1": 1}, "excluded": None,
        "excluded_at": None}
    assert by_id["R4"]["writingEvaluation"] == "@SUM(A1:A9) <script>alert(1)</script>"
    assert (by_id["R4"]["satisfaction"], by_id["R4"]["pf"], by_id["R4"]["excluded"]) == (1, 7, "appeal_upheld")
    assert (by_id["R2"]["satisfaction"], by_id["R2"]["pf"]) == (5, 1)


def test_out_dash_is_standard_output_not_a_file_named_dash(run, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = ok(run("ratings", "--out", "-"))
    header, rows = _csv(result.stdout)
    assert header[0] == "rating_id" and sorted(r["rating_id"] for r in rows) == ["R1", "R2", "R3", "R4", "R5"]
    assert result.stderr == ""
    assert list(here.iterdir()) == []
    refused = run("ratings", "--format", "xlsx", "--out", "-")
    assert refused.exit_code == 1 and list(here.iterdir()) == []


def test_national_headers_are_what_the_platform_profile_reads():
    platform = load_profile("platform")
    mapped = {h: platform.field_for(h) for h in NATIONAL_HEADER}
    assert mapped == {
        "rating_id": "rating_id", "source": None, "assessTime": "rated_at", "areacode": "county_code",
        "windowCode": "window_code", "pf": "channel", "pfName": None, "taskCode": "item_code",
        "satisfaction": "level", "satisfactionName": None, "projectNo": "case_no", "assessNumber": "rating_round",
        "writingEvaluation": "comment", "mobile_masked": None, "anonymous": "anonymous",
        "staff_code": "staff_code", "problems": "problems", "scores": "scores", "excluded": None,
        "excluded_at": None}


@pytest.mark.parametrize(("profile", "import_profile"), [("national", "platform"), ("canonical", "canonical")])
def test_round_trip_gives_the_same_ratings(run, seeded, blank, tmp_path, profile, import_profile):
    runner = CliRunner()
    original = sqlite3.connect(seeded).execute(f"SELECT {SAME} FROM ratings ORDER BY rating_id").fetchall()
    xlsx, text = tmp_path / "r.xlsx", tmp_path / "r.csv"
    ok(run("ratings", "--profile", profile, "--out", str(xlsx)))
    ok(run("ratings", "--profile", profile, "--out", str(text)))
    for path, source in ((xlsx, "from-xlsx"), (text, "from-csv")):
        result = runner.invoke(app, ["--db", str(blank), "import", str(path), "--profile", import_profile,
                                     "--source", source, "--format", "json"])
        ok(result)
        summary = json.loads(result.stdout)[0]
        assert (summary["accepted"], summary["rejected"]) == (5, 0)
    back = sqlite3.connect(blank)
    # The same ratings, except that the phone number written in R1's comment was masked on the way out.
    comment = SAME.split(", ").index("comment")
    masked = {f"{CALC} 请回电13812345678": f"{CALC} 请回电138****5678"}
    original = [r[:comment] + (masked.get(r[comment], r[comment]),) + r[comment + 1:] for r in original]
    from_xlsx = back.execute(f"SELECT {SAME} FROM ratings WHERE source = 'from-xlsx' ORDER BY rating_id").fetchall()
    assert from_xlsx == original  # exact, formula-like comments included
    # CSV: the same, except that a comment starting like a formula keeps its protecting apostrophe.
    expected = [r[:comment] + (("'" + r[comment]) if r[comment].startswith(FORMULA) else r[comment],) + r[comment + 1:]
                for r in original]
    from_csv = back.execute(f"SELECT {SAME} FROM ratings WHERE source = 'from-csv' ORDER BY rating_id").fetchall()
    assert from_csv == expected
    # The masked phones are not read back as phones; the masked comment number stays masked.
    assert back.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0


def test_period_and_county_filters(run):
    def ids(*args, operator="city"):
        return [r["rating_id"] for r in _csv(ok(run("ratings", *args, operator=operator)).stdout)[1]]

    assert ids("--period", "2024-05") == ["R1", "R5", "R4", "R2"]
    assert ids("--period", "2024-06") == ["R3"]
    assert ids("--period", "2024-05-06") == ["R1"]
    assert ids("--from", "2024-05-07", "--to", "2024-05-20") == ["R5", "R4", "R2"]
    assert ids("--county", "370202") == ["R4"]
    assert ids("--county", "370213", "--period", "2024-Q2") == ["R1", "R5", "R2", "R3"]
    assert ids(operator="county:370213") == ["R1", "R5", "R2", "R3"]  # a county sees its own only
    assert ids("--period", "2023") == []
    # Cases: one per bad review (R1 in 370213, R4 in 370202), filtered the same way.
    data = json.loads(ok(run("cases", "--format", "json", "--county", "370213")).stdout)
    assert [(r["rating_id"], r["county_code"], r["state"], r["rater_phone_masked"]) for r in data["rows"]] == [
        ("R1", "370213", "new", "138****5678")]
    data = json.loads(ok(run("cases", "--format", "json", "--period", "2024-05", "--status", "open")).stdout)
    assert [r["rating_id"] for r in data["rows"]] == ["R1", "R4"]
    assert data["status"] == "open" and data["period"] == {"label": "2024-05", "from": "2024-05-01",
                                                            "to": "2024-05-31"}
    assert json.loads(ok(run("cases", "--format", "json", "--period", "2024-06")).stdout)["rows"] == []


@pytest.mark.parametrize(("args", "operator", "message"), [
    (["ratings", "--format", "xlsx"], "city",
     "xlsx is written to a file only (give --out FILE.xlsx, or use --format csv or json)"),
    (["ratings", "--profile", "gb"], "city",
     "export profile 'gb' is not known (use canonical (haocha's field names) or national "
     "(GB/T 39046 / provincial platform fields))"),
    (["ratings", "--format", "pdf"], "city", "export format 'pdf' is not known (use csv, xlsx, json)"),
    (["ratings", "--period", "2024-13"], "city",
     "period '2024-13' has no month 13 (write a month 2024-05, a quarter 2024-Q2, a year 2024, a day 2024-05-06, "
     "or --from/--to dates)"),
    (["cases", "--period", "May"], "city",
     "period 'May' is not understood (write a month 2024-05, a quarter 2024-Q2, a year 2024, a day 2024-05-06, "
     "or --from/--to dates)"),
    (["ratings", "--from", "2024-05-01"], "city", "--from and --to go together (give both dates)"),
    (["ratings", "--from", "2024-05-31", "--to", "2024-05-01"], "city", "--from 2024-05-31 is after --to 2024-05-01 "
                                                                        "(swap the dates)"),
    (["ratings", "--county", "999999"], "city",
     "county 999999 does not exist (known counties: 370202 市南区, 370203 市北区, 370211 黄岛区, 370212 崂山区,"
     " 370213 李沧区, 370214 城阳区, 370215 即墨区, 370281 胶州市, 370283 平度市, 370285 莱西市)"),
    (["ratings", "--county", "370202"], "county:370213",
     "county:370213 may export the data of county 370213 only, not of 370202 "
     "(leave out --county: a county sees its own county's data)"),
    (["cases", "--status", "lost"], "city",
     "status lost is not known (use open, resolved, all, or states: new, rectifying, awaiting_approval, appealed, "
     "reopened, closed, unrectifiable, no_action, rerated, excluded)"),
])
def test_bad_input_is_refused_with_a_reason(run, args, operator, message):
    result = run(*args, operator=operator)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {message}"
    assert result.stdout == ""


def test_unwritable_output_leaves_nothing(run, tmp_path):
    out = tmp_path / "missing" / "r.csv"
    result = run("ratings", "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: cannot write {out}: folder {out.parent} does not exist "
                                     "(create the folder first)")
    assert not out.parent.exists()


def test_control_characters_and_excel_row_limit(run, seeded, tmp_path, monkeypatch):
    _import(seeded, [{"rating_id": "R9", "rated_at": "2024-05-08 10:00:00", "window_code": "LC01",
                      "channel": "二维码", "level": "满意", "comment": "a\x07b\x00c"}], source="other")
    # Control characters are shown as visible escapes in xlsx (XML cannot hold them) and CSV cells; JSON keeps
    # the value exact, written with \u escapes (tests/test_control_chars.py).
    out = tmp_path / "r.xlsx"
    ok(run("ratings", "--period", "2024-05-08", "--out", str(out)))
    assert [r[11] for r in load_workbook(out)["ratings"].iter_rows(min_row=2, values_only=True)] == ["a\\x07b\\x00c"]
    assert "a\\x07b\\x00c" in ok(run("ratings", "--period", "2024-05-08")).stdout
    assert json.loads(ok(run("ratings", "--period", "2024-05-08", "--format", "json")).stdout)["rows"][0][
        "comment"] == "a\x07b\x00c"
    # More rows than an Excel sheet holds: refused before anything is written.
    import haocha_cli.exports

    monkeypatch.setattr(haocha_cli.exports, "XLSX_MAX_ROWS", 5)
    out = tmp_path / "all.xlsx"
    result = run("ratings", "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: 6 ratings do not fit in one xlsx sheet (at most 5 rows) (export a shorter "
                                     "period (--period, --from/--to), or use --format csv or json)")
    assert not out.exists() and not (tmp_path / "all.xlsx.part").exists()
    ok(run("ratings", "--period", "2024-05", "--county", "370213", "--out", str(out)))  # 4 rows fit


def test_case_free_text_has_its_phone_numbers_masked(run, seeded):
    from haocha_cli import cases

    ctx = open_context(seeded, "county:370213")
    (case_id,) = ctx.db.execute("SELECT c.id FROM cases c JOIN ratings r ON r.id = c.rating_id"
                                " WHERE r.rating_id = 'R1'").fetchone()
    cases.revisit(ctx, case_id, "reached", "回访 138-1234-5678, 家里座机 0532-88886666")
    cases.classify(ctx, case_id, "rectifiable")
    cases.close(ctx, case_id, "=1+1 培训", "张三 13900001111")
    ctx.db.close()
    result = ok(run("cases", "--format", "csv", "--county", "370213"))
    _no_phone(result.stdout.encode())
    _, rows = _csv(result.stdout)
    assert [(r["state"], r["revisit_note"], r["measures"], r["responsible"], r["comment"]) for r in rows] == [
        ("closed", "回访 138****5678, 家里座机 0532****6666", "'=1+1 培训", "张三 139****1111",
         f"'{CALC} 请回电138****5678")]
