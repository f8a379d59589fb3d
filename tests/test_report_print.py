"""Reports that print and read on a phone: the A4 print rules, the footer, self-contained pages; and, slow, the
demo's monthly report printed to PDF by headless Chromium and the reports and QR sheet at 390 px and 1200 px."""

from __future__ import annotations

import html as html_module
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from haocha_cli.cli import app

HEADER = "评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度,文字评价,联系电话\n"
ROWS = (
    "a1,2026-07-07 09:00:00,LC01,二维码,XK01,满意,,\n"
    "a2,2026-08-04 09:00:00,LC01,二维码,XK01,非常满意,,\n"
    "a3,2026-08-04 10:00:00,SN01,二维码,XK01,不满意,<a href=\"https://evil.example/x.js\">看这里</a>,13812345678\n"
)
# a link, a script or a style sheet that loads something (the SVG namespace is a name, not a load)
LOADS = re.compile(r"<script|<link|<iframe|<img|<object|<embed|@import|url\(|(?:src|href)\s*=\s*[\"']?(?:https?:)?//",
                   re.I)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def reports(cli, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    assert cli("import", str(path)).exit_code == 0
    out = tmp_path / "out"
    for args in (["monthly", "--month", "2026-08"], ["daily", "--date", "2026-08-04"],
                 ["county", "--county", "370213", "--period", "2026-08"]):
        result = cli("report", *args, "--format", "html", "--out", str(out))
        assert result.exit_code == 0, result.output
    assert cli("qr", "sheet", "--out", str(out / "sheet.html"), "--allow-local").exit_code == 0
    return out


def _style(page: str) -> str:
    return page[page.index("<style>"):page.index("</style>")]


def test_the_print_rules_a4_footer_headings_tables_and_heatmap(reports):
    page = (reports / "monthly-2026-08.html").read_text(encoding="utf-8")
    css = " ".join(_style(page).split())
    assert "@page { size: A4; margin: 14mm 12mm 16mm;" in css
    # the title and the page number in the footer, and no browser header or footer (an empty box on top)
    assert '@top-center { content: ""; }' in css
    assert '@bottom-left { content: "青岛市烟草专卖局 好差评月报 2026-08";' in css
    assert '@bottom-right { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";' in css
    assert "h1, h2, caption, section > p { break-after: avoid; page-break-after: avoid; }" in css
    assert ".table-wrap, table, .chart, .figures, .figure { break-inside: avoid; page-break-inside: avoid; }" in css
    assert "thead { display: table-header-group; }" in css
    assert "table.heat { width: 100%; font-size: 7.5pt; }" in css
    assert "table.heat td:first-child, table.heat th:first-child { white-space: nowrap; }" in css
    # on a phone a wide table scrolls inside its box
    assert ".table-wrap { overflow-x: auto; max-width: 100%;" in css
    assert page.count('<div class="table-wrap"><table') == page.count("<table")
    assert page.count('<table class="heat">') == 1
    assert page.index('<section class="headline">') < page.index("<h2>总体情况</h2>")


def test_the_footer_title_is_a_css_string_that_cannot_end_the_style_sheet():
    from haocha_cli import reports

    report = {"kind": "daily", "lang": "en", "title": 'Bureau "X" </style><script>alert(1)</script>\u202e',
              "subtitle": "", "sections": [], "file_stem": "x"}
    page = reports.render(report, "html")
    css = _style(page)
    assert "</style>" not in css and "<script>" not in page
    assert r'content: "Bureau \22 X\22  \3c /style\3e \3c script\3e alert(1)\3c /script\3e \202e ";' in css
    assert r'content: "Page " counter(page) " of " counter(pages) "";' in " ".join(css.split())


def test_every_report_and_the_qr_sheet_load_nothing_and_run_nothing(reports):
    pages = {p.name: p.read_text(encoding="utf-8") for p in reports.glob("*.html")}
    assert set(pages) == {"monthly-2026-08.html", "daily-2026-08-04.html", "county-370213-2026-08.html",
                          "sheet.html"}
    for name, page in pages.items():
        assert not LOADS.search(page), (name, LOADS.search(page))
        assert "<svg" in page or name.startswith(("daily", "county")), name  # charts and codes inline
    # the rater's link is shown as text, never as a link
    assert "&lt;a href=&#34;https://evil.example/x.js&#34;&gt;看这里&lt;/a&gt;" in pages["daily-2026-08-04.html"]


def test_the_qr_sheet_keeps_each_name_whole_and_the_cards_aligned(reports):
    from haocha_cli import qr_tokens

    page = (reports / "sheet.html").read_text(encoding="utf-8")
    css = " ".join(_style(page).split())
    assert "grid-template-rows: auto auto 50mm 10mm auto auto;" in css  # every card the same rows
    assert "white-space: nowrap; line-break: strict; word-break: keep-all;" in css
    assert ".window.two-lines { white-space: normal; word-break: normal; text-wrap: balance; }" in css
    # 市南区局政务服务大厅烟草专卖1号窗口 (17 Chinese characters and a digit) on one line, a little under 5 mm
    assert ('<div class="window" style="font-size: 4.63mm">市南区局政务服务大厅烟草专卖1号窗口</div>') in page
    assert qr_tokens.name_fit("短名") == (5.0, 1)
    assert qr_tokens.name_fit("李沧区局政务服务中心A座三楼烟草专卖许可证办理及咨询服务12号窗口") == (3.8, 2)


# --- in the browser (slow) -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _headings(page: str) -> set[str]:
    return {html_module.unescape(h) for h in re.findall(r"<h[12][^>]*>([^<]*)</h[12]>", page)}


def _paragraphs(page: str) -> list[str]:
    found = re.findall(r"<p(?:\s[^>]*)?>(.*?)</p>", page, re.S)  # <p>, <p class=…>; not <path>, <polyline>
    return [html_module.unescape(re.sub(r"<[^>]+>", "", p)) for p in found]


@pytest.mark.slow
def test_the_demos_monthly_report_prints_to_a4_with_page_numbers_and_no_stranded_heading(demo, tmp_path):
    from pdf_support import page_lines

    assert CHROMIUM, "chromium is needed (apt-get install chromium)"
    source = demo / "reports" / "monthly-2026-08.html"
    pdf = tmp_path / "monthly.pdf"
    # without --no-pdf-header-footer: the report's own footer replaces the browser's header and footer
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--print-to-pdf={pdf}", source.as_uri()], check=True, capture_output=True, timeout=120)
    pages = page_lines(pdf.read_bytes())
    headings = _headings(source.read_text(encoding="utf-8"))
    paragraphs = _paragraphs(source.read_text(encoding="utf-8"))
    title = "青岛市烟草专卖局 好差评月报 2026-08"
    assert 3 <= len(pages) <= 6, [p[:2] for p in pages]  # 6 before, with a half-empty first page
    for number, lines in enumerate(pages, 1):
        footer = f"第 {number} 页 / 共 {len(pages)} 页"
        assert [line for line in lines if footer in line and title in line], (number, lines[-2:])
        body = [line for line in lines if footer not in line]
        assert not [line for line in body if "file://" in line or re.search(r"\d+/\d+/\d+, \d+:\d+", line)]
        # more than a heading on every page, and no heading (with its note) last on a page, away from the table
        # or chart it heads
        assert len("".join(line for line in body if line not in headings)) > 200, (number, body)
        last = max(i for i, line in enumerate(body) if line in headings or i == 0)
        assert [line for line in body[last + 1:] if not any(line in p for p in paragraphs)], (number, body[last:])
    first = "".join(pages[0])
    assert "本月要点" in first and "较上月" in first and "去年同月" in first and "个百分点" in first
    assert "pp" not in "".join("".join(p) for p in pages) and "-0.0" not in "".join("".join(p) for p in pages)
    # the heatmap's county names on one line each: 市南区, not 市 / 南 / 区
    heat = next(p for p in pages if "指标热力表（满意指数，括号内为 N）" in p)
    assert sum(1 for line in heat if line.startswith(("市南区", "市北区", "黄岛区", "崂山区", "李沧区"))) >= 5


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM and DRIVER, "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars",
                     "--lang=zh-CN"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1200])
def test_no_report_scrolls_sideways_on_a_phone_or_a_desktop(demo, browser, width):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": width < 600})
    pages = [*sorted((demo / "reports").glob("*.html")), demo / "qr" / "sheet.html"]
    assert len(pages) >= 5
    for page in pages:
        browser.get(page.as_uri())
        scroll, inner = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (page.name, width, scroll, inner)
    # the monthly report's headline is on the first screen of a phone
    browser.get((demo / "reports" / "monthly-2026-08.html").as_uri())
    top = browser.execute_script("return document.querySelector('.headline p').getBoundingClientRect().top")
    assert top < 844
