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
    # names beside the codes: county, window and item
    assert ("| 10:15 | 李沧区 (370213) | 李沧区局政务服务大厅烟草专卖2号窗口 (LC02) | 烟草专卖零售许可证延续 (XK02) | 不满意 |"
            in md)
    assert "| 15:30 | 李沧区 (370213) | 李沧区局网上办理渠道 (LCWS) | 烟草专卖零售许可证变更 (XK03) | 非常不满意 |" in md


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
    assert "size: A4;" in page and "@media print" in page  # the print rules: tests/test_report_print.py


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
    assert "## Windows" in md and "## Open cases (as of " in md and "## Rank among the counties" in md
    assert "LC02" in md and "138****5678" not in md and "13812345678" not in md
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
    from haocha_cli.official_calendar import LAST_KNOWN_YEAR

    last, year = LAST_KNOWN_YEAR, LAST_KNOWN_YEAR + 1
    monkeypatch.setenv("HAOCHA_NOW", f"{year}-01-10 08:00:00")

    def daily(day, name):
        out = _report(cli, tmp_path / name, "daily", "--date", day, "--format", "md")
        return (out / f"daily-{day}.md").read_text(encoding="utf-8")

    warning = (f"提示：haocha 所知的国务院放假安排只到 {last} 年，{year} 年的调休安排尚未确定：{year} 年的整改和回访期限"
               "已避开周末和法定节假日（元旦、春节、清明节、劳动节、端午节、中秋节、国庆节），未含调休上班日和补假。"
               "国务院放假通知发布后，请用 haocha calendar import 导入（日期,类型,备注），未办结事项的期限将重新计算。")
    assert warning not in daily(f"{last}-10-15", "autumn")  # 45 days ahead are still in a known year
    assert warning in daily(f"{last}-12-05", "december")
    notice = tmp_path / "notice.csv"
    notice.write_text(f"日期,类型,备注\n{year}-01-01,放假,元旦\n", encoding="utf-8")
    assert cli("calendar", "import", str(notice)).exit_code == 0
    assert warning not in daily(f"{last}-12-06", "given")  # the bureau has recorded next year's notice


# --- the county report is the county's (issue 20, item 3) ------------------------------------------------

NOW = "2026-03-31 18:00:00"
LICANG, SHINAN = "370213", "370202"


@pytest.fixture
def two_counties(db_path, run):
    """李沧 (30 ratings scoring A1 4, two 非常满意, three bad reviews: one real-name, return-visited and closed,
    two overdue) and 市南 (30 ratings scoring A1 5, the benchmark; one overdue bad review), March 2026; the
    city's spot-check sample of March with one of 李沧's checks recorded."""
    from cases_support import add_ratings

    add_ratings(db_path, [
        {"rated_at": "2026-03-02 09:00:00", "window": "LC01", "level": "不满意", "phone": "13800000001"},
        {"rated_at": "2026-03-02 09:10:00", "window": "LC02", "level": "非常不满意"},
        {"rated_at": "2026-03-02 09:20:00", "window": "LCWS", "level": "不满意", "item": "XK03"},
        {"rated_at": "2026-03-02 09:30:00", "window": "SN01", "level": "不满意"}])
    add_ratings(db_path, [
        *[{"rated_at": f"2026-03-03 {9 + i // 6:02d}:{i % 6 * 10:02d}:00", "window": "LC01", "level": "满意",
           "scores": {"A1": 4}} for i in range(30)],
        *[{"rated_at": f"2026-03-04 09:{i:02d}:00", "window": "LC02", "level": "非常满意"} for i in range(2)],
        *[{"rated_at": f"2026-03-05 {9 + i // 6:02d}:{i % 6 * 10:02d}:00", "window": "SN01", "level": "非常满意",
           "scores": {"A1": 5}} for i in range(30)]])
    county = f"county:{LICANG}"
    for args in (("revisit", "1", "--outcome", "reached"), ("classify", "1", "rectifiable", "--reason", "排队"),
                 ("close", "1", "--measures", "增开窗口", "--responsible", "李四")):
        assert run("2026-03-04 10:00:00", "cases", *args, operator=county).exit_code == 0
    assert run(NOW, "spotcheck", "sample", "--period", "2026-03", "--seed", "7").exit_code == 0
    checks = json.loads(run(NOW, "spotcheck", "list", "-f", "json").stdout)
    mine = [c for c in checks if c["county"] == LICANG]
    assert mine, "the sample holds some of 李沧's checks"
    assert run(NOW, "spotcheck", "record", str(mine[0]["id"]), "--outcome", "confirmed").exit_code == 0
    return len(mine)


def _county_report(run, tmp_path, operator, name="r", fmt="md"):
    out = tmp_path / name
    result = run(NOW, "report", "county", "--county", LICANG, "--period", "2026-03", "--format", fmt, "--out",
                 str(out), operator=operator)
    assert result.exit_code == 0, result.stderr
    return (out / f"county-{LICANG}-2026-03.{fmt}").read_text(encoding="utf-8")


def test_the_county_report_names_the_county_and_sets_it_against_the_city_and_the_targets(two_counties, run,
                                                                                         tmp_path):
    md = _county_report(run, tmp_path, f"county:{LICANG}")
    a1_licang = 75.0  # scores 4 → t(4) = 75; 市南's 5 → 100; the city mean of the 60 scores 87.5
    # its own name on its totals, the city's below
    assert "| 李沧区 (370213) | 35 |" in md and "| 全市 | 66 |" in md
    assert "李沧区 2026-03：评价 35 条" in md and "在参加排名的 2 个区县中排第 2 名。" in md
    assert "| 2 / 2 | 35 |" in md
    # closed-loop rates: its own with the counts, the city's, the target, met or not
    assert "| 实名差评回访率 | 100.0% (1/1) | 100.0% | 100.0% | 达标 |" in md
    assert "| 整改率 | 33.3% (1/3) | 25.0% | 100.0% | 未达标 |" in md
    assert "| 按时整改率 | 33.3% (1/3) | 25.0% | 100.0% | 未达标 |" in md
    assert "| 复评满意率 | – (0/0) | – | – |  |" in md  # no official target: none by default
    # per indicator the gaps to the city and to the benchmark, which is not named
    assert f"| A1 着装规范 | 30 | {a1_licang:.1f} | 87.5 | -12.5 | 100.0 | -25.0 |" in md
    assert "市南" not in md and "SN01" not in md and SHINAN not in md
    # its spot-checks, counts only
    assert f"| 李沧区 (370213) | {two_counties} | 1 | 0 | 0 | {two_counties - 1} | 100.0% |" in md
    # its open cases by urgency, the most urgent listed
    assert "## 未结整改事项（截至 2026-03-31，按紧急程度）" in md and "共 2 件，全部列出如下。" in md
    assert "| 整改超期 | 2 |" in md and "| 合计 | 2 |" in md
    assert "| 2 | 整改超期 | 李沧区局政务服务大厅烟草专卖2号窗口 (LC02) | 烟草专卖零售许可证新办 (XK01) |" in md
    # the city makes the same report for the county as the county makes for itself
    assert _county_report(run, tmp_path, "city", "c") == md
    assert (_county_report(run, tmp_path, "city", "c", "html")
            == _county_report(run, tmp_path, f"county:{LICANG}", "r", "html"))


def test_the_county_reports_targets_are_settings(two_counties, run, db_path, tmp_path):
    config = db_path.parent / "haocha.toml"
    config.write_text("[report.targets]\nrectify_rate = 0.3\nrerate_satisfaction = 0.9\n", encoding="utf-8")
    md = _county_report(run, tmp_path, "city")
    assert "| 整改率 | 33.3% (1/3) | 25.0% | 30.0% | 达标 |" in md
    assert "| 复评满意率 | – (0/0) | – | 90.0% |  |" in md
    config.write_text("[report.targets]\nrevisit_rate = 100\n", encoding="utf-8")
    result = run(NOW, "report", "county", "--county", LICANG, "--period", "2026-03", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {config}: report.targets.revisit_rate is a share from 0 to 1, not 100 (write 1.0"
                             " for 100%, 0.95 for 95%)\n")


# --- the daily report is bounded and named (issue 20, item 4) --------------------------------------------


def test_the_daily_report_counts_a_large_backlog_and_lists_the_20_most_urgent(db_path, run, tmp_path):
    from cases_support import add_ratings

    windows = ("LC01", "LC02", "SN01", "HD01")
    add_ratings(db_path, [{"rated_at": f"2026-03-{2 + i // 500:02d} {8 + i % 500 // 50:02d}:{i % 50:02d}:00",
                           "window": windows[i % 4], "level": "不满意"} for i in range(2000)])
    out = tmp_path / "r"
    assert run("2026-05-06 07:00:00", "report", "daily", "--date", "2026-05-05", "--out", str(out)).exit_code == 0
    md = (out / "daily-2026-05-05.md").read_text(encoding="utf-8")
    html = (out / "daily-2026-05-05.html").read_text(encoding="utf-8")
    section = md.split("## 回访到期、整改超期与即将到期的整改事项\n")[1].split("\n## ")[0]
    assert "共 2000 件，下表列出最紧急的 20 件（全部见工作台或 haocha cases list）。" in section
    assert "| 李沧区 (370213) | 0 | 1000 | 0 | 1000 |" in section and "| 市南区 (370202) | 0 | 500 | 0 | 500 |" in section
    assert "| 黄岛区 (370211) | 0 | 500 | 0 | 500 |" in section and "| 全市 | 0 | 2000 | 0 | 2000 |" in section
    listed = [line for line in section.splitlines() if re.match(r"\| \d+ \| 整改超期 \|", line)]
    assert len(listed) == 20
    # the oldest deadlines first: the cases of 2 March, numbered in the order rated
    assert [int(line.split(" | ")[0][2:]) for line in listed] == list(range(1, 21))
    assert "| 1 | 整改超期 | 李沧区 (370213) | 李沧区局政务服务大厅烟草专卖1号窗口 (LC01) | 烟草专卖零售许可证新办 (XK01) |" in listed[0]
    shown = html.split("回访到期、整改超期与即将到期的整改事项</h2>")[1].split("</section>")[0]
    assert len(re.findall(r"<tr[^>]*>\s*<td", shown)) == 20 + 10 + 1  # the 20 cases, a row per county, the city's


# A month against the month before and the same month a year before: 2026-08 (李沧区 100, 100; 市南区 100, 0),
# 2026-07 (100, 100, 75, 50, 25), 2025-08 (75, 25). Overall levels only, so each index is the mean of t(level).
HEADLINE_ROWS = (
    "y1,2025-08-05 10:00:00,LC01,二维码,XK01,满意,,\n"
    "y2,2025-08-05 11:00:00,LC01,二维码,XK01,不满意,,\n"
    "p1,2026-07-07 09:00:00,LC01,二维码,XK01,非常满意,,\n"
    "p2,2026-07-07 09:30:00,LC01,二维码,XK01,非常满意,,\n"
    "p3,2026-07-07 10:00:00,SN01,二维码,XK01,满意,,\n"
    "p4,2026-07-07 10:30:00,SN01,二维码,XK01,基本满意,,\n"
    "p5,2026-07-07 11:00:00,SN01,二维码,XK01,不满意,,\n"
    "m1,2026-08-04 09:00:00,LC01,二维码,XK01,非常满意,,\n"
    "m2,2026-08-04 09:30:00,LC01,二维码,XK01,非常满意,,\n"
    "m3,2026-08-04 10:00:00,SN01,二维码,XK01,非常满意,,\n"
    "m4,2026-08-04 10:30:00,SN01,二维码,XK01,非常不满意,服务态度差,13812345678\n"
)


@pytest.fixture
def months(run, tmp_path):
    path = tmp_path / "months.csv"
    path.write_text(HEADER + HEADLINE_ROWS, encoding="utf-8")
    assert run("2026-08-05 09:00:00", "import", str(path)).exit_code == 0
    return run


def _monthly(run, tmp_path, month, when="2026-12-01 09:00:00", fmt="md"):
    out = tmp_path / f"m-{month}-{fmt}"
    result = run(when, "report", "monthly", "--month", month, "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    return (out / f"monthly-{month}.{fmt}").read_text(encoding="utf-8")


def test_the_monthly_report_opens_with_the_month_against_last_month_and_last_year(months, tmp_path):
    md = _monthly(months, tmp_path, "2026-08")
    headline = "\n".join(line.rstrip() for line in md[md.index("## 本月要点"):md.index("## 总体情况")].splitlines())
    assert md.index("## 本月要点") < md.index("## 总体情况")  # first on the page
    assert headline.splitlines()[2:7:2] == [
        "2026年8月全市共收到评价 4 条，满意指数 75.0 分，较上月上升 5.0 分，较去年同月上升 25.0 分；好评率 75.0%"
        "（较上月上升 15.0 个百分点，较去年同月上升 25.0 个百分点），差评率 25.0%（较上月上升 5.0 个百分点，"
        "较去年同月下降 25.0 个百分点），差评 1 条。",
        # on 2026-12-01 the case of the bad review is overdue, and nobody has called the rater back
        "本月差评的整改率 0.0%，按时整改率 0.0%；实名差评回访率 0.0%，距 100% 的目标差 100.0 个百分点。",
        "排名首位的是李沧区（满意指数 100.0 分），末位是市南区（50.0 分）；差评率控制图本月无判异信号。",
    ]
    assert ("| 评价数 | 满意指数 | 好评率 | 差评率 | 整改率 | 实名差评回访率 | 排名首位 | 控制图信号 |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
            "| 4 条 | 75.0 分 | 75.0% | 25.0% | 0.0% | 0.0% | 李沧区 | 0 天 |\n"
            "| 差评 1 条 | 较上月 +5.0 分；较去年同月 +25.0 分 | 较上月 +15.0 个百分点；较去年同月 +25.0 个百分点 | "
            "较上月 +5.0 个百分点；较去年同月 -25.0 个百分点 | 按时整改率 0.0% | 目标 100% | 末位 市南区 | 差评率 p 图 |"
            ) in headline


def test_a_comparison_month_without_ratings_reads_no_data(months, tmp_path):
    md = _monthly(months, tmp_path, "2026-07", when="2026-07-08 09:00:00")
    assert ("2026年7月全市共收到评价 5 条，满意指数 70.0 分，上月无数据，去年同月无数据；好评率 60.0%（上月无数据，"
            "去年同月无数据），差评率 20.0%（上月无数据，去年同月无数据），差评 1 条。") in md
    assert "| 较上月 无数据；较去年同月 无数据 | 较上月 无数据；较去年同月 无数据 |" in md
    # the case opened on 2026-07-07 is not due on 2026-07-08; the anonymous bad review needs no call back
    assert "本月差评的整改事项 1 件均未到整改期限；本月无实名差评。" in md
    empty = _monthly(months, tmp_path, "2026-06", when="2026-07-08 09:00:00")
    assert "2026年6月全市无计入统计的评价（N = 0），本月无满意指数。" in empty
    assert "| 0 条 | 无数据 | 无数据 | 无数据 |" in empty


def test_the_chinese_monthly_report_has_no_signed_zero_and_no_pp(months, tmp_path, db_path):
    # a pilot whose before and after are alike gives changes near zero, and rate changes
    (db_path.parent / "haocha.toml").write_text(
        '[pilot]\ncounty = "370213"\nbefore = "2026-07-01..2026-07-31"\nafter = "2026-08-01..2026-08-31"\n',
        encoding="utf-8")
    for fmt in ("md", "html"):
        text = _monthly(months, tmp_path, "2026-08", fmt=fmt)
        assert not re.search(r"-0\.0(?!\d)|\+0\.0(?!\d)", text)
        assert not re.search(r"\bpp\b", text)
        assert "个百分点" in text
    from haocha_cli import reports

    assert [reports._signed(v) for v in (-0.04, 0.04, -0.0, 0.0, -0.06)] == ["0.0", "0.0", "0.0", "0.0", "-0.1"]
    assert [reports._num(-0.04), reports._pct(-0.0004)] == ["0.0", "0.0%"]


def test_the_trend_covers_the_months_with_ratings_on_round_ticks(months, tmp_path):
    md = _monthly(months, tmp_path, "2026-08")
    trend = md[md.index("## 满意指数趋势"):md.index("## 差评率控制图")]
    # 2025-08 is more than 12 months back: not shown; the two months with ratings are, and no empty month
    assert "2026-07 至 2026-08 有评价的月份（最多 12 个月，无评价的月份不列）；满意指数单位：分。" in trend
    assert [line.rstrip() for line in trend.splitlines() if line.startswith("| 20")] == [
        "| 2026-07 | 70.0 | 60.0% | 20.0% | 5 |", "| 2026-08 | 75.0 | 75.0% | 25.0% | 4 |"]
    html = _monthly(months, tmp_path, "2026-08", fmt="html")
    svg = html[html.index("<svg", html.index("满意指数趋势")):]
    svg = svg[:svg.index("</svg>")]
    ticks = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert ticks == ["68", "70", "72", "74", "76"]  # round ticks, with room above and below the points
    assert 'fill="#555555">分</text>' in svg  # the unit above the axis
    assert re.findall(r">(20\d\d-\d\d)</text>", svg) == ["2026-07", "2026-08"]


def test_a_month_without_ratings_in_between_is_a_gap_not_a_row(months, tmp_path):
    path = tmp_path / "march.csv"
    path.write_text(HEADER + "q1,2026-03-03 09:00:00,LC01,二维码,XK01,满意,,\n", encoding="utf-8")
    assert months("2026-03-04 09:00:00", "import", str(path)).exit_code == 0
    md = _monthly(months, tmp_path, "2026-08")
    trend = md[md.index("## 满意指数趋势"):md.index("## 差评率控制图")]
    assert [line.split(" | ")[0] for line in trend.splitlines() if line.startswith("| 20")] == [
        "| 2026-03", "| 2026-07", "| 2026-08"]
    html = _monthly(months, tmp_path, "2026-08", fmt="html")
    svg = html[html.index("<svg", html.index("满意指数趋势")):]
    assert re.findall(r">(20\d\d-\d\d)</text>", svg[:svg.index("</svg>")]) == [
        "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08"]


def test_nice_ticks_are_round_with_headroom():
    from haocha_cli.charts import nice_ticks, tick_text

    ticks = nice_ticks(64.4, 89.9, floor=0, ceiling=100)
    assert ticks == [60, 70, 80, 90, 100]
    narrow = nice_ticks(75.2, 80.0)
    assert [tick_text(t, narrow) for t in narrow] == ["74", "76", "78", "80", "82"]
    small = nice_ticks(2.0, 9.0, floor=0)
    assert [tick_text(t, small) for t in small] == ["0.0", "2.5", "5.0", "7.5", "10.0"]
    flat = nice_ticks(80.0, 80.0)
    assert flat[0] < 80.0 < flat[-1]  # one value: still room above and below


def test_the_monthly_heat_map_is_the_index_by_county_and_indicator(cli, tmp_path):
    path = tmp_path / "scored.csv"
    path.write_text("评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度,耐心解答,办理时限\n"
                    "h1,2026-03-02 09:10:00,LC01,二维码,XK01,满意,5,4\n"
                    "h2,2026-03-02 09:40:00,LC02,短信,XK01,不满意,2,\n"
                    "h3,2026-03-03 10:15:00,SN01,二维码,XK02,满意,4,3\n", encoding="utf-8")
    assert cli("import", str(path)).exit_code == 0
    out = _report(cli, tmp_path, "monthly", "--month", "2026-03", "--format", "md")
    md = (out / "monthly-2026-03.md").read_text(encoding="utf-8")
    heat = md.split("## 指标热力表", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip(" |").split(" | ") for line in heat.splitlines() if line.startswith("| ")]
    codes = [column.split(" ")[0] for column in lines[0][1:]]
    shown = {(row[0], code): cell for row in lines[2:] for code, cell in zip(codes, row[1:], strict=True)
             if cell != "–"}
    rows = json.loads(cli("index", "--by", "county", "--by", "indicator", "--period", "2026-03", "-f", "json").stdout)
    expected = {(r["county_name"], r["indicator"]): f"{r['index']:.1f} ({r['n']})" for r in rows["rows"] if r["n"]}
    assert shown == expected == {("李沧区", "C2"): "62.5 (2)", ("李沧区", "D1"): "75.0 (1)",
                                 ("市南区", "C2"): "75.0 (1)", ("市南区", "D1"): "50.0 (1)"}
