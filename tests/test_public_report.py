"""The public results report (结果公开, `haocha report public`): exact figures for a constructed month and
quarter, small units as 样本不足 in every figure, and nothing of the internal record — no comment, phone,
flag, spot-check, FMEA, risk level or audit anchor — in any of its files, from a database that holds all of
them."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from import_support import query, row, write_csv
from typer.testing import CliRunner

from haocha_cli.bootstrap import init_database
from haocha_cli.cli import app

NOW = "2026-09-01 09:00:00"
A = "370213"
COMMENT = "窗口态度差，请回电13812345678，身份证370213199001011234"
PHONES = ["13800000001", "13900000002"]
NOTE = "抽查备注公开报告不得出现"
EXTERNAL = re.compile(r"(?:src|href)\s*=|@import|url\(|<script|<link|<iframe|<img", re.I)
TOO_FEW = "样本不足"


def _ratings() -> list[list[str]]:
    """李沧区 in August: LC01 20 非常满意, 10 满意, 2 基本满意 (32); LC02 3 基本满意, 3 不满意, 2 非常不满意 (8).
    市南区: 25 满意 in July and 10 in August. Phones on some good ratings (one phone three times a day:
    flagged), a bad review's comment with a phone and an ID number."""
    rows, n = [], 0

    def add(when: str, window: str, level: str, **values: str) -> None:
        nonlocal n
        n += 1
        rows.append(row(rating_id=f"P{n:03d}", rated_at=when, window_code=window, channel="二维码", item_code="XK01",
                        level=level, **values))

    for i in range(20):
        phone = {"rater_phone": PHONES[0], "anonymous": "否"} if i < 3 else {}
        add(f"2026-08-05 {9 + i // 6:02d}:{i % 6 * 10:02d}:00", "LC01", "非常满意", **phone)
    for i in range(10):
        add(f"2026-08-06 {9 + i // 6:02d}:{i % 6 * 10:02d}:00", "LC01", "满意",
            **({"rater_phone": PHONES[1], "anonymous": "否"} if i == 0 else {}))
    for i in range(2):
        add(f"2026-08-07 09:{i * 10:02d}:00", "LC01", "基本满意")
    for i in range(3):
        add(f"2026-08-07 10:{i * 10:02d}:00", "LC02", "基本满意")
    add("2026-08-03 09:00:00", "LC02", "不满意", comment=COMMENT)
    add("2026-08-03 09:30:00", "LC02", "不满意")
    add("2026-08-03 10:00:00", "LC02", "非常不满意")
    add("2026-08-04 09:00:00", "LC02", "不满意")  # left open: overdue by September
    add("2026-08-31 09:00:00", "LC02", "非常不满意")  # left open: not yet due
    for i in range(25):
        add(f"2026-07-{6 + i // 10:02d} {9 + i % 10 // 2:02d}:{i % 2 * 30:02d}:00", "SN01", "满意")
    for i in range(10):
        add(f"2026-08-10 {9 + i // 2:02d}:{i % 2 * 30:02d}:00", "SN01", "满意")
    return rows


def _build(folder: Path) -> Path:
    db = folder / "haocha.db"
    init_database(db)
    runner = CliRunner()

    def do(when: str, *args: str, operator: str = "city") -> str:
        os.environ["HAOCHA_NOW"] = when
        try:
            result = runner.invoke(app, ["--db", str(db), "--operator", operator, *args])
        finally:
            del os.environ["HAOCHA_NOW"]
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result.stdout

    do("2026-09-01 08:00:00", "import", str(write_csv(folder / "ratings.csv", _ratings())))
    cases = [r[0] for r in query(db, "SELECT id FROM cases ORDER BY rated_at, id")]
    assert len(cases) == 5
    county = f"county:{A}"
    work = "2026-08-10 10:00:00"
    for case in cases[:2]:
        do(work, "cases", "classify", str(case), "rectifiable", "--reason", "窗口人员态度问题", operator=county)
        do(work, "cases", "close", str(case), "--measures", "服务规范培训", "--responsible", "张三", operator=county)
    do(work, "cases", "classify", str(cases[2]), "no-action", "--reason", "评价人误操作", operator=county)
    do("2026-08-11 10:00:00", "cases", "approve", str(cases[2]), "--note", "同意")
    do("2026-08-11 11:00:00", "risk", "assess", "--period", "2026-08")
    do("2026-08-11 11:00:00", "spotcheck", "sample", "--period", "2026-08", "--seed", "7")
    checks = [r[0] for r in query(db, "SELECT id FROM spot_checks ORDER BY id")]
    assert checks
    do("2026-08-12 10:00:00", "spotcheck", "record", str(checks[0]), "--outcome", "confirmed", "--note", NOTE)
    return db


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("public"))


@pytest.fixture
def public(built, tmp_path, monkeypatch):
    """public("--month", "2026-08", …) -> {file name: text}, run as the city at NOW on a copy of the database."""
    db = tmp_path / "haocha.db"
    shutil.copy(built, db)
    shutil.copy(str(built) + ".key", str(db) + ".key")
    runner = CliRunner()

    def run(*args: str, operator: str = "city", code: int = 0):
        monkeypatch.setenv("HAOCHA_NOW", NOW)
        out = tmp_path / "out"
        result = runner.invoke(app, ["--db", str(db), "--operator", operator, "report", "public", *args,
                                     "--out", str(out)])
        assert result.exit_code == code, (result.stdout, result.stderr)
        if code:
            return result
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    run.db = db
    return run


def _text(files: dict[str, bytes], name: str) -> str:
    return files[name].decode("utf-8-sig")


def test_the_database_holds_everything_the_public_report_must_leave_out(built):
    """So that the next test is not vacuous: comments, phones, flags, spot-checks with notes, FMEA and risk
    levels, and an audit trail with its anchor are all there."""
    assert query(built, "SELECT count(*) FROM ratings WHERE comment = ?", (COMMENT,)) == [(1,)]
    assert query(built, "SELECT count(*) FROM contacts") == [(2,)]
    assert query(built, "SELECT count(*) FROM flags")[0][0] >= 3
    assert query(built, "SELECT count(*) FROM spot_checks WHERE note = ?", (NOTE,)) == [(1,)]
    assert query(built, "SELECT count(*) FROM risk_assessments")[0][0] > 0
    assert query(built, "SELECT count(*) FROM audit_events")[0][0] > 10


def test_the_public_report_holds_no_comment_phone_or_internal_oversight(public, built):
    files = public("--month", "2026-08", "--by", "window")
    assert sorted(files) == ["public-window-2026-08.csv", "public-window-2026-08.html", "public-window-2026-08.md"]
    masked = [r[0] for r in query(built, "SELECT phone_masked FROM contacts")]
    rules = [r[0] for r in query(built, "SELECT DISTINCT rule FROM flags")]
    failure_modes = [r[0] for r in query(built, "SELECT failure_mode FROM risks")]
    steps = [r[0] for r in query(built, "SELECT DISTINCT step FROM risks")]
    last = query(built, "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")[0]
    forbidden = [
        COMMENT, "窗口态度差", "请回电", "13812345678", "138****5678", "370213199001011234", *PHONES, *masked,
        *rules, "可疑", "flag", "抽查", "spot", NOTE, "FMEA", "RPN", "风险", "risk", *failure_modes, *steps,
        "审计", "锚点", "anchor", f"{last[0]}:{last[1]}", last[1][:16], "窗口人员态度问题", "服务规范培训", "张三",
        "评价人误操作", "同意",
    ]
    for name, data in files.items():
        text = data.decode("utf-8-sig")
        found = [word for word in forbidden if word.lower() in text.lower()]
        assert found == [], (name, found)
    for lang in ("en",):
        english = public("--month", "2026-08", "--by", "window", "--lang", lang)
        for name, data in english.items():
            text = data.decode("utf-8-sig")
            assert [word for word in forbidden if word.lower() in text.lower()] == [], name


def test_exact_figures_of_a_constructed_month_and_small_units_suppressed(public):
    files = public("--month", "2026-08", "--format", "md")
    assert list(files) == ["public-2026-08.md"]
    md = _text(files, "public-2026-08.md")
    assert md.startswith("# 青岛市烟草专卖局政务服务“好差评”结果公开（2026年8月）\n")
    assert "| 区县局 | 评价数 | 好评率 | 差评率 | 满意指数 | 差评整改率 |" in md
    # 李沧区: 40 ratings, 30 good, 5 bad, index (20·100 + 10·75 + 5·50 + 3·25 + 2·0) / 40 = 76.875; of its five
    # bad reviews three are dealt with (two closed, one no-action approved), one is open past its deadline
    # and one is not yet due: 3 / 4.
    assert "| 李沧区 | 40 | 75.0% | 12.5% | 76.9 | 75.0% |" in md
    # the city: 李沧区 and 市南区's ten 满意 (76.875·40 + 75·10) / 50 = 76.5
    assert "| 全市 | 50 | 80.0% | 10.0% | 76.5 | 75.0% |" in md
    # 市南区 has 10 ratings in August, the other counties none: every figure suppressed, N included
    for county in ("市南区", "市北区", "黄岛区", "崂山区", "城阳区", "即墨区", "胶州市", "平度市", "莱西市"):
        assert f"| {county} | {' | '.join([TOO_FEW] * 5)} |" in md
    assert "| 市南区 | 10 |" not in md
    assert "评价数少于 30 条的单位，结果不具代表性，各项数据均显示为“样本不足”。" in md
    assert "整改情况统计至 2026-09-01" in md
    assert "好评率 = 评价为“非常满意”“满意”的条数 ÷ 评价数" in md


def test_windows_are_published_with_their_county_and_small_windows_suppressed(public):
    md = _text(public("--month", "2026-08", "--by", "window", "--format", "md"), "public-window-2026-08.md")
    assert "## 各区县局评价结果" in md and "## 各窗口评价结果" in md
    windows = md.split("## 各窗口评价结果")[1]
    # a table per county under its name
    assert windows.count("| 窗口 | 评价数 | 好评率 | 差评率 | 满意指数 | 差评整改率 |") == 10
    licang = windows.split("\n李沧区\n")[1].split("\n城阳区\n")[0]
    # LC01: 32 ratings, 30 good, no bad review, so no case due: "–"; index (2000 + 750 + 100) / 32 = 89.0625
    assert "| 李沧区局政务服务大厅烟草专卖1号窗口 | 32 | 93.8% | 0.0% | 89.1 | – |" in licang
    assert f"| 李沧区局政务服务大厅烟草专卖2号窗口 | {' | '.join([TOO_FEW] * 5)} |" in licang
    assert f"| 李沧区局网上办理渠道 | {' | '.join([TOO_FEW] * 5)} |" in licang
    assert windows.count("| 黄岛区局") == 3  # every active window, rated or not
    assert "| 全市 |" not in windows


def test_public_min_n_is_a_setting(public, tmp_path):
    config = tmp_path / "public.toml"
    config.write_text("[report]\npublic_min_n = 5\n", encoding="utf-8")
    db = public.db
    runner = CliRunner()
    os.environ["HAOCHA_NOW"] = NOW
    try:
        result = runner.invoke(app, ["--db", str(db), "--config", str(config), "report", "public", "--month",
                                     "2026-08", "--by", "window", "--format", "md", "--out", str(tmp_path / "five")])
    finally:
        del os.environ["HAOCHA_NOW"]
    assert result.exit_code == 0, result.stderr
    md = (tmp_path / "five" / "public-window-2026-08.md").read_text(encoding="utf-8")
    # LC02 with 8 ratings is now shown: 0 good, 5 bad, index (3·50 + 3·25 + 2·0) / 8 = 28.125, 3 of 4 due dealt with
    assert "| 李沧区局政务服务大厅烟草专卖2号窗口 | 8 | 0.0% | 62.5% | 28.1 | 75.0% |" in md
    assert "| 市南区 | 10 | 100.0% | 0.0% | 75.0 | – |" in md
    assert "评价数少于 5 条的单位" in md


def test_the_csv_for_the_portal(public):
    files = public("--month", "2026-08", "--by", "window", "--format", "csv")
    data = files["public-window-2026-08.csv"]
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "统计期,单位层级,单位名称,所属区县局,评价数,好评率(%),差评率(%),满意指数,差评整改率(%)"
    assert lines[1] == "2026-08,全市,全市,,50,80.0,10.0,76.5,75.0"
    assert "2026-08,区县局,李沧区,,40,75.0,12.5,76.9,75.0" in lines
    assert "2026-08,区县局,市南区,,样本不足,样本不足,样本不足,样本不足,样本不足" in lines
    assert "2026-08,窗口,李沧区局政务服务大厅烟草专卖1号窗口,李沧区,32,93.8,0.0,89.1," in lines
    assert "2026-08,窗口,李沧区局政务服务大厅烟草专卖2号窗口,李沧区,样本不足,样本不足,样本不足,样本不足,样本不足" in lines
    assert lines[-1] == "" and len(lines) == 1 + 1 + 10 + 25 + 1  # header, city, counties, windows


def test_a_quarter(public):
    files = public("--quarter", "2026-Q3")
    assert sorted(files) == ["public-2026-Q3.csv", "public-2026-Q3.html", "public-2026-Q3.md"]
    md = _text(files, "public-2026-Q3.md")
    assert md.startswith("# 青岛市烟草专卖局政务服务“好差评”结果公开（2026年第三季度）\n")
    assert "统计期：2026-07-01 至 2026-09-30。" in md
    # 市南区's 25 July ratings make 35 in the quarter: shown
    assert "| 市南区 | 35 | 100.0% | 0.0% | 75.0 | – |" in md
    assert "| 李沧区 | 40 | 75.0% | 12.5% | 76.9 | 75.0% |" in md
    assert "| 全市 | 75 | 86.7% | 6.7% | 76.0 | 75.0% |" in md  # (3075 + 35·75) / 75 = 76.0
    assert "2026-Q3,区县局,市南区,,35,100.0,0.0,75.0," in _text(files, "public-2026-Q3.csv").split("\r\n")


def test_the_html_is_self_contained_and_escaped(public):
    html = _text(public("--month", "2026-08", "--format", "html"), "public-2026-08.html")
    assert not EXTERNAL.search(html)
    assert "<td>李沧区</td><td>40</td><td>75.0%</td>" in html
    assert "<title>青岛市烟草专卖局政务服务“好差评”结果公开（2026年8月）</title>" in html


def test_windows_add_up_to_their_county(public, built):
    """Each window's closed and due counts follow `cases stats`'s definitions: a county's windows add up to it."""
    from haocha_cli import cases, publication
    from haocha_cli.context import open_context
    from haocha_cli.periods import parse_period

    os.environ["HAOCHA_NOW"] = NOW
    ctx = open_context(public.db, "city")
    try:
        month = parse_period("2026-08")
        windows = publication.window_case_counts(ctx, month)
        [county] = cases.case_stats(ctx, A, month.start, month.end)
    finally:
        ctx.db.close()
        del os.environ["HAOCHA_NOW"]
    assert (county["closed"], county["due"]) == (3, 4)
    assert windows == {"LC02": {"closed": 3, "due": 4}}


def test_publishing_is_the_citys_and_bad_options_are_one_line(public, tmp_path):
    refused = public("--month", "2026-08", operator=f"county:{A}", code=1)
    assert refused.stderr == (
        f"Error: publishing the results (结果公开) of every county is the city bureau's (市局) task; county:{A} may "
        f"not do it (a county's own report: haocha report county --county {A} --period 2026-08)\n")
    assert not (tmp_path / "out").exists()
    both = public("--month", "2026-08", "--quarter", "2026-Q3", code=1)
    assert both.stderr == "Error: give --month or --quarter, not both (e.g. --month 2026-08 or --quarter 2026-Q3)\n"
    assert public(code=1).stderr == "Error: give --month or --quarter (e.g. --month 2026-08 or --quarter 2026-Q3)\n"
    assert public("--quarter", "2026-08", code=1).stderr == (
        "Error: --quarter '2026-08' is not a quarter (write YYYY-Qn, e.g. 2026-Q3)\n")
    assert public("--month", "2026-Q3", code=1).stderr == (
        "Error: --month '2026-Q3' is not a month (write YYYY-MM, e.g. 2026-08)\n")
    assert public("--month", "2026-08", "--by", "item", code=1).stderr == (
        "Error: --by 'item' is neither county nor window (use --by county or --by window)\n")
    assert public("--month", "2026-08", "--format", "xlsx", code=1).stderr == (
        "Error: format 'xlsx' is not md, html, csv or all (use --format md|html|csv|all)\n")


def test_the_same_day_gives_the_same_bytes(public):
    first = public("--month", "2026-08", "--by", "window")
    assert len(first) == 3 and public("--month", "2026-08", "--by", "window") == first
