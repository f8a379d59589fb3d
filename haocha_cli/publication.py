"""The public results report (结果公开): what the 51号 rules publish of a month or a quarter, per county and, on
request, per window — the number of ratings, 好评率, 差评率, 满意指数 and 差评整改率 — and nothing else.

It is built from the figures only (the daily aggregates and the cases' states), never from a rating's text:
no comment, no phone, no staff, no case number, and none of the city's internal oversight (suspicious-rating
flags, spot-checks, FMEA, risk levels, the audit anchor). A unit with fewer counted ratings than
``report.public_min_n`` shows 样本不足 in place of every figure, its number of ratings included.

Rendered by the report machinery of ``reports`` (Markdown and HTML from the same templates) and, for the
government portal, as a CSV (UTF-8 with a BOM, Chinese headers, CRLF lines).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from haocha_cli import cases as case_module
from haocha_cli import files, indices
from haocha_cli.clock import today
from haocha_cli.context import Context
from haocha_cli.errors import InvalidInput
from haocha_cli.periods import Period, parse_period

BY = ("county", "window")
FORMATS = ("md", "html", "csv", "all")

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "政务服务“好差评”结果公开", "notes": "说明", "by_county": "各区县局评价结果",
        "by_window": "各窗口评价结果", "county": "区县局", "window": "窗口", "n": "评价数", "good_rate": "好评率",
        "bad_rate": "差评率", "index": "满意指数", "rectify_rate": "差评整改率", "period": "统计期",
        "city": "全市", "too_few": "样本不足", "level": "单位层级", "unit": "单位名称", "parent": "所属区县局",
        "level_city": "全市", "level_county": "区县局", "level_window": "窗口", "pct": "(%)", "and": "",
        "month": "{year}年{month}月", "quarter": "{year}年第{q}季度",
        "note_scope": "统计期：{start} 至 {end}。统计范围：{bureau}及所属各区县局的政务服务窗口和网上办理渠道收到的服务评价。",
        "note_n": "评价数：统计期内计入统计的评价条数（经申诉核实后剔除的评价不计入）。",
        "note_rates": "好评率 = 评价为{good}的条数 ÷ 评价数；差评率 = 评价为{bad}的条数 ÷ 评价数。",
        "note_index": "满意指数：每条评价折算为 0–100 分（非常满意 100 分、满意 75 分、基本满意 50 分、不满意 25 分、"
                      "非常不满意 0 分；评价人对各项服务指标分别打分的，按指标权重加权计算），取全部评价的平均值。",
        "note_rectify": "差评整改率 = 已整改办结的差评件数 ÷ 应整改的差评件数。应整改的差评，是统计期内收到的差评中已办结的件数"
                        "与已超过整改期限（{days} 个工作日）仍未办结的件数之和；已办结包括整改完成、经核实无法整改并说明原因、"
                        "经市局审核无需整改的差评。整改情况统计至 {today}；没有应整改差评的单位显示为“–”。",
        "note_min_n": "评价数少于 {min_n} 条的单位，结果不具代表性，各项数据均显示为“样本不足”。",
        "note_none": "本结果不含评价人的个人信息和评价内容。",
    },
    "en": {
        "title": "Government service review results (public)", "notes": "Notes", "by_county": "Results by county",
        "by_window": "Results by window", "county": "County", "window": "Window", "n": "Ratings",
        "good_rate": "Good rate", "bad_rate": "Bad rate", "index": "Index", "rectify_rate": "Bad reviews rectified",
        "period": "Period", "city": "City total", "too_few": "too few ratings", "level": "Level", "unit": "Unit",
        "parent": "County", "level_city": "city", "level_county": "county", "level_window": "window", "pct": " (%)",
        "and": ", ", "month": "{year}-{month:02d}", "quarter": "{year} Q{q}",
        "note_scope": "Period: {start} to {end}. Scope: the ratings of the service windows and online channels of"
                      " {bureau} and its county bureaus.",
        "note_n": "Ratings: the ratings counted in the period (ratings excluded after an upheld appeal are not).",
        "note_rates": "Good rate = ratings {good} ÷ ratings; bad rate = ratings {bad} ÷ ratings.",
        "note_index": "Index: each rating scores 0–100 (very satisfied 100, satisfied 75, basically satisfied 50,"
                      " dissatisfied 25, very dissatisfied 0; indicator scores, where the rater gave them, weighted"
                      " by the indicator weights); the index is their mean.",
        "note_rectify": "Bad reviews rectified = bad reviews dealt with ÷ bad reviews due. Due: of the period's bad"
                        " reviews, those dealt with plus those still open past their deadline ({days} working days);"
                        " dealt with: rectified, found unrectifiable with the reason recorded, or no action needed"
                        " as approved by the city bureau. Cases as of {today}; “–”: no bad review due.",
        "note_min_n": "A unit with fewer than {min_n} ratings shows “too few ratings” in place of every figure.",
        "note_none": "These results hold no rater's personal data and no rating's text.",
    },
}


def period_name(period: Period, L: dict[str, str]) -> str:
    """2026年8月, 2026年第三季度 … as the public reads a period; other periods by their dates."""
    if period.kind == "month":
        return L["month"].format(year=period.start.year, month=period.start.month)
    if period.kind == "quarter":
        q = (period.start.month - 1) // 3 + 1
        return L["quarter"].format(year=period.start.year, q="一二三四"[q - 1] if L is LABELS["zh"] else q)
    return period.label


def public_period(month: str | None, quarter: str | None) -> Period:
    """The period of ``--month`` or ``--quarter`` (one of the two)."""
    if bool(month) == bool(quarter):
        raise InvalidInput("give --month or --quarter" + (", not both" if month else ""),
                           "e.g. --month 2026-08 or --quarter 2026-Q3")
    period = parse_period(month or quarter)
    if month and period.kind != "month":
        raise InvalidInput(f"--month {month!r} is not a month", "write YYYY-MM, e.g. 2026-08")
    if quarter and period.kind != "quarter":
        raise InvalidInput(f"--quarter {quarter!r} is not a quarter", "write YYYY-Qn, e.g. 2026-Q3")
    return period


def public(ctx: Context, period: Period, by: str = "county", lang: str = "zh") -> dict[str, Any]:
    """The public results report of ``period`` (a month or a quarter): every county, and every window with
    ``by="window"``. Publishing is the city bureau's act (市局): a county operator is refused and pointed to
    its own county's report."""
    from haocha_cli.reports import _bureau, _city_report, _section

    if by not in BY:
        raise InvalidInput(f"--by {by!r} is neither county nor window", "use --by county or --by window")
    if period.kind not in ("month", "quarter"):
        raise InvalidInput(f"the period {period.label} is neither a month nor a quarter",
                           "give --month 2026-08 or --quarter 2026-Q3")
    _city_report(ctx, "publishing the results (结果公开)", period.label)
    L = LABELS[lang]
    min_n = int(ctx.config["report.public_min_n"])
    units = _units(ctx, period, by, L)
    for unit in units:
        unit["shown"] = unit["n"] >= min_n
    bureau = _bureau(ctx)
    levels = {"good": _level_list(ctx.config["good_levels"], L), "bad": _level_list(ctx.config["bad_levels"], L)}
    notes = [
        L["note_scope"].format(start=period.start, end=period.end, bureau=bureau),
        L["note_n"],
        L["note_rates"].format(**levels),
        L["note_index"],
        L["note_rectify"].format(days=ctx.config["deadlines.rectify_days"], today=today().isoformat()),
        L["note_min_n"].format(min_n=min_n),
        L["note_none"],
    ]
    county_rows = [u for u in units if u["level"] != "window"]
    sections = [_section(L["by_county"], tables=[_table_of(county_rows, L, L["county"])])]
    if by == "window":  # a table per county, the county's name above it: narrow enough for a phone
        windows = [u for u in units if u["level"] == "window"]
        counties = list(dict.fromkeys(u["county"] for u in windows))
        sections.append(_section(L["by_window"], tables=[
            _table_of([u for u in windows if u["county"] == county], L, L["window"], caption=county)
            for county in counties]))
    sections.append(_section(L["notes"], paragraphs=notes))
    stem = f"public-{period.label}" if by == "county" else f"public-window-{period.label}"
    return {"kind": "public", "title": f"{bureau}{L['title']}（{period_name(period, L)}）" if lang == "zh"
            else f"{bureau} {L['title']} ({period_name(period, L)})", "lang": lang,
            "subtitle": f"{L['period']}: {period.start} … {period.end}", "sections": sections,
            "file_stem": stem, "units": units, "period": period.label}


def _level_list(names: list[str], L: dict[str, str]) -> str:
    return L["and"].join(f"“{name}”" for name in names)


def _units(ctx: Context, period: Period, by: str, L: dict[str, str]) -> list[dict[str, Any]]:
    """The city, each county and (``by="window"``) each window: its counted ratings and figures, and the
    closed/due counts of its bad reviews' cases (``cases.case_stats``'s definitions)."""
    city = indices.index(ctx.db, ctx.config, period)["rows"][0]
    counties = {r["county"]: r for r in indices.index(ctx.db, ctx.config, period, ["county"])["rows"]}
    loop = {r["county"]: r for r in case_module.case_stats(ctx, None, period.start, period.end)}
    units = [_unit("city", L["city"], "", city, loop["total"])]
    names = {}
    for c in ctx.db.query("SELECT code, name FROM counties ORDER BY code"):
        names[c["code"]] = c["name"]
        units.append(_unit("county", c["name"], "", counties.get(c["code"]), loop.get(c["code"])))
    if by == "window":
        figures = {r["window"]: r for r in indices.index(ctx.db, ctx.config, period, ["window"])["rows"]}
        window_loop = window_case_counts(ctx, period)
        # The active windows, and a window closed since that was rated (or had a case) in the period.
        for w in ctx.db.query("SELECT code, name, county_code, active FROM windows ORDER BY county_code, code"):
            if w["active"] or w["code"] in figures or w["code"] in window_loop:
                units.append(_unit("window", w["name"], names.get(w["county_code"], w["county_code"]),
                                   figures.get(w["code"]), window_loop.get(w["code"])))
    return units


def _unit(level: str, name: str, parent: str, figures: dict[str, Any] | None,
          loop: dict[str, Any] | None) -> dict[str, Any]:
    figures = figures or {}
    due = (loop or {}).get("due", 0)
    closed = (loop or {}).get("closed", 0)
    return {"level": level, "name": name, "county": parent, "n": figures.get("n") or 0,
            "good_rate": figures.get("good_rate"), "bad_rate": figures.get("bad_rate"), "index": figures.get("index"),
            "due": due, "closed": closed, "rectify_rate": closed / due if due else None}


def window_case_counts(ctx: Context, period: Period) -> dict[str, dict[str, int]]:
    """Per window, the closed and due counts of the cases of the period's bad reviews, as of today: the same
    definitions as ``cases.case_stats`` per county (due = dealt with + open past the deadline), so that a
    county's windows add up to the county."""
    resolved = ",".join("?" * len(case_module.RESOLVED_STATES))
    open_ = ",".join("?" * len(case_module.OPEN_STATES))
    sql = (f"SELECT window_code, sum(state IN ({resolved})) AS closed,"
           f" sum(state IN ({resolved}) OR (state IN ({open_}) AND rectify_due < ?)) AS due FROM cases"
           " WHERE state != 'excluded' AND rated_at >= ? AND rated_at < date(?, '+1 day') GROUP BY window_code")
    params = [*case_module.RESOLVED_STATES, *case_module.RESOLVED_STATES, *case_module.OPEN_STATES,
              today().isoformat(), period.start.isoformat(), period.end.isoformat()]
    return {r["window_code"]: {"closed": r["closed"], "due": r["due"]} for r in ctx.db.query(sql, params)}


def _cells(unit: dict[str, Any], L: dict[str, str], *, csv_cells: bool = False) -> list[str]:
    """The five figures of a unit as shown: 样本不足 in each when it has too few ratings."""
    if not unit["shown"]:
        return [L["too_few"]] * 5

    def pct(value: float | None) -> str:
        if value is None:
            return "" if csv_cells else "–"
        return f"{value * 100:.1f}" if csv_cells else f"{value * 100:.1f}%"

    if unit["index"] is None:
        index = "" if csv_cells else "–"
    else:
        index = f"{unit['index']:.1f}"
    return [str(unit["n"]), pct(unit["good_rate"]), pct(unit["bad_rate"]), index, pct(unit["rectify_rate"])]


def _table_of(units: list[dict[str, Any]], L: dict[str, str], unit_label: str,
              caption: str | None = None) -> dict[str, Any]:
    from haocha_cli.reports import _table

    columns = [unit_label, L["n"], L["good_rate"], L["bad_rate"], L["index"], L["rectify_rate"]]
    return _table(columns, [[u["name"], *_cells(u, L)] for u in units], caption=caption)


def csv_text(report: dict[str, Any]) -> str:
    """The report's units as the government portal takes them: one row per unit (全市, 区县局, 窗口), the rates in
    per cent with one decimal, 样本不足 in place of a small unit's figures, empty where there is no figure."""
    from haocha_cli.spreadsheet import csv_safe

    L = LABELS[report["lang"]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([L["period"], L["level"], L["unit"], L["parent"], L["n"], L["good_rate"] + L["pct"],
                     L["bad_rate"] + L["pct"], L["index"], L["rectify_rate"] + L["pct"]])
    for u in report["units"]:
        writer.writerow([csv_safe(cell) for cell in (report["period"], L[f"level_{u['level']}"], u["name"], u["county"],
                                                     *_cells(u, L, csv_cells=True))])
    return out.getvalue()


def write(report: dict[str, Any], fmt: str, out_dir: Path, modes: files.Modes = files.OWNER_ONLY) -> list[Path]:
    """Write the public report as Markdown, HTML and/or CSV (``all``: the three) into ``out_dir``."""
    from haocha_cli import reports

    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not md, html, csv or all", "use --format md|html|csv|all")
    written = []
    if fmt in ("md", "html", "all"):
        written += reports.write(report, "both" if fmt == "all" else fmt, out_dir, modes)
    if fmt in ("csv", "all"):
        files.make_dirs(out_dir, modes)
        path = out_dir / f"{report['file_stem']}.csv"
        tmp = path.with_suffix(".csv.tmp")
        # A BOM so that Excel and the portals' importers read it as UTF-8; the CRLF lines as written.
        with files.open_file(tmp, "w", modes, encoding="utf-8-sig", newline="") as fh:
            fh.write(csv_text(report))
        tmp.replace(path)  # never half a file under the report's name
        written.append(path)
    return written
