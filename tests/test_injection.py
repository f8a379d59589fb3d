"""Comments and names are data (DOMAIN §7: a report shows them, never runs them). From a database whose
catalogue names and rating comments hold <script>, "><img onerror=…>, {{ 7*7 }}, SQL quotes and spreadsheet
formulas: HTML escapes them, Markdown lets no raw HTML through, CSV cells that a spreadsheet would run start
with an apostrophe, .xlsx cells are text (never a formula), the cases sheet likewise, and SQL takes them as
parameters (the text is stored and read back as it was, the tables stay).
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import warnings
import zipfile
from pathlib import Path

import pytest
from reliability_support import COUNTY, FORMULA, IMG, NOW, SCRIPT, SQL, TEMPLATE, build

from haocha_cli import qr_tokens
from haocha_cli.bootstrap import init_database
from haocha_cli.privacy import load_keys
from haocha_cli.spreadsheet import FORMULA_PREFIXES
from haocha_cli.web import app as web_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

COUNTY_OP = f"county:{COUNTY}"


@pytest.fixture(scope="module")
def bureau(tmp_path_factory):
    folder = tmp_path_factory.mktemp("injection")
    init_database(folder / "haocha.db")
    return build(folder / "haocha.db", folder)


@pytest.fixture(scope="module")
def reports(bureau, tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reports")
    bureau.run("report", "daily", "--date", "2024-05-06", "--out", str(out))
    bureau.run("report", "monthly", "--month", "2024-05", "--out", str(out))
    bureau.run("report", "county", "--county", COUNTY, "--period", "2024-05", "--out", str(out))
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())}


def test_html_reports_escape_every_hostile_text(reports):
    html = {name: text for name, text in reports.items() if name.endswith(".html")}
    assert len(html) == 3
    for name, text in html.items():
        assert "<script" not in text and "<img" not in text and "onerror=alert(1)>" not in text, name
        # The bureau's name (in every title) shows, escaped.
        assert "青岛市烟草专卖局&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text, name
    daily = html["daily-2024-05-06.html"]
    # The comments of the day's bad reviews, as text.
    assert "<td>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</td>" in daily
    assert "<td>{{ 7*7 }} 座机0532****0004</td>" in daily  # template syntax in data is not evaluated
    assert "<td>&#39;; DROP TABLE ratings; --</td>" in daily
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;县" in html["monthly-2024-05.html"]


def test_markdown_reports_let_no_raw_html_through(reports):
    md = {name: text for name, text in reports.items() if name.endswith(".md")}
    assert len(md) == 3
    for name, text in md.items():
        assert "<script" not in text and "<img" not in text, name
        assert "青岛市烟草专卖局&lt;script&gt;alert('x')&lt;/script&gt;" in text.split("\n## ")[0], name
    daily = md["daily-2024-05-06.md"]
    assert "| \"&gt;&lt;img src=x onerror=alert(1)&gt; |" in daily
    assert "| {{ 7\\*7 }} 座机0532\\*\\*\\*\\*0004 |" in daily


def test_the_public_report_escapes_the_names_and_its_csv_runs_nothing(bureau, tmp_path):
    out = tmp_path / "public"
    bureau.run("report", "public", "--month", "2024-05", "--by", "window", "--out", str(out))
    html = (out / "public-window-2024-05.html").read_text(encoding="utf-8")
    md = (out / "public-window-2024-05.md").read_text(encoding="utf-8")
    cells = _cells((out / "public-window-2024-05.csv").read_text(encoding="utf-8-sig"))
    assert "<script" not in html and "<img" not in html
    assert "青岛市烟草专卖局&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;县</td>" in html
    assert "<td>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</td>" in html  # the window's name, as text
    assert "<script" not in md and "<img" not in md and "| \"&gt;&lt;img src=x onerror=alert(1)&gt; |" in md
    assert IMG in cells and f"{SCRIPT}县" in cells and [c for c in cells if _runnable(c)] == []


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _runnable(cell: str) -> bool:
    """A cell a spreadsheet program would run as a formula."""
    if not cell.startswith(FORMULA_PREFIXES):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def test_csv_files_and_listings_keep_formulas_as_text(bureau, tmp_path):
    texts = {}
    for kind in ("ratings", "cases"):
        for profile in ("canonical", "national"):
            path = tmp_path / f"{kind}-{profile}.csv"
            bureau.run("export", kind, "--profile", profile, "--out", str(path))
            texts[path.name] = path.read_text(encoding="utf-8-sig")
            texts[f"{kind} {profile} stdout"] = bureau.run("export", kind, "--profile", profile, "--format", "csv").stdout
    sheet = tmp_path / "sheet.csv"
    bureau.run("cases", "export", "--format", "csv", "-o", str(sheet), operator=COUNTY_OP)
    texts["cases sheet"] = sheet.read_text(encoding="utf-8-sig")
    rejects = tmp_path / "rejects.csv"
    bureau.run("batches", "rejects", "1", "--out", str(rejects))
    texts["rejects file"] = rejects.read_text(encoding="utf-8-sig")
    for args in (("org", "show", "--part", "items"), ("org", "show", "--part", "staff"), ("cases", "list"),
                 ("batches", "rejects", "1"), ("flags", "list"), ("audit", "log"), ("spotcheck", "list")):
        texts[" ".join(args)] = bureau.run(*args, "--format", "csv").stdout
    runnable = {name: [c for c in _cells(text) if _runnable(c)] for name, text in texts.items()}
    assert {name: cells for name, cells in runnable.items() if cells} == {}
    # The formulas are there, made text by one leading apostrophe.
    assert f"'{FORMULA}" in _cells(texts["ratings-canonical.csv"])
    assert "'-1-cmd" in _cells(texts["rejects file"])[-2:] or "'-1-cmd" in _cells(texts["rejects file"])
    assert f"'{FORMULA}" in _cells(texts["org show --part items"])


def _xlsx_formulas(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return [name for name in z.namelist() if name.startswith("xl/worksheets/") and "<f>" in z.read(name).decode()]


def test_xlsx_files_hold_text_never_a_formula(bureau, tmp_path):
    from openpyxl import load_workbook

    files = []
    for kind in ("ratings", "cases"):
        for profile in ("canonical", "national"):
            files.append(tmp_path / f"{kind}-{profile}.xlsx")
            bureau.run("export", kind, "--profile", profile, "--out", str(files[-1]))
    files.append(tmp_path / "sheet.xlsx")
    bureau.run("cases", "export", "--format", "xlsx", "-o", str(files[-1]), operator=COUNTY_OP)
    for path in files:
        assert _xlsx_formulas(path) == [], path.name
        book = load_workbook(path)  # not data_only: a formula would show as data_type "f"
        cells = [c for ws in book.worksheets for r in ws.iter_rows() for c in r if c.value is not None]
        assert [c.coordinate for c in cells if c.data_type == "f"] == [], path.name
        hostile = [c for c in cells if isinstance(c.value, str) and c.value.startswith(FORMULA_PREFIXES)]
        assert all(c.data_type == "s" and c.quotePrefix for c in hostile), path.name
    ratings = load_workbook(files[0])["ratings"]
    values = [c.value for r in ratings.iter_rows() for c in r]
    assert FORMULA in values  # the value itself is unchanged: an .xlsx round trip is exact


def test_the_cases_sheet_round_trip_keeps_a_formula_as_the_measures_text(bureau, tmp_path):
    # A county fills 整改措施 with text that looks like a formula; applied, it is stored as typed.
    from openpyxl import load_workbook

    path = tmp_path / "sheet.xlsx"
    bureau.run("cases", "export", "--format", "xlsx", "-o", str(path), operator=COUNTY_OP)
    book = load_workbook(path)
    ws = book["整改事项"]
    header = [c.value for c in ws[1]]
    case = bureau.cases[2]  # classified rectifiable by the builder
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == case)
    row[header.index("整改措施")].value = "=HYPERLINK(\"http://x\",\"click\")"
    row[header.index("整改措施")].data_type = "s"
    row[header.index("责任人")].value = SQL
    book.save(path)
    applied = bureau.json("cases", "apply", str(path), operator=COUNTY_OP)
    assert applied["ok"] and applied["applied_rows"] == 1, applied
    shown = bureau.json("cases", "show", str(case))["case"]
    assert (shown["measures"], shown["responsible"], shown["state"]) == ("=HYPERLINK(\"http://x\",\"click\")", SQL,
                                                                          "closed")


def test_sql_takes_hostile_text_as_data(bureau, tmp_path):
    conn = sqlite3.connect(bureau.db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        assert {"ratings", "cases", "audit_events"} <= tables
        assert conn.execute("SELECT comment FROM ratings WHERE rating_id = 'R009'").fetchone()[0] == SQL
        assert conn.execute("SELECT name FROM items WHERE code = 'XK99'").fetchone()[0] == FORMULA
        assert conn.execute("SELECT name FROM staff WHERE code = 'XS-S01'").fetchone()[0] == TEMPLATE
    finally:
        conn.close()
    # A source name is the user's text too: it goes into the ratings as a parameter, not into the SQL.
    source = "x'); DROP TABLE ratings; --"
    path = tmp_path / "one.csv"
    path.write_text("评价编号,评价时间,窗口编码,评价渠道,满意度,文字评价\nQ1,2024-05-07 09:00:00,LC01,二维码,满意,\"a'b\"\"c\"\n",
                    encoding="utf-8")
    [summary] = bureau.json("import", str(path), "--source", source)
    assert summary["accepted"] == 1
    conn = sqlite3.connect(bureau.db)
    try:
        assert conn.execute("SELECT source, comment FROM ratings WHERE rating_id = 'Q1'").fetchone() == (source, "a'b\"c")
        assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == 11
    finally:
        conn.close()


def test_terminal_tables_print_markup_as_text(bureau):
    shown = bureau.run("org", "show", "--part", "staff").stdout
    assert TEMPLATE in shown  # not 49, and rich markup in a name is not interpreted either
    listing = bureau.run("cases", "show", str(bureau.cases[0])).stdout
    assert "<script>alert('x')</script>" in listing.replace("\n", "")


def test_the_rating_page_and_the_qr_sheet_escape_names_and_the_raters_own_text(bureau, tmp_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW.replace(" ", "T"))
    client = TestClient(web_app.create_app(bureau.db, clock=lambda: 1_717_120_800), client=("203.0.113.10", 50000))
    page = client.get("/r", params={"w": "XSS1", "t": qr_tokens.make_token(load_keys(bureau.db).qr_secret, "XSS1")})
    assert page.status_code == 200
    assert "<img" not in page.text and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    # A refused form comes back with the rater's text kept: as text.
    again = client.post("/r", data={**form, "item": "XK01", "website": "", "level": "",
                                    "comment": f"{SCRIPT}{IMG}{TEMPLATE}"})
    assert again.status_code == 400
    assert "<script>alert" not in again.text and "<img" not in again.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;{{ 7*7 }}" \
        in again.text
    sheet = tmp_path / "qr.html"
    bureau.run("qr", "sheet", "--out", str(sheet), "--county", COUNTY, "--allow-local")
    text = sheet.read_text(encoding="utf-8")
    assert "<img" not in text and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
