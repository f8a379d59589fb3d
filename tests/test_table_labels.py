"""Terminal tables in the bureau's language (issue 18, item 10): Chinese headers for every listing, rates as
percentages, indices with one decimal, no raw floats or lists, headers never broken, tables that fit the
terminal; JSON and CSV keep the English keys and the exact values."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from import_support import HEADER, row
from reliability_support import COUNTY, build
from rich.cells import cell_len
from support import ok

from haocha_cli import labels
from haocha_cli.bootstrap import init_database
from haocha_cli.indicators import default_matrix_path

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
# Abbreviations the bureau reads as they are (the FMEA's risk priority number).
AS_IS = {"RPN"}


def tables(out: str) -> list[tuple[list[str], list[list[str]]]]:
    """The tables a command printed: (headers, lines of cells); a header on several lines is joined."""
    found, lines, i = [], out.splitlines(), 0
    while i < len(lines):
        if not lines[i].startswith("┏"):
            i += 1
            continue
        heads, i = [], i + 1
        while not lines[i].startswith("┡"):
            heads.append([c.strip() for c in lines[i].strip("┃").split("┃")])
            i += 1
        body, i = [], i + 1
        while not lines[i].startswith("└"):
            body.append([c.strip() for c in lines[i].strip("│").split("│")])
            i += 1
        found.append((["".join(parts) for parts in zip(*heads, strict=True)], body))
    return found


def header_pieces(out: str) -> list[list[str]]:
    """Each column's header, line by line, of every table a command printed."""
    pieces, lines = [], out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("┏"):
            j = i + 1
            while not lines[j].startswith("┡"):
                j += 1
            rows = [[c.strip() for c in lines[k].strip("┃").split("┃")] for k in range(i + 1, j)]
            pieces += [[p for p in column if p] for column in zip(*rows, strict=True)]
    return pieces


@pytest.fixture(scope="module")
def bureau(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labels")
    init_database(folder / "haocha.db")
    return build(folder / "haocha.db", folder)


def _listings(bureau, tmp_path) -> dict[str, str]:
    """What every listing prints as a table (its stdout), by its command line."""
    county = f"county:{COUNTY}"
    sheet = tmp_path / "sheet.csv"
    bureau.run("cases", "export", "--format", "csv", "-o", str(sheet), operator=county)
    fixed = tmp_path / "more.csv"
    with fixed.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerow(row(rating_id="L1", rated_at="2024-05-30 10:00:00", window_code="LC01", channel="二维码",
                            item_code="XK01", level="满意", A1="5", C1="4", D1="4", staff_code="LC-S01"))
        writer.writerow(row(rating_id="L2", rated_at="2024-05-30 10:01:00", window_code="LC01", channel="二维码",
                            item_code="XK01", level="乱写"))
    volumes = tmp_path / "volumes.csv"  # service volumes (办件量): a window far below its county's rating rate
    volumes.write_text("日期,窗口编码,事项编码,办件量\n2024-05-06,LC01,XK01,2000\n2024-05-06,LC02,XK01,40\n",
                       encoding="utf-8")
    bureau.run("volumes", "import", str(volumes))
    commands = [
        ("status",), ("config", "show"), ("org", "show"), ("volumes", "list"), ("flags", "windows"), ("indicators", "show"), ("indicators", "versions"),
        ("indicators", "drivers", "--period", "2024-05"), ("indicators", "weigh", str(default_matrix_path())),
        ("audit", "log", "--limit", "20"), ("cases", "list", "--status", "all"), ("cases", "stats"),
        *(("cases", "show", str(case)) for case in bureau.cases), ("cases", "apply", str(sheet)),
        ("calendar", "show"), ("flags", "scan", "--period", "2024-05"), ("flags", "list"),
        ("spotcheck", "samples"), ("spotcheck", "list"), ("spotcheck", "stats"),
        ("spotcheck", "sample", "--period", "2024-05", "--new-version"), ("risk", "list"),
        ("risk", "assess", "--period", "2024-05", "--dry-run"), ("batches", "list"), ("batches", "show", "1"),
        ("batches", "rejects", "1"), ("staff", "list"), ("notify", "list"), ("import", str(fixed)),
        *(("index", "--by", by, "--period", "2024-05")
          for by in ("city", "county", "window", "item", "channel", "mode", "indicator", "day", "week", "month")),
        ("index", "--by", "county", "--by", "month", "--period", "2024-05"),
        ("rank", "--by", "county", "--period", "2024-05"), ("rank", "--by", "window", "--period", "2024-05"),
        ("index", "--by", "staff", "--period", "2024-05"), ("rank", "--by", "staff", "--period", "2024-05"),
        ("benchmark", "--period", "2024-05", "--min-n", "1"),
        ("compare", "--county", COUNTY, "--before", "2024-05-01..2024-05-05", "--after", "2024-05-06..2024-05-31"),
        ("spc", "--metric", "bad-rate", "--county", COUNTY, "--from", "2024-05-01", "--to", "2024-05-31"),
        ("spc", "--metric", "index", "--county", COUNTY, "--from", "2024-05-01", "--to", "2024-05-31"),
    ]
    out = {}
    for args in commands:
        operator = county if args[:2] == ("cases", "apply") else "admin" if args[0] == "staff" else "city"
        out[" ".join(args)] = bureau.run(*args, operator=operator, ok=args[0] != "compare").stdout
    return out


def test_every_listing_has_a_chinese_header_for_every_column(bureau, tmp_path):
    printed = _listings(bureau, tmp_path)
    unnamed, fields, count = {}, {}, 0
    for command, out in printed.items():
        for heads, body in tables(out):
            count += 1
            for head in heads:
                if not CJK.search(head) and head not in AS_IS:
                    unnamed.setdefault(head, command)
            if heads == ["项目", "值"]:  # a record: its field names are headers too
                for cells in body:
                    if cells[0] and not CJK.search(cells[0]):  # (an empty one: a wrapped value goes on)
                        fields.setdefault(cells[0], command)
    assert unnamed == {} and fields == {}, "give these keys a header in haocha_cli/labels.py"
    # The listings really printed their tables (a command that printed nothing would prove nothing).
    assert count > 50 and all(tables(out) for command, out in printed.items() if command != "compare")
    summary, reasons, first = tables(printed[f"import {tmp_path / 'more.csv'}"])
    assert {cells[0]: cells[1] for cells in summary[1]}.items() >= {"读取行数": "2", "接收": "1", "拒收": "1"}.items()
    assert reasons == (["原因代码", "行数"], [["level_invalid", "1"]])
    assert first[0] == ["行号", "原因代码", "说明"] and first[1][0][:2] == ["3", "level_invalid"]


def test_every_header_key_has_a_header_and_unknown_keys_show_as_they_are():
    assert all(CJK.search(labels.header(k)) or labels.header(k) in AS_IS for k in labels.HEADERS)
    assert labels.header("county") == "县级局代码" and labels.header_lines("county") == "县级局\n代码"
    assert labels.header("状态") == "状态" and labels.has_header("整改率")
    assert labels.header("no_such_key") == "no_such_key" and not labels.has_header("no_such_key")


HEADER_LINE = "rating_id,rated_at,window_code,channel,item_code,level,C1,D1,D2,D3\n"
WORKED = HEADER_LINE + (
    "w1,2026-03-02 10:00:00,LC01,二维码,XK01,非常满意,,,,\n"
    "w2,2026-03-02 10:05:00,LC01,二维码,XK01,满意,2,,,\n"
    "w3,2026-03-03 11:00:00,LC01,政务大厅平板电脑,XK02,不满意,,,,\n"
    "w4,2026-03-04 09:30:00,LC01,二维码,XK01,基本满意,,1,1,\n"
    "w5,2026-03-05 20:00:00,LCWS,PC端,XK03,满意,,,,5\n"
)


def _import(cli, tmp_path, text):
    path = tmp_path / "batch.csv"
    path.write_text(text, encoding="utf-8")
    ok(cli("import", str(path), "--format", "json"))


def test_index_table_shows_percentages_and_one_decimal_while_csv_and_json_keep_the_values(cli, tmp_path):
    # docs/method.md's worked example: 李沧区 N = 5, index 61.841318, 好评率 3/5, 差评率 1/5, 基本满意 1/5.
    _import(cli, tmp_path, WORKED)
    table = ok(cli("index", "--by", "county", "--period", "2026-03"))
    [(heads, body)] = tables(table.stdout)
    assert heads == ["县级局代码", "县级局", "评价数", "满意指数", "好评率", "差评率", "基本满意占比", "好评数", "差评数",
                     "剔除数"]
    assert body == [["370213", "李沧区", "5", "61.8", "60.0%", "20.0%", "20.0%", "3", "1", "0"]]
    assert table.stderr == "满意指数 · 2026-03（2026-03-01 至 2026-03-31）· 指标体系 V1.0\n"
    lines = ok(cli("index", "--by", "county", "--period", "2026-03", "--format", "csv")).stdout.splitlines()
    assert lines[0].startswith("county,county_name,n,index,good_rate,bad_rate,basic_share,good,bad,excluded_n,")
    assert lines[1].startswith("370213,李沧区,5,61.8413,0.6,0.2,0.2,3,1,0,")
    data = json.loads(ok(cli("index", "--by", "county", "--period", "2026-03", "--format", "json")).stdout)
    assert (data["rows"][0]["good_rate"], round(data["rows"][0]["index"], 6)) == (0.6, 61.841318)


def test_rank_heading_gives_mu_and_w_rounded_and_the_change_signed(cli, tmp_path):
    rows = [(f"a{i}", f"2026-04-0{i + 1} 10:00:00", "LC01", "非常满意") for i in range(3)]
    rows += [(f"b{i}", f"2026-04-{i + 10} 10:00:00", "SN01", "满意") for i in range(9)]
    rows += [("p1", "2026-03-15 10:00:00", "LC02", "满意"), ("p2", "2026-03-16 10:00:00", "SN01", "非常满意")]
    _import(cli, tmp_path, HEADER_LINE + "".join(f"{r},{at},{w},二维码,XK01,{lv},,,,\n" for r, at, w, lv in rows))
    result = ok(cli("rank", "--by", "county", "--period", "2026-04"))
    # μ = (3·100 + 9·75)/12 = 81.25; W = 12 ratings / the 2 counties with ratings = 6; 李沧 75 → 100, 市南 100 → 75
    assert result.stderr.splitlines() == [
        "按县级局排名 · 2026-04（2026-04-01 至 2026-04-30）· 指标体系 V1.0",
        "收缩得分 = (W·μ + N·满意指数) ÷ (W + N)：μ = 81.2，W = 6（有评价的 2 个县级局的平均评价数）；较上期：与 2026-03 比较；"
        "2 个参与排名"]
    heads, body = tables(result.stdout)[0]
    assert heads == ["名次", "县级局代码", "名称", "评价数", "满意指数", "收缩得分", "好评率", "上期满意指数", "较上期",
                     "剔除数"]
    assert body[:2] == [["1", "370213", "李沧区", "3", "100.0", "87.5", "100.0%", "75.0", "+25.0", "0"],
                        ["2", "370202", "市南区", "9", "75.0", "77.5", "100.0%", "100.0", "-25.0", "0"]]
    assert body[2] == ["", "370203", "市北区", "0", "–", "–", "–", "–", "–", "0"]  # no ratings: no figure


def test_weigh_prints_the_pairwise_rows_as_numbers_and_weights_with_four_decimals(cli):
    result = ok(cli("indicators", "weigh", str(default_matrix_path())))
    criteria, priorities, offline, online = tables(result.stdout)
    assert criteria == (["准则", "行", "行合计", "权重"], [["影响程度", "1, 1, 5", "6", "0.4839"],
                                                       ["相关性", "1, 1, 5", "6", "0.4839"],
                                                       ["可控性", "1/5, 1/5, 1", "0.4", "0.0323"]])
    assert priorities[1][0][:5] == ["A1", "仪容仪表", "着装规范", "offline", "2.0968"]
    assert offline[1][0] == ["A1", "着装规范", "2.0968", "0.0549"]  # 65/1183, docs/method.md
    assert "3. 线下权重（合计 1.000000）" in result.stdout and "[" not in result.stdout


def _worked_cases(tmp_path_factory):
    from cases_support import add_ratings

    folder = tmp_path_factory.mktemp("stats")
    init_database(folder / "haocha.db")
    add_ratings(folder / "haocha.db", [
        {"rated_at": f"2025-03-0{3 + i % 5} 10:00:00", "window": window, "level": "不满意",
         **({"phone": f"1381234{i:04d}"} if i % 2 else {})}
        for i, window in enumerate(["LC01", "LC02", "SN01", "HD01", "LC01", "SB01", "CY01"])])
    return folder / "haocha.db"


@pytest.mark.parametrize("columns", [160, 100])
def test_cases_stats_fits_the_terminal_with_whole_headers(tmp_path_factory, monkeypatch, columns):
    from typer.testing import CliRunner

    from haocha_cli.cli import app

    db = _worked_cases(tmp_path_factory)
    monkeypatch.setenv("COLUMNS", str(columns))
    result = CliRunner().invoke(app, ["--db", str(db), "cases", "stats"], env={"HAOCHA_NOW": "2025-03-31 09:00:00"})
    ok(result)
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= columns  # as the terminal shows it
    printed = tables(result.stdout)
    keys = ("county", "name", "cases", "due", "closed", "closed_on_time", "overdue", "rectify_rate", "on_time_rate",
            "real_name", "revisited", "revisit_rate", "rerated", "rerate_satisfied", "rerate_satisfaction", "reopened",
            "appeals_filed", "appeals_upheld")
    # 复评满意率 by source: a table of its own, after the main one
    *printed, (source_heads, source_body) = printed
    source_keys = ("county", "name", "rerated", "rerated_followup", "rerate_satisfaction_followup", "rerated_phone",
                   "rerate_satisfaction_phone")
    assert source_heads == [labels.header(k) for k in source_keys]
    assert source_body[-1] == ["total", "全市", "0", "0", "–", "0", "–"]
    everything = [labels.header(k) for k in keys]
    # Each header whole, or on two lines at its break (实名差评 / 回访率), never inside a word.
    whole = {labels.header(k): [[labels.header(k)], labels.header_lines(k).split("\n")] for k in keys + source_keys}
    assert all(p in whole["".join(p)] for p in header_pieces(result.stdout))
    if columns == 160:  # the long headers on two lines, at their break: never inside a word
        [(heads, body)] = printed
        assert heads == everything
        assert "┃ 县级局 ┃" in result.stdout and "┃ 代码   ┃" in result.stdout
    else:  # too wide for 100 columns: two tables, each with the county's code and name
        assert len(printed) == 2
        assert all(heads[:2] == ["县级局代码", "名称"] for heads, _ in printed)
        assert printed[0][0] + printed[1][0][2:] == everything
        heads, body = printed[0]
    assert body[-1][:2] == ["total", "全市"] and "%" in body[-1][heads.index("整改率")]


def test_piped_tables_keep_their_rows_on_one_line_at_200_columns(cli, tmp_path):
    _import(cli, tmp_path, WORKED)
    out = ok(cli("cases", "list", "--status", "all")).stdout
    assert 100 < max(cell_len(line) for line in out.splitlines()) <= 200  # wider than a terminal's default 80
    [(heads, body)] = tables(out)
    assert heads[:4] == ["编号", "窗口编码", "评价等级", "评价时间"] and len(body) == 1
    assert len(out.splitlines()) == 5  # top border, header, rule, the row, bottom border


def test_values_on_the_terminal():
    shown = labels.shown
    assert [shown(0.6, labels.kind_of("good_rate")), shown(0.123, labels.kind_of("basic_share")),
            shown(0.5, labels.kind_of("rerate_satisfaction"))] == ["60.0%", "12.3%", "50.0%"]
    assert [shown(72.44, "index"), shown(-0.04, "change"), shown(2.5, "change")] == ["72.4", "+0.0", "+2.5"]
    assert [shown(None, "rate"), shown(None, "auto"), shown(float("nan"), "index")] == ["–", "", "–"]
    assert [shown(True), shown(False), shown(1, labels.kind_of("active")), shown(1, "auto")] == ["是", "否", "是", "1"]
    assert [shown(["1", "1", "5"]), shown({"370213": ["a", "b"]}), shown('["D2", "C1"]', "json")] == [
        "1, 1, 5", "370213: a, b", "D2, C1"]
    assert [shown(0.18518518518518517), shown(1e-40, "p"), shown(0.0516, "p"), shown(0.05, "plain")] == [
        "0.19", "<0.001", "0.052", "0.05"]
    assert [labels.decimals(0.18518518518518517), labels.decimals(100.0), labels.decimals(197.2)] == [
        "0.19", "100", "197.2"]


def test_csv_of_a_listing_keeps_english_keys(cli, tmp_path):
    _import(cli, tmp_path, WORKED)
    reader = csv.reader(io.StringIO(ok(cli("rank", "--period", "2026-03", "--format", "csv")).stdout))
    assert next(reader) == ["rank", "county", "name", "n", "index", "shrunk", "good_rate", "previous_index",
                            "change", "excluded_n"]
