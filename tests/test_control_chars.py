"""Control characters are shown, never obeyed (issue 17): ESC, BEL, CSI and the bidi overrides in a comment
sent through the rating page or imported by file, in a window name from `org import`, in a `--source` or a
QR token, reach no terminal, Markdown, CSV or .xlsx output raw: each is a visible escape (``\\x1b``,
``\\u202e``); JSON writes them as ``\\u`` escapes and reads back exactly; the database keeps them as
received."""

from __future__ import annotations

import json
import sqlite3
import zipfile

import pytest
from import_support import HEADER, good, write_csv
from openpyxl import load_workbook
from support import ok
from test_serve import NOW, make_client, rate

# Sets the terminal's title, clears the screen, turns the text red.
HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x1b[31mRED"
# Reverses what follows on screen (U+202E), and an 8-bit CSI (U+009B) that many terminals obey like ESC [.
BIDI = "排队\u202e太久了\x9b2J"
TOKEN = "\x1b[2Jtoken"
SOURCE = "渠道\x1b[2J"
WINDOW_NAME = "新窗口\x1b]0;PWNED\x07\u202e"
RAW = {"ESC": "\x1b", "BEL": "\x07", "CSI": "\x9b", "RLO": "\u202e"}


def raw_controls(text: str) -> list[str]:
    return [name for name, char in RAW.items() if char in text]


@pytest.fixture
def bureau(db_path, cli, tmp_path, monkeypatch):
    """Case 1: a bad review with HOSTILE from the rating page. Batch 2 (source SOURCE): case 2, a bad review
    with BIDI and a QR token that does not verify (a bad_token flag), and a rejected row holding HOSTILE."""
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    page = rate(make_client(db_path), db_path, level="非常不满意", comment=HOSTILE, phone="138 1234 5678")
    assert page.status_code == 200, page.text
    header = [*HEADER, "二维码令牌"]
    rows = [[*good(1, level="不满意", comment=BIDI, channel="二维码"), TOKEN],
            [*good(2, level="很好", comment=HOSTILE), ""]]
    path = write_csv(tmp_path / "hostile.csv", rows, header=header)
    summary = json.loads(ok(cli("import", str(path), "--source", SOURCE, "--format", "json")).stdout)[0]
    assert (summary["batch"], summary["accepted"], summary["rejected"], summary["cases_opened"]) == (2, 1, 1, 1)
    assert summary["flags_raised"] >= 1
    return tmp_path


def test_the_database_keeps_the_text_as_received(bureau, db_path):
    conn = sqlite3.connect(db_path)
    assert [c for (c,) in conn.execute("SELECT comment FROM ratings ORDER BY id")] == [HOSTILE, BIDI]
    assert conn.execute("SELECT source FROM batches WHERE id = 2").fetchone()[0] == SOURCE
    assert conn.execute("SELECT qr_token FROM ratings WHERE comment = ?", [BIDI]).fetchone()[0] == TOKEN
    assert HOSTILE in conn.execute("SELECT raw FROM rejects").fetchone()[0].encode().decode("unicode_escape")


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_cases_show_and_list_print_escapes_never_the_controls(bureau, cli, fmt):
    for case, escaped in ((1, "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mRED"), (2, "排队\\u202e太久了\\x9b2J")):
        result = ok(cli("cases", "show", str(case), "--format", fmt))
        assert raw_controls(result.stdout + result.stderr) == []
        assert escaped in result.stdout
    listed = ok(cli("cases", "list", "--format", fmt))
    assert raw_controls(listed.stdout + listed.stderr) == [] and "LC01" in listed.stdout


def test_json_writes_the_controls_as_escapes_and_reads_back_exactly(bureau, cli):
    for case, comment, escaped in ((1, HOSTILE, "\\u001b]0;PWNED\\u0007\\u001b[2J"), (2, BIDI, "\\u202e太久了\\u009b")):
        text = ok(cli("cases", "show", str(case), "--format", "json")).stdout
        assert raw_controls(text) == [] and escaped in text
        assert json.loads(text)["rating"]["comment"] == comment
    text = ok(cli("cases", "list", "--format", "json")).stdout
    assert raw_controls(text) == [] and len(json.loads(text)) == 2


def test_exports_show_escapes_in_csv_and_xlsx_and_exact_json(bureau, cli, tmp_path):
    csv_text = ok(cli("export", "ratings")).stdout
    assert raw_controls(csv_text) == []
    assert "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mRED" in csv_text and "排队\\u202e太久了\\x9b2J" in csv_text
    json_text = ok(cli("export", "ratings", "--format", "json")).stdout
    assert raw_controls(json_text) == [] and "\\u202e" in json_text
    assert [r["comment"] for r in json.loads(json_text)["rows"]] == [BIDI, HOSTILE]  # by rating time
    out = tmp_path / "ratings.xlsx"
    ok(cli("export", "ratings", "--out", str(out)))
    with zipfile.ZipFile(out) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    assert raw_controls(xml) == []
    sheet = load_workbook(out)["ratings"]
    rows = list(sheet.iter_rows(values_only=True))
    comments = [r[rows[0].index("comment")] for r in rows[1:]]
    assert comments == ["排队\\u202e太久了\\x9b2J", "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mRED"]


def test_the_daily_report_shows_escapes_in_markdown_and_html(bureau, cli, tmp_path):
    ok(cli("report", "daily", "--date", "2024-05-06", "--out", str(tmp_path / "reports"), "--quiet"))
    md = (tmp_path / "reports" / "daily-2024-05-06.md").read_text(encoding="utf-8")
    assert raw_controls(md) == []
    # Markdown doubles the backslash of the escape: the rendered report reads \x1b]0;PWNED\x07…
    assert "\\\\x1b\\]0;PWNED\\\\x07\\\\x1b\\[2J\\\\x1b\\[31mRED" in md and "排队\\\\u202e太久了\\\\x9b2J" in md
    html = (tmp_path / "reports" / "daily-2024-05-06.html").read_text(encoding="utf-8")
    assert raw_controls(html) == [] and "\\x1b]0;PWNED\\x07" in html and "排队\\u202e太久了" in html


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_flags_list_shows_the_token_escaped(bureau, cli, fmt):
    result = ok(cli("flags", "list", "--format", fmt))
    assert raw_controls(result.stdout + result.stderr) == []
    assert ("\\u001b[2Jtoken" if fmt == "json" else "\\x1b[2Jtoken") in result.stdout
    if fmt == "json":
        assert [f["evidence"]["qr_token"] for f in json.loads(result.stdout) if f["rule"] == "bad_token"] == [TOKEN]


def test_the_rejects_file_shows_escapes(bureau, cli, tmp_path):
    out = tmp_path / "rejects.csv"
    ok(cli("batches", "rejects", "2", "--out", str(out)))
    text = out.read_text(encoding="utf-8-sig")
    assert raw_controls(text) == [] and "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mRED" in text and "很好" in text
    listed = ok(cli("batches", "rejects", "2"))  # the row's cells, one after the other, escaped the same way
    assert raw_controls(listed.stdout) == [] and "\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mRED" in listed.stdout


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_source_with_esc_is_shown_escaped(bureau, cli, fmt):
    for args in (("batches", "list"), ("batches", "show", "2")):
        result = ok(cli(*args, "--format", fmt))
        assert raw_controls(result.stdout + result.stderr) == []
        assert ("渠道\\u001b[2J" if fmt == "json" else "渠道\\x1b[2J") in result.stdout


def test_the_import_summary_shows_the_source_and_file_name_escaped(db_path, cli, tmp_path):
    path = write_csv(tmp_path / "a\x1b[2J.csv", [good(1)])
    result = ok(cli("import", str(path), "--source", SOURCE))
    assert raw_controls(result.stdout + result.stderr) == []
    assert "渠道\\x1b[2J" in result.stdout and "a\\x1b[2J.csv" in result.stdout


def test_window_names_from_org_import_are_shown_escaped(db_path, cli, tmp_path):
    windows = tmp_path / "windows.csv"
    windows.write_text(f"区县局,行政区划代码,窗口编码,窗口名称,窗口类型\n李沧区,370213,LC09,{WINDOW_NAME},实体窗口\n",
                       encoding="utf-8")
    imported = ok(cli("org", "import", str(windows)))
    assert raw_controls(imported.stdout + imported.stderr) == []
    for fmt in ("table", "csv"):
        shown = ok(cli("org", "show", "--part", "windows", "--format", fmt)).stdout
        assert raw_controls(shown) == [] and "新窗口\\x1b]0;PWNED\\x07\\u202e" in shown
    shown = ok(cli("org", "show", "--part", "windows", "--format", "json")).stdout
    assert raw_controls(shown) == [] and WINDOW_NAME in [w["name"] for w in json.loads(shown)]
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT name FROM windows WHERE code = 'LC09'").fetchone()[0] == WINDOW_NAME


def test_an_error_that_quotes_a_value_shows_its_controls(cli, tmp_path):
    missing = tmp_path / "gone\x1b[2J.csv"
    result = cli("import", str(missing))
    assert result.exit_code == 1
    assert raw_controls(result.stderr) == [] and "gone\\x1b[2J.csv" in result.stderr
    result = cli("export", "ratings", "--county", "\x1b]0;PWNED\x07")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and raw_controls(result.stderr) == []
    assert "\\x1b]0;PWNED\\x07" in result.stderr
