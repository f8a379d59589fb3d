"""Hostile rating files (hypothesis): random and adversarial rows in every format the importer reads — wrong
types, huge fields, control characters, mixed encodings, broken quoting, formulas, HTML, emoji, Excel date
serials, duplicate and near-duplicate ids. Whatever comes in, `haocha import` ends with exit 0 or a one-line
`Error:` (never a traceback); every row read is accepted, a duplicate or rejected with a reason, the three add
up; the database holds exactly what the summary says; and an accepted rating's comment reads back from the
ratings table exactly as the file held it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from import_support import HEADER, NOW
from typer.testing import CliRunner

from haocha_cli.bootstrap import init_database
from haocha_cli.cli import app
from haocha_cli.spreadsheet import make_text, xlsx_text

runner = CliRunner()

ADVERSARIAL = [
    "=cmd|' /C calc'!A0", "+1+1", "-2-3", "@SUM(A1:A9)", "\t=1", "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>', "{{ 7*7 }}", "{% raw %}", "'; DROP TABLE ratings; --", "O'Brien \"quoted\"",
    "line\nbreak", "cr\ronly", "crlf\r\nend", "tab\tin", "emoji 👍🏽 𠮷野家", "\u202eRTL override", "\x07bell\x1b[31mred",
    "中文，逗号,comma;semicolon", "45418.39", "3.70E+21", " padded ", "   ", "", "\ufeffBOM inside", "x" * 3000,
    "[red]rich markup[/red]", "a\u2028b\u0085c", "NUL\x00inside", "13812345678",
]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
ANY_TEXT = st.one_of(st.sampled_from(ADVERSARIAL), TEXT)

FIELDS = {
    "评价编号": st.one_of(st.sampled_from(["R1", "R2", "R3", "R1 ", " R1", "r1", "Ｒ１", "R1\u200b", "", "3.70E+21",
                                           "=1+1", "<b>R4</b>", "R'5", 'R"6']), TEXT),
    "评价时间": st.one_of(st.sampled_from([
        "2024-05-06 09:30:00", "2024/5/6 9:31", "2024-05-06T09:32:00+08:00", "20240506093300", "2024年5月6日 9:34",
        "45418.39", "2025-06-01 10:00:00", "2024-02-30 10:00:00", "2024-05-06", "yesterday", ""]), TEXT),
    "窗口编码": st.one_of(st.sampled_from(["LC01", "LC02", "LCWS", "SN01", "lc01", "QD99", "", " LC01 "]), TEXT),
    "评价渠道": st.one_of(st.sampled_from(["窗口评价器", "二维码", "短信评价", "网上评价", "PC端", "电话", ""]), TEXT),
    "事项编码": st.one_of(st.sampled_from(["XK01", "XK02", "", "XK99", "烟草专卖零售许可证新办"]), TEXT),
    "满意度": st.one_of(st.sampled_from(["非常满意", "满意", "基本满意", "不满意", "非常不满意", "很好", "4", "6", ""]), TEXT),
    "办件编号": st.one_of(st.sampled_from(["BJ1", "", "3.70E+21"]), TEXT),
    "评价次数": st.sampled_from(["", "1", "2", "3", "追评", "x"]),
    "文字评价": ANY_TEXT,
    "联系电话": st.one_of(st.sampled_from(["", "13812345678", "138 1234 5678", "+8613912345678", "0532-88886666",
                                           "12345", "1.38E+10", "电话"]), TEXT),
    "是否匿名": st.sampled_from(["", "是", "否", "maybe", "1"]),
    "工作人员": st.one_of(st.sampled_from(["", "LC-S01", "<i>x</i>"]), TEXT),
    "差评问题": st.one_of(st.sampled_from(["", "C1", "办理时限、C2", "ZZ"]), TEXT),
    "着装规范": st.sampled_from(["", "5", "1", "0", "6", "x", "4.0"]),
    "服务规范": st.sampled_from(["", "3", "9"]),
    "办理时限": st.sampled_from(["", "2"]),
    "网办便捷": st.sampled_from(["", "5"]),
}
assert list(FIELDS) == HEADER
# Values that pass (offline windows): a row starts valid, then a few of its cells are replaced by anything.
VALID = {
    "评价编号": ["R1", "R2", "R3", "R4", "R5", "R1 ", "r1", "Ｒ１"], "评价时间": ["2024-05-06 09:30:00", "2024/5/6 9:31",
    "2024-05-06T01:32:00Z", "20240506093300", "2024年5月6日 9时34分"], "窗口编码": ["LC01", "LC02", "SN01", "HD01", "lc01"],
    "评价渠道": ["二维码", "窗口评价器", "短信评价"], "事项编码": ["XK01", "XK02", ""], "满意度": ["非常满意", "满意", "基本满意",
    "不满意", "非常不满意"], "办件编号": ["", "BJ1"], "评价次数": ["", "1", "2"], "文字评价": [""],
    "联系电话": ["", "13812345678", "138 1234 5678", "0532-88886666"], "是否匿名": ["", "是", "否"],
    "工作人员": ["", "LC-S01"], "差评问题": ["", "C1", "办理时限、C2"], "着装规范": ["", "5", "1"], "服务规范": ["", "3"],
    "办理时限": ["", "2"], "网办便捷": [""],
}
# JSON carries wrong types too: numbers, booleans, null, lists and objects where text is expected.
WRONG_TYPE = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["a", "b"]), st.integers()))


@st.composite
def rows_of(draw, wrong_types: bool = False):
    row = {k: draw(st.sampled_from(v)) for k, v in VALID.items()}
    row["文字评价"] = draw(st.one_of(ANY_TEXT, WRONG_TYPE) if wrong_types else ANY_TEXT)
    for key in draw(st.lists(st.sampled_from(HEADER), max_size=3)):
        row[key] = draw(st.one_of(FIELDS[key], WRONG_TYPE) if wrong_types else FIELDS[key])
    return row


ROW = rows_of()
JSON_ROW = rows_of(wrong_types=True)
FORMATS = ["csv-utf-8", "csv-utf-8-sig", "csv-gb18030", "csv-utf-16", "csv-tab", "jsonl", "json", "xlsx"]
DAMAGE = ["none", "none", "none", "truncate", "stray-quote", "gb18030-line", "bad-bytes"]
_BREAK = re.compile(r"\r\n|\r|\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "haocha.db"
    init_database(path)
    return path


def _copy_db(template: Path, folder: Path) -> Path:
    db = folder / "haocha.db"
    shutil.copy(template, db)
    shutil.copy(str(template) + ".key", str(db) + ".key")
    return db


# --- writers: the file, and where each row starts (the line the importer records) ---------------------


def _write_csv(path: Path, rows: list[dict], encoding: str, delimiter: str = ",") -> dict[int, dict]:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    at: dict[int, dict] = {}
    for row in rows:
        at[1 + len(_BREAK.findall(buffer.getvalue()))] = row
        writer.writerow([row[h] for h in HEADER])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return at


def _write_jsonl(path: Path, rows: list[dict], ascii_only: bool) -> dict[int, dict]:
    path.write_text("".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in rows), encoding="utf-8")
    return dict(enumerate(rows, 1))


def _write_json(path: Path, rows: list[dict], ascii_only: bool) -> dict[int, dict]:
    path.write_text(json.dumps(rows, ensure_ascii=ascii_only, indent=1), encoding="utf-8")
    return dict(enumerate(rows, 1))


def _write_xlsx(path: Path, rows: list[dict], serial: bool) -> dict[int, dict]:
    """Cells as a spreadsheet holds them: text (formula-looking text stays text), an Excel serial number for
    the time when ``serial``; each row's comment as the file holds it (XML turns \\r into \\n) is read back."""
    from openpyxl import Workbook, load_workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r, row in enumerate(rows, 2):
        for c, header in enumerate(HEADER, 1):
            value = row[header]
            if header == "评价时间" and serial and value == "2024-05-06 09:30:00":
                ws.cell(row=r, column=c, value=45418.395833333336)
                continue
            if not isinstance(value, str):  # a serial number read back from an earlier file
                ws.cell(row=r, column=c, value=value)
                continue
            make_text(ws.cell(row=r, column=c, value=xlsx_text(value) if value else None))
    wb.save(path)
    at: dict[int, dict] = {}
    book = load_workbook(path, read_only=True)
    for number, values in enumerate(book.active.iter_rows(min_row=2, values_only=True), 2):
        at[number] = dict(zip(HEADER, ["" if v is None else v for v in values], strict=False))
    book.close()
    return at


def _damage(path: Path, how: str, where: int) -> None:
    data = path.read_bytes()
    cut = 1 + where % max(1, len(data) - 1)
    if how == "truncate":
        data = data[:cut]
    elif how == "stray-quote":
        data = data[:cut] + b'"' + data[cut:]
    elif how == "gb18030-line":
        data = data + "G1,2024-05-06 09:30:00,LC01,二维码,,满意,,,混合编码\r\n".encode("gb18030")
    elif how == "bad-bytes":
        data = data[:cut] + b"\xff\xfe\x80" + data[cut:]
    path.write_bytes(data)


def write_file(folder: Path, fmt: str, rows: list[dict], *, ascii_only: bool = False,
               serial: bool = False) -> tuple[Path, dict[int, dict]]:
    if fmt.startswith("csv"):
        path = folder / "ratings.csv"
        if fmt == "csv-tab":
            return path, _write_csv(path, rows, "utf-8", "\t")
        return path, _write_csv(path, rows, fmt[4:])
    if fmt == "jsonl":
        path = folder / "ratings.jsonl"
        return path, _write_jsonl(path, rows, ascii_only)
    if fmt == "json":
        path = folder / "ratings.json"
        return path, _write_json(path, rows, ascii_only)
    path = folder / "ratings.xlsx"
    return path, _write_xlsx(path, rows, serial)


# --- the checks --------------------------------------------------------------------------------------


def run_import(db: Path, path: Path, *extra: str) -> dict | None:
    """The import through the CLI: the summary on success, None after a clean `Error:`; anything else fails."""
    result = runner.invoke(app, ["--db", str(db), "import", str(path), "--format", "json", *extra],
                           env={"HAOCHA_NOW": NOW})
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"crashed: {result.exception!r}\n{result.stderr}"
    if result.exit_code != 0:
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert "Traceback" not in result.stderr and result.stdout.strip() in ("", "[]")
        return None
    [summary] = json.loads(result.stdout)
    return summary


def expected_text(value) -> str:
    """What a JSON value becomes as a comment (the importer's reading of a cell)."""
    from haocha_cli.readers import cell_text

    return cell_text(value)


def check_batch(db: Path, summary: dict, rows_by_line: dict[int, dict] | None, rows_written: int | None) -> None:
    assert summary["status"] == "imported"
    read, accepted, duplicate, rejected = (summary[k] for k in ("rows_read", "accepted", "duplicate", "rejected"))
    assert accepted + duplicate + rejected == read
    assert sum(summary["reasons"].values()) == rejected
    if rows_written is not None:
        assert read == rows_written
    conn = sqlite3.connect(db)
    try:
        batch = summary["batch"]
        assert conn.execute("SELECT rows_read, accepted, duplicate, rejected FROM batches WHERE id = ?",
                            [batch]).fetchone() == (read, accepted, duplicate, rejected)
        assert conn.execute("SELECT count(*) FROM ratings WHERE batch_id = ?", [batch]).fetchone()[0] == accepted
        assert conn.execute("SELECT count(*) FROM rejects WHERE batch_id = ?", [batch]).fetchone()[0] == rejected
        assert conn.execute("SELECT count(*) FROM rejects WHERE batch_id = ? AND (code = '' OR reason = '')",
                            [batch]).fetchone()[0] == 0
        # The aggregates hold every counted rating, no more.
        assert conn.execute("SELECT coalesce(sum(n), 0) FROM daily_agg").fetchone()[0] == \
            conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # The rejected rows can be listed, and given back with their phones (the city), whatever they hold.
        for extra in ((), ("--reveal-phones",)) if rejected else ():
            listed = runner.invoke(app, ["--db", str(db), "batches", "rejects", str(batch), "--format", "json", *extra])
            assert listed.exit_code == 0 and listed.exception is None, (listed.exception, listed.stderr)
            assert len(json.loads(listed.stdout)["rows"]) == rejected
        if rows_by_line is None:
            return
        for rating_id, line, comment in conn.execute(
                "SELECT rating_id, line, comment FROM ratings WHERE batch_id = ?", [batch]):
            sent = rows_by_line[line]
            assert rating_id == expected_text(sent["评价编号"]).strip()
            want = expected_text(sent["文字评价"])
            assert comment == (want or None), (line, comment, want)  # byte for byte, or NULL for no comment
    finally:
        conn.close()


def _rows_in(fmt: str, rows: list[dict], by_line: dict[int, dict]) -> int:
    """Rows the importer reads: every row written, but in a sheet a row with no value at all is no row."""
    if fmt != "xlsx":
        return len(rows)
    return sum(1 for r in by_line.values() if any(v not in ("", None) for v in r.values()))


def import_and_check(template: Path, fmt: str, rows: list[dict], damage: str, where: int, ascii_only: bool,
                     serial: bool, scale: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = _copy_db(template, folder)
        if fmt == "csv-gb18030":
            rows = [{k: v.encode("gb18030", "replace").decode("gb18030") for k, v in r.items()} for r in rows]
        path, by_line = write_file(folder, fmt, rows, ascii_only=ascii_only, serial=serial)
        intact = damage == "none" or fmt == "xlsx"
        if not intact:
            _damage(path, damage, where)
        extra = ("--level-scale", scale) if scale else ()
        summary = run_import(db, path, *extra)
        if summary is None:  # refused as a whole: nothing of it was written
            conn = sqlite3.connect(db)
            assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
            conn.close()
            return
        check_batch(db, summary, by_line if intact else None, _rows_in(fmt, rows, by_line) if intact else None)
        if not intact:
            return
        # A second file re-sending some rows (and new ones): what was stored stays; a re-sent valid row is a
        # duplicate, never accepted twice.
        conn = sqlite3.connect(db)
        stored = dict(conn.execute("SELECT rating_id, comment FROM ratings"))
        again = [by_line[line] for (line,) in conn.execute("SELECT line FROM ratings ORDER BY line")]
        conn.close()
        resent = [dict(r, 文字评价="second copy") for r in again] + [dict(r, 评价编号=f"新{i}☃") for i, r in enumerate(rows)]
        (folder / "second").mkdir()
        path2, by_line2 = write_file(folder / "second", fmt, resent, ascii_only=ascii_only, serial=serial)
        summary2 = run_import(db, path2, *extra)
        assert summary2 is not None
        check_batch(db, summary2, by_line2, _rows_in(fmt, resent, by_line2))
        assert summary2["duplicate"] == len(again)
        conn = sqlite3.connect(db)
        try:
            now_stored = dict(conn.execute("SELECT rating_id, comment FROM ratings WHERE batch_id = 1"))
            assert now_stored == stored
        finally:
            conn.close()


SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@SETTINGS
@given(fmt=st.sampled_from(FORMATS), rows=st.lists(ROW, min_size=1, max_size=8), damage=st.sampled_from(DAMAGE),
       where=st.integers(0, 10**6), ascii_only=st.booleans(), serial=st.booleans(),
       scale=st.sampled_from([None, None, "national", "platform"]))
def test_any_tabular_file_is_imported_or_refused_cleanly_and_adds_up(template, fmt, rows, damage, where, ascii_only,
                                                                     serial, scale):
    import_and_check(template, fmt, rows, damage, where, ascii_only, serial, scale)


@SETTINGS
@given(fmt=st.sampled_from(["jsonl", "json"]), rows=st.lists(JSON_ROW, min_size=1, max_size=8),
       damage=st.sampled_from(DAMAGE), where=st.integers(0, 10**6), ascii_only=st.booleans())
def test_json_with_wrong_types_is_imported_or_refused_cleanly(template, fmt, rows, damage, where, ascii_only):
    import_and_check(template, fmt, rows, damage, where, ascii_only, False, None)


@pytest.mark.slow
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(FORMATS), rows=st.lists(ROW, min_size=1, max_size=25), damage=st.sampled_from(DAMAGE),
       where=st.integers(0, 10**6), ascii_only=st.booleans(), serial=st.booleans(),
       scale=st.sampled_from([None, None, "national", "platform"]))
def test_many_more_hostile_files(template, fmt, rows, damage, where, ascii_only, serial, scale):
    import_and_check(template, fmt, rows, damage, where, ascii_only, serial, scale)


# --- the cases a random search finds only by luck -------------------------------------------------------


def _good(rid: str, comment: str) -> dict:
    return dict.fromkeys(HEADER, "") | {"评价编号": rid, "评价时间": "2024-05-06 09:30:00", "窗口编码": "LC01",
                                         "评价渠道": "二维码", "满意度": "满意", "文字评价": comment}


def test_every_adversarial_comment_reads_back_byte_for_byte_in_each_format(template):
    # NUL cannot be in a CSV (the file is refused) nor in XML: it is tested in JSON only.
    comments = [c for c in ADVERSARIAL if c]
    for fmt in ("csv-utf-8", "csv-utf-16", "jsonl", "json"):
        rows = [_good(f"A{i}", c) for i, c in enumerate(comments) if "\x00" not in c or fmt.startswith("json")]
        with tempfile.TemporaryDirectory() as tmp:
            db = _copy_db(template, Path(tmp))
            path, by_line = write_file(Path(tmp), fmt, rows)
            summary = run_import(db, path)
            assert (summary["accepted"], summary["rejected"]) == (len(rows), 0), summary["first_rejects"]
            check_batch(db, summary, by_line, len(rows))


def test_a_huge_comment_is_kept_whole_and_an_oversized_cell_rejects_its_row_only(template, tmp_path):
    db = _copy_db(template, tmp_path)
    rows = [_good("H1", "长" * 200_000), _good("H2", "y" * ((1 << 20) + 10)), _good("H3", "after")]
    path, _ = write_file(tmp_path, "csv-utf-8", rows)
    summary = run_import(db, path)
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (3, 2, 1)
    assert summary["first_rejects"][0]["line"] == 3 and summary["first_rejects"][0]["code"] == "row_malformed"
    conn = sqlite3.connect(db)
    assert dict(conn.execute("SELECT rating_id, comment FROM ratings")) == {"H1": "长" * 200_000, "H3": "after"}


def test_a_lone_surrogate_escape_in_json_rejects_the_row_not_the_import(template, tmp_path):
    db = _copy_db(template, tmp_path)
    lines = [json.dumps(_good("S1", "ok 😀")), json.dumps(_good("S2", "x")).replace('"x"', '"half \\ud800 char"'),
             json.dumps(_good("S3", "x")).replace('"x"', '"pair \\ud83d\\ude00"')]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run_import(db, path)
    assert (summary["accepted"], summary["rejected"]) == (2, 1)
    assert summary["first_rejects"] == [{"line": 2, "code": "json_invalid", "reason":
                                         "not valid JSON text (a \\uD800–\\uDFFF escape that is half of a character)"}]
    conn = sqlite3.connect(db)
    assert dict(conn.execute("SELECT rating_id, comment FROM ratings")) == {"S1": "ok 😀", "S3": "pair 😀"}


def test_a_file_name_that_is_not_utf8_is_stored_readably(template, tmp_path):
    db = _copy_db(template, tmp_path)
    path, _ = write_file(tmp_path, "csv-utf-8", [_good("N1", "")])
    odd = tmp_path / "ratings-\udcff\udcfe.csv"  # the bytes ff fe in the name, as the file system holds them
    path.rename(odd)
    summary = run_import(db, odd)
    assert summary["accepted"] == 1 and summary["file"] == "ratings-\ufffd\ufffd.csv"


def test_near_duplicate_ids_are_told_apart_and_exact_ones_are_not(template, tmp_path):
    db = _copy_db(template, tmp_path)
    ids = ["R1", "R1 ", " R1", "r1", "Ｒ１", "R1\u200b", "R1"]
    path, _ = write_file(tmp_path, "csv-utf-8", [_good(rid, str(i)) for i, rid in enumerate(ids)])
    summary = run_import(db, path)
    # Surrounding spaces are not part of an id: "R1 ", " R1" and the last "R1" repeat the first.
    assert (summary["accepted"], summary["rejected"], summary["reasons"]) == (4, 3, {"duplicate_in_file": 3})
    conn = sqlite3.connect(db)
    assert sorted(conn.execute("SELECT rating_id, comment FROM ratings")) == sorted(
        [("R1", "0"), ("r1", "3"), ("Ｒ１", "4"), ("R1\u200b", "5")])


def _zip_without_workbook(path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "hello")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "Error: empty.csv is empty"),
    ("bom.csv", b"\xef\xbb\xbf", "Error: bom.csv is empty"),
    ("header.csv", "评价编号,评价时间,窗口编码,评价渠道,满意度\r\n".encode(), "Error: header.csv has a header but no rows"),
    ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "Error: image.csv holds NUL bytes"),
    ("latin.csv", "评价编号,满意度\n".encode() + b"\xff\xfe\xfa\n" * 3, "Error: latin.csv is neither UTF-8 nor GB18030 text (line 2 does not decode)"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "Error: old.xls is an old Excel 97-2003 workbook"),
    ("fake.xlsx", None, "Error: fake.xlsx cannot be read as an Excel workbook"),
    ("scalar.json", b"[1, 2, 3]", None),
    ("deep.json", ("[" + "[" * 100_000 + "]" * 100_000 + "]").encode(),
     "Error: deep.json: not valid JSON (arrays or objects nested too deeply) at line 1 column 2"),
    ("open.json", b'[{"a": 1},', "Error: open.json: the array is not closed"),
])
def test_files_that_are_no_rating_files_are_refused_in_one_line(template, tmp_path, name, content, message):
    db = _copy_db(template, tmp_path)
    path = tmp_path / name
    if content is None:
        _zip_without_workbook(path)
    else:
        path.write_bytes(content)
    summary = run_import(db, path)
    if message is None:  # a JSON array of numbers: three rows, each rejected with its reason
        assert (summary["rows_read"], summary["rejected"], summary["reasons"]) == (3, 3, {"json_invalid": 3})
        return
    assert summary is None
    result = runner.invoke(app, ["--db", str(db), "import", str(path)], env={"HAOCHA_NOW": NOW})
    assert result.stderr.startswith(message), result.stderr


def test_a_json_line_nested_too_deeply_rejects_that_line_only(template, tmp_path):
    db = _copy_db(template, tmp_path)
    path = tmp_path / "deep.jsonl"
    deep = '{"评价编号": "D2", "文字评价": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}"
    path.write_text(json.dumps(_good("D1", "fine")) + "\n" + deep + "\n", encoding="utf-8")
    summary = run_import(db, path)
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    assert summary["first_rejects"] == [{"line": 2, "code": "json_invalid",
                                         "reason": "not valid JSON (arrays or objects nested too deeply)"}]


def test_hostile_column_names_are_printed_as_text(template, tmp_path):
    # Columns the profile does not know are ignored and named in the summary table: markup, control
    # characters and a very long name are shown as they are, not run by the terminal table.
    db = _copy_db(template, tmp_path)
    odd = ["[red]红[/red]", "\x1b[31mansi", "=cmd|' /C calc'!A0", "长" * 300]
    path = tmp_path / "odd.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*HEADER, *odd])
        writer.writerow([*_good("O1", "ok").values(), "a", "b", "c", "d"])
    result = runner.invoke(app, ["--db", str(db), "import", str(path)], env={"HAOCHA_NOW": NOW})
    assert result.exit_code == 0 and result.exception is None, result.stderr
    flat = result.stdout.replace("│", "").replace("\n", "").replace(" ", "")
    assert "[red]红[/red]" in flat and "=cmd|'/Ccalc'!A0" in flat
    conn = sqlite3.connect(db)
    assert json.loads(conn.execute("SELECT ignored_columns FROM batches").fetchone()[0]) == odd
