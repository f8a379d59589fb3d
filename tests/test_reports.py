"""Reports: content against the database, masked phones, escaped comments, nothing external, idempotent."""

from __future__ import annotations

import json
import re

import pytest

HEADER = "评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度,文字评价,联系电话\n"
ROWS = (
    "d1,2026-03-02 09:10:00,LC01,二维码,XK01,非常满意,,\n"
    "d2,2026-03-02 09:40:00,LC01,短信,XK01,满意,,\n"
    "d3,2026-03-02 10:15:00,LC02,二维码,XK02,不满意,<script>alert(1)</script> | *急* [x](http://evil.example),13812345678\n"
    "d4,2026-03-02 11:00:00,SN01,二维码,XK01,基本满意,,\n"
    "d5,2026-03-02 15:30:00,LCWS,PC端,XK03,非常不满意,{{ 7*7 }} 系统卡顿,\n"
    "d6,2026-03-03 10:00:00,LC01,二维码,XK01,满意,,\n"
)
EXTERNAL = re.compile(r"(?:src|href)\s*=|@import|url\(|<script|<link|<iframe|<img", re.I)


@pytest.fixture
def loaded(cli, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    assert cli("import", str(path)).exit_code == 0
    return cli


def _report(cli, tmp_path, *args):
    out = tmp_path / "out"
    result = cli("report", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_daily_report_figures_masked_phones_and_escaped_comments(loaded, tmp_path):
    out = _report(loaded, tmp_path, "daily", "--date", "2026-03-02")
    md = (out / "daily-2026-03-02.md").read_text(encoding="utf-8")
    html = (out / "daily-2026-03-02.html").read_text(encoding="utf-8")
    index = json.loads(loaded("index", "--period", "2026-03-02", "-f", "json").stdout)["rows"][0]
    assert index["n"] == 5
    assert f"| 全市 | 5 | {index['index']:.1f} | 40.0% | 40.0% | 20.0% | 0 |" in md
    assert "| 李沧区 (370213) | 4 |" in md and "| 市南区 (370202) | 1 |" in md
    for text in (md, html):
        assert "138****5678" in text
        assert "13812345678" not in text
        assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "49 系统卡顿" not in text
    assert "{{ 7*7 }} 系统卡顿" in html and "{{ 7\\*7 }} 系统卡顿" in md
    assert "\\| \\*急\\* \\[x\\](http://evil.example)" in md  # no table break, no link, no emphasis
    assert "整改事项" in md and "新增差评" in md


def test_html_reports_reference_nothing_external(loaded, tmp_path):
    out = _report(loaded, tmp_path, "monthly", "--month", "2026-03", "--format", "html")
    html = (out / "monthly-2026-03.html").read_text(encoding="utf-8")
    assert "<svg" in html  # the trend chart is inline
    without_text = re.sub(r"http://www\.w3\.org/2000/svg", "", html)
    assert not EXTERNAL.search(without_text), EXTERNAL.search(without_text)
    assert "http://" not in without_text.replace("http://evil.example", "")
    daily = _report(loaded, tmp_path, "daily", "--date", "2026-03-02", "--format", "html")
    page = (daily / "daily-2026-03-02.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(page)
    assert "@page { size: A4" in page and "@media print" in page


def test_daily_report_is_byte_identical_when_re_run(loaded, tmp_path, monkeypatch):
    out = _report(loaded, tmp_path, "daily", "--date", "2026-03-02")
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setenv("HAOCHA_NOW", "2026-11-20 08:00:00")
    out = _report(loaded, tmp_path, "daily", "--date", "2026-03-02")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_monthly_report_sections_and_pilot(loaded, tmp_path, db_path):
    (db_path.parent / "haocha.toml").write_text(
        '[pilot]\ncounty = "370213"\nbefore = "2026-03-02..2026-03-02"\nafter = "2026-03-03..2026-03-03"\n',
        encoding="utf-8")
    out = _report(loaded, tmp_path, "monthly", "--month", "2026-03", "--format", "md")
    md = (out / "monthly-2026-03.md").read_text(encoding="utf-8")
    for heading in ("## 区县排名", "## 指标热力表", "## 满意指数趋势", "## 差评率控制图", "## 闭环整改",
                    "## 市局抽查回访", "## 风险管控（FMEA）", "## 对标分析", "## 试点效果评估"):
        assert heading in md
    assert "| 1 | 李沧区 (370213) | 5 |" in md
    assert "指标体系版本: V1.0" in md
    assert "before" not in md  # Chinese by default
    # the FMEA register's names without their English gloss, and no other English sentence
    assert "| R01 | 评价采集 | 评价信息不实 | 7 |" in md and "(rating collection)" not in md
    assert "baseline" not in md and "收缩得分 = (W·μ + N·满意指数) ÷ (W + N)，μ = " in md
    english = _report(loaded, tmp_path / "en", "monthly", "--month", "2026-03", "--format", "md", "--lang", "en")
    assert "| R01 | 评价采集 (rating collection) | 评价信息不实 (false rating information) |" in (
        english / "monthly-2026-03.md").read_text(encoding="utf-8")


def test_english_and_county_reports(loaded, tmp_path):
    out = _report(loaded, tmp_path, "county", "--county", "370213", "--period", "2026-03", "--lang", "en",
                  "--format", "md")
    md = (out / "county-370213-2026-03.md").read_text(encoding="utf-8")
    assert "## Windows" in md and "## Cases and deadlines" in md
    assert "LC02" in md and "138****5678" not in md.replace("138****5678", "") and "13812345678" not in md
    refused = loaded("report", "county", "--county", "370213", "--period", "2026-03", "--out",
                     str(tmp_path / "x"), operator="county:370202")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: county:370202 may see the report of county 370202 only, not of 370213")


def test_cron_mode_quiet_and_one_line_errors(loaded, tmp_path):
    result = loaded("report", "daily", "--date", "2026-03-02", "--out", str(tmp_path / "q"), "--quiet")
    assert result.exit_code == 0 and result.output == ""
    bad = loaded("report", "monthly", "--month", "2026-3x", "--out", str(tmp_path / "q"))
    assert bad.exit_code == 1
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("Error: period '2026-3x' is not understood")
    assert loaded("report", "daily", "--date", "2026-02-30", "--out", str(tmp_path)).exit_code == 1


def test_the_daily_report_warns_in_december_when_next_years_holidays_are_unknown(cli, tmp_path, monkeypatch):
    from haocha_cli.workdays import LAST_KNOWN_YEAR

    last, year = LAST_KNOWN_YEAR, LAST_KNOWN_YEAR + 1
    monkeypatch.setenv("HAOCHA_NOW", f"{year}-01-10 08:00:00")

    def daily(day, name):
        out = _report(cli, tmp_path / name, "daily", "--date", day, "--format", "md")
        return (out / f"daily-{day}.md").read_text(encoding="utf-8")

    warning = (f"提示：haocha 所知的国家法定节假日安排只到 {last} 年，{year} 年的整改和回访期限暂按周一至周五计算。"
               "国务院放假通知发布后，请用 haocha calendar import 导入（日期,类型,备注）。")
    assert warning not in daily(f"{last}-10-15", "autumn")  # 45 days ahead are still in a known year
    assert warning in daily(f"{last}-12-05", "december")
    notice = tmp_path / "notice.csv"
    notice.write_text(f"日期,类型,备注\n{year}-01-01,放假,元旦\n", encoding="utf-8")
    assert cli("calendar", "import", str(notice)).exit_code == 0
    assert warning not in daily(f"{last}-12-06", "given")  # the bureau has recorded next year's notice
