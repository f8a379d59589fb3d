"""Reports (报告): daily for cron, monthly, per county — data gathered from the core modules into sections,
rendered to Markdown and self-contained HTML from the Jinja templates in templates/.

Every report is a function of the database and its date: no "generated at" clock, so the same inputs give
the same bytes (cron re-runs are idempotent).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup

from haocha_cli import cases as case_module
from haocha_cli import charts, control_charts, daily_charts, files, indices
from haocha_cli.catalogue import get_county
from haocha_cli.context import Context
from haocha_cli.db import get_meta
from haocha_cli.errors import InvalidInput
from haocha_cli.indicators import registry
from haocha_cli.periods import Period, date_range, parse_period
from haocha_cli.privacy import mask_numbers
from haocha_cli.untrusted import show_controls

KINDS = ("daily", "monthly", "county", "public")
FORMATS = ("md", "html", "both")
LANGS = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "daily": "好差评日报", "monthly": "好差评月报", "county": "县级局好差评报告", "indicator_version": "指标体系版本",
        "overview": "总体情况", "n": "评价数 N", "index": "满意指数", "good_rate": "好评率", "bad_rate": "差评率",
        "basic_share": "基本满意占比", "excluded": "剔除数", "by_county": "分区县", "by_channel": "分渠道",
        "county_col": "区县局", "channel": "评价渠道", "window": "窗口", "item": "事项", "level": "评价等级",
        "time": "评价时间", "comment": "文字评价", "phone": "联系电话", "case": "整改事项",
        "new_bad": "新增差评", "none": "无", "state": "状态",
        "rectify_due": "整改期限",
        "signals": "控制图信号", "metric": "指标", "rules": "判异准则", "value": "当日值", "flags": "可疑评价",
        "rule": "规则", "evidence": "依据", "ranking": "区县排名", "rank": "名次", "shrunk": "收缩得分",
        "change": "较上期", "heat": "指标热力表（满意指数，括号内为 N）", "trend": "满意指数趋势",
        "control_chart": "差评率控制图", "loop": "闭环整改", "cases": "整改事项数", "due": "应整改",
        "closed": "已整改", "closed_on_time": "按时整改", "rectify_rate": "整改率", "on_time_rate": "按时整改率",
        "revisit_rate": "实名差评回访率", "rerate_rate": "复评满意率", "appeals": "申诉/支持",
        "spotcheck": "市局抽查回访", "checks": "抽查数", "confirmed": "属实", "failed": "不属实",
        "unreachable": "无法联系", "pending": "待核查", "pass_rate": "通过率", "fmea": "风险管控（FMEA）",
        "failure_mode": "失效模式", "step": "环节", "rpn": "RPN", "ap": "措施优先级", "risk_level": "风险等级",
        "benchmark": "对标分析：各区县最弱的三项指标", "weakest": "最弱指标", "gap": "与标杆差距",
        "pilot": "试点效果评估", "pilot_county": "试点区县", "before": "试点前", "after": "试点后",
        "comparison": "比较", "diff": "变化", "ci": "95% 置信区间", "p": "p 值", "did": "双重差分",
        "control_group": "其他区县（对照）", "windows": "窗口满意度",
        "rating_rate": "主动评价率（评价数 ÷ 办件量）", "services": "办件量", "rate": "主动评价率",
        "rate_flags": "主动评价率提示（市局核查）：{windows}", "rate_flags_none": "本月无主动评价率提示。",
        "period": "统计期", "city": "全市", "note_n0": "本期无计入统计的评价（N = 0）。", "masked": "电话已脱敏显示",
        "signal_none": "当日无控制图信号。", "flags_none": "当日无可疑评价提示。",
        "risk_levels": "区县风险等级（抽查比例依此设定）", "risk_high": "高", "risk_medium": "中", "risk_low": "低",
        "chart_note": "p̄ = {center}（基线 {baseline}）；本月控制图信号 {n} 个",
        "metric_bad-rate": "差评率", "metric_index": "满意指数",
        "calendar_unknown": "提示：haocha 所知的国务院放假安排只到 {last} 年，{year} 年的调休安排尚未确定：{year} 年的整改和回访"
                            "期限已避开周末和法定节假日（元旦、春节、清明节、劳动节、端午节、中秋节、国庆节），未含调休上班日"
                            "和补假。国务院放假通知发布后，请用 haocha calendar import 导入（日期,类型,备注），"
                            "未办结事项的期限将重新计算。",
        "ranking_note": "收缩得分 = (W·μ + N·满意指数) ÷ (W + N)，μ = {mu}，W = {w}；较上期：与 {previous} 比较",
        "w_mean": "{w}（有评价的 {k} 个区县的平均评价数）", "w_configured": "{w}（配置值）",
        "audit_anchor": "审计锚点",
        "anchor_note": "以上为本报告生成时审计日志最后一条事件的编号与哈希。存档的日报是审计日志在数据库之外的见证："
                       "运行 haocha audit verify --anchor {anchor} 可证明该事件及其之前的记录未被删除或改写。",
    },
    "en": {
        "daily": "Daily review report", "monthly": "Monthly review report", "county": "County review report",
        "indicator_version": "Indicator system", "overview": "Overview", "n": "N", "index": "Index",
        "good_rate": "Good rate", "bad_rate": "Bad rate", "basic_share": "Basic share", "excluded": "Excluded",
        "by_county": "By county", "by_channel": "By channel", "county_col": "County", "channel": "Channel",
        "window": "Window", "item": "Item", "level": "Level", "time": "Time", "comment": "Comment",
        "phone": "Phone", "case": "Case", "new_bad": "New bad reviews", "none": "None",
        "state": "State", "rectify_due": "Due",
        "signals": "Control-chart signals", "metric": "Metric",
        "rules": "Rules", "value": "Value", "flags": "Suspicious ratings", "rule": "Rule", "evidence": "Evidence",
        "ranking": "County ranking", "rank": "Rank", "shrunk": "Shrunk score", "change": "Change",
        "heat": "Indicator heat table (index, N in brackets)", "trend": "Index trend",
        "control_chart": "Bad-rate control chart", "loop": "Closed loop", "cases": "Cases", "due": "Due",
        "closed": "Closed", "closed_on_time": "On time", "rectify_rate": "Rectified", "on_time_rate": "On time rate",
        "revisit_rate": "Return visits", "rerate_rate": "Re-rating satisfied", "appeals": "Appeals/upheld",
        "spotcheck": "City spot-checks", "checks": "Checks", "confirmed": "Confirmed", "failed": "Failed",
        "unreachable": "Unreachable", "pending": "Pending", "pass_rate": "Pass rate", "fmea": "Risk control (FMEA)",
        "failure_mode": "Failure mode", "step": "Step", "rpn": "RPN", "ap": "AP", "risk_level": "Risk level",
        "benchmark": "Benchmarking: each county's three weakest indicators", "weakest": "Weakest", "gap": "Gap",
        "pilot": "Pilot evaluation", "pilot_county": "Pilot county", "before": "Before", "after": "After",
        "comparison": "Comparison", "diff": "Change", "ci": "95% CI", "p": "p-value",
        "did": "Difference in differences", "control_group": "Other counties (control)", "windows": "Windows",
        "rating_rate": "Rating rate (ratings ÷ services)", "services": "Services", "rate": "Rating rate",
        "rate_flags": "Windows flagged by their rating rate (for the city to check): {windows}",
        "rate_flags_none": "No window flagged by its rating rate this month.",
        "period": "Period", "city": "City",
        "note_n0": "No counted ratings in this period (N = 0).", "masked": "phones masked",
        "signal_none": "No control-chart signal on this day.", "flags_none": "No suspicious rating on this day.",
        "risk_levels": "County risk levels (set the spot-check rates)",
        "chart_note": "p̄ = {center} (baseline {baseline}); {n} control-chart signals this month",
        "metric_bad-rate": "bad rate", "metric_index": "index",
        "calendar_unknown": "Note: the official holidays haocha knows end with {last}, and {year}'s make-up working"
                            " days (调休) are not known yet: deadlines in {year} skip weekends and the statutory"
                            " holidays (元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆), not the notice's 调休 and"
                            " replacement days off. When the State Council publishes its notice, record it with"
                            " haocha calendar import (day, kind, note); open cases' deadlines are then recounted.",
        "ranking_note": "shrunk score = (W·μ + N·index) / (W + N), μ = {mu}, W = {w}; change: against {previous}",
        "w_mean": "{w} (the mean N of the {k} counties with ratings)", "w_configured": "{w} (configured)",
        "audit_anchor": "Audit anchor (审计锚点)",
        "anchor_note": "The id and hash of the last audit event when this report was made. Archived reports witness"
                       " the audit trail from outside the database: haocha audit verify --anchor {anchor} proves"
                       " that nothing up to that event was removed or rewritten.",
    },
}


def _unsigned_zero(text: str) -> str:
    """-0.0 and +0.0 (a change of -0.04 rounded) read 0.0: a figure never carries the sign of nothing."""
    return text[1:] if text[:1] in "+-" and float(text.rstrip("%")) == 0 else text


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else _unsigned_zero(f"{value:.{digits}f}")


def _pct(value: float | None) -> str:
    return "–" if value is None else _unsigned_zero(f"{value * 100:.1f}") + "%"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def _signed(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else _unsigned_zero(f"{value:+.{digits}f}")


def _table(columns: list[str], rows: list[list[Any]], caption: str | None = None,
           heat: list[list[float | None]] | None = None) -> dict[str, Any]:
    return {"caption": caption, "columns": columns, "rows": [[str(c) for c in r] for r in rows], "heat": heat}


def _section(title: str, *, paragraphs: list[str] | None = None, tables: list[dict] | None = None,
             charts_: list[str] | None = None) -> dict[str, Any]:
    return {"title": title, "paragraphs": paragraphs or [], "tables": tables or [],
            "charts": [Markup(c) for c in charts_ or []]}


def _bureau(ctx: Context) -> str:
    return get_meta(ctx.db, "city_bureau_name") or ctx.config["bureau_name"]


def _figures_table(L, rows: list[dict], key: str, key_label: str, name_key: str | None = None) -> dict[str, Any]:
    columns = [key_label, L["n"], L["index"], L["good_rate"], L["bad_rate"], L["basic_share"], L["excluded"]]
    body = []
    for r in rows:
        label = r.get(key, L["city"]) if key else L["city"]
        if name_key and r.get(name_key):
            label = f"{r[name_key]} ({label})"
        body.append([label, r["n"], _num(r["index"]), _pct(r["good_rate"]), _pct(r["bad_rate"]),
                     _pct(r["basic_share"]), r["excluded_n"]])
    return _table(columns, body)


def _city_report(ctx: Context, what: str, period: str) -> None:
    """The daily and monthly reports show every county (their bad reviews with comments, the ranking): the
    city's. A county reads its own figures, windows and cases in its county report."""
    own = ctx.operator.county_code
    ctx.require_city(f"{what} of every county", f"a county's own report: haocha report county --county {own} "
                     f"--period {period}")


# A report lists this many cases at most, the most urgent, and says how many there are: its size does not
# grow with the backlog (the whole list is the work list's: the workbench, `haocha cases list`).
LISTED_CASES = 20

# The labels of the daily report's due cases and of the county report.
LABELS["zh"].update({
    "due_cases": "回访到期、整改超期与即将到期的整改事项", "urgency": "紧急程度", "total_col": "合计",
    "revisit_due": "回访期限", "due_counts": "分区县件数",
    "listed_some": "共 {total} 件，下表列出最紧急的 {shown} 件（全部见工作台或 haocha cases list）。",
    "listed_all": "共 {total} 件，全部列出如下。", "open_cases": "未结整改事项（截至 {day}，按紧急程度）",
    "headline": "{name} {period}：评价 {n} 条，满意指数 {index}（全市 {city}），在参加排名的 {ranked} 个区县中"
                "排第 {rank} 名。",
    "headline_unranked": "{name} {period}：本期无计入统计的评价（N = 0），未参加排名。",
    "county_rank": "在各区县中的排名", "rank_of": "{rank} / {ranked}",
    "county_loop": "闭环整改：与全市和目标比较", "target": "目标", "met": "达标", "not_met": "未达标",
    "met_col": "是否达标",
    "loop_counts": "整改事项 {cases} 件，应整改 {due} 件，已整改 {closed} 件（按时 {on_time} 件），实名差评 {real} 件，"
                   "已回访 {visited} 件，复评 {rerated} 件。",
    "loop_note": "统计期内评价的差评所开整改事项，办理情况截至今日；目标见配置 report.targets（1.0 = 100%，0 = 不设目标）。",
    "county_benchmark": "对标分析：各项指标与全市和标杆的差距", "best": "标杆", "gap_city": "与全市差距",
    "gap_best": "与标杆差距", "self_best": "本县为标杆",
    "bench_note": "标杆为本期该项指标满意指数最高的区县（至少 {min_n} 个评分）；差距 = 本县 − 全市或标杆，单位为分。"
                  "最弱的三项指标：{weakest}。",
    "bench_without": "{k} 项指标本期没有区县达到 {min_n} 个评分，不设标杆（–）。",
    "county_spot": "市局抽查回访结果", "spot_none": "本期市局未抽查本县。",
})
LABELS["en"].update({
    "due_cases": "Return visits due, overdue and due-soon cases", "urgency": "Urgency", "total_col": "Total",
    "revisit_due": "Visit due", "due_counts": "Cases per county",
    "listed_some": "{total} in all; the {shown} most urgent below (all of them: the workbench or haocha cases list).",
    "listed_all": "{total} in all, all listed below.", "open_cases": "Open cases (as of {day}, by urgency)",
    "headline": "{name}, {period}: {n} ratings, index {index} (city {city}), rank {rank} of the {ranked} ranked"
                " counties.",
    "headline_unranked": "{name}, {period}: no counted ratings (N = 0), not ranked.",
    "county_rank": "Rank among the counties", "rank_of": "{rank} of {ranked}",
    "county_loop": "Closed loop against the city and the targets", "target": "Target", "met": "met",
    "met_col": "Met",
    "not_met": "not met",
    "loop_counts": "{cases} cases, {due} due, {closed} closed ({on_time} on time); {real} real-name bad reviews,"
                   " {visited} visited; {rerated} re-rated.",
    "loop_note": "Cases of the bad reviews rated in the period, as they stand today; targets from the setting"
                 " report.targets (1.0 = 100%, 0 = none).",
    "county_benchmark": "Benchmarking: each indicator against the city and the benchmark", "best": "Benchmark",
    "gap_city": "Gap to city", "gap_best": "Gap to benchmark", "self_best": "this county is the benchmark",
    "bench_note": "The benchmark is the county with the highest index on the indicator this period (at least"
                  " {min_n} scores); gap = this county − the city or the benchmark, in points. The three weakest:"
                  " {weakest}.",
    "bench_without": " On {k} indicators no county reached {min_n} scores this period: no benchmark (–).",
    "county_spot": "City spot-check results", "spot_none": "The city spot-checked none of this county's cases"
                                                           " in this period.",
    **{f"urgency_{u}": name for u, name in enumerate((
        "return visit due", "overdue", "due soon", "waiting for the city", "reopened", "new", "in rectification",
        "resolved"))},
})


def _named(name: str | None, code: str | None) -> str:
    """A name with its code beside it: 李沧区 (370213), as every table of the reports shows a unit."""
    if not code:
        return "–"
    return f"{name} ({code})" if name else code


def _urgency_name(urgency: int, L) -> str:
    from haocha_cli.worklist import URGENCY

    return L.get(f"urgency_{urgency}", URGENCY[urgency])


def _listed_note(total: int, shown: int, L) -> str:
    return L["listed_all" if shown >= total else "listed_some"].format(total=total, shown=shown)


# --- daily ---------------------------------------------------------------------------------------------

def daily(ctx: Context, day: date, lang: str = "zh") -> dict[str, Any]:
    """The city's daily report of every county (市局); a county operator is refused and pointed to its own
    county's report (``county``)."""
    _city_report(ctx, "the daily report", day.isoformat())
    L = LABELS[lang]
    period = Period(day, day, day.isoformat(), "day")
    city = indices.index(ctx.db, ctx.config, period)
    by_county = indices.index(ctx.db, ctx.config, period, ["county"])
    by_channel = indices.index(ctx.db, ctx.config, period, ["channel"])
    sections = [
        _section(L["overview"], tables=[_figures_table(L, city["rows"], "", L["period"])],
                 paragraphs=[L["note_n0"]] if city["note"] else []),
        _section(L["by_county"], tables=[_figures_table(L, by_county["rows"], "county", L["county_col"], "county_name")]),
        _section(L["by_channel"], tables=[_figures_table(L, by_channel["rows"], "channel", L["channel"])]),
        _section(L["new_bad"] + f" ({L['masked']})", tables=[_new_bad_reviews(ctx, day, L)]),
        _due_cases_section(ctx, day, L),
        _signals_section(ctx, day, L),
        _flags_section(ctx, day, L),
        _anchor_section(ctx, L),
    ]
    return {"kind": "daily", "title": f"{_bureau(ctx)} {L['daily']} {day.isoformat()}", "lang": lang,
            "subtitle": f"{L['indicator_version']}: {city['weights_version']}", "sections": sections,
            "file_stem": f"daily-{day.isoformat()}"}


def _anchor_section(ctx: Context, L) -> dict[str, Any]:
    """The audit anchor (审计锚点) as the trail stands: every archived report is a witness outside the database
    that `haocha audit verify --anchor` checks the trail against (docs/reliability.md)."""
    from haocha_cli.audit import anchor

    value = anchor(ctx.db)
    return _section(L["audit_anchor"], paragraphs=[value, L["anchor_note"].format(anchor=value)] if value
                    else [L["none"]])


def _calendar_warning(ctx: Context, day: date, L) -> list[str]:
    """In the last weeks of the year: the next year's holidays are not known yet (the cron report is where
    the bureau will see it)."""
    from haocha_cli.bureau_calendar import unknown_year_ahead
    from haocha_cli.official_calendar import LAST_KNOWN_YEAR

    year = unknown_year_ahead(ctx.db, day)
    return [] if year is None else [L["calendar_unknown"].format(last=LAST_KNOWN_YEAR, year=year)]


def _new_bad_reviews(ctx: Context, day: date, L) -> dict[str, Any]:
    """Every bad review of the day (the day's ratings bound them, not the backlog), names beside codes."""
    bad = sorted(ctx.config.bad_levels)
    rows = ctx.db.query(
        "SELECT r.rated_at, r.county_code, n.name AS county_name, r.window_code, w.name AS window_name, r.item_code,"
        " i.name AS item_name, r.level, r.comment, k.phone_masked, c.id AS case_id FROM ratings r"
        " LEFT JOIN contacts k ON k.id = r.contact_id LEFT JOIN cases c ON c.rating_id = r.id"
        " LEFT JOIN counties n ON n.code = r.county_code LEFT JOIN windows w ON w.code = r.window_code"
        " LEFT JOIN items i ON i.code = r.item_code"
        f" WHERE r.day = ? AND r.level IN ({','.join('?' * len(bad))}) ORDER BY r.rated_at, r.id",
        [day.isoformat(), *bad])
    from haocha_cli.config import LEVELS

    body = [[r["rated_at"][11:16], _named(r["county_name"], r["county_code"]),
             _named(r["window_name"], r["window_code"]), _named(r["item_name"], r["item_code"]),
             LEVELS[r["level"] - 1], mask_numbers(r["comment"]) or "", r["phone_masked"] or "–", r["case_id"] or "–"]
            for r in rows]
    return _table([L["time"], L["county_col"], L["window"], L["item"], L["level"], L["comment"], L["phone"],
                   L["case"]], body or [[L["none"]] + [""] * 7])


def _due_cases_section(ctx: Context, day: date, L) -> dict[str, Any]:
    """The open cases due at the end of ``day`` (return visit due, rectification overdue, due within
    deadlines.due_soon_days working days): the count per county and the ``LISTED_CASES`` most urgent with the
    total, so that a backlog of thousands makes the report no longer."""
    from haocha_cli import worklist

    due = worklist.open_by_urgency(ctx, day=day, urgencies=worklist.DUE_URGENCIES, limit=LISTED_CASES)
    shown = due["urgencies"]
    counts = [[_named(c["county_name"], c["county"]), *(c[u] for u in shown), sum(c[u] for u in shown)]
              for c in due["counts"]]
    counts.append([L["city"], *(sum(c[u] for c in due["counts"]) for u in shown), due["total"]])
    tables = [_table([L["county_col"], *(_urgency_name(u, L) for u in shown), L["total_col"]], counts,
                     caption=L["due_counts"])]
    if due["rows"]:
        tables.append(_table(
            [L["case"], L["urgency"], L["county_col"], L["window"], L["item"], L["state"], L["revisit_due"],
             L["rectify_due"]],
            [[r["id"], _urgency_name(r["urgency"], L), _named(r["county_name"], r["county"]),
              _named(r["window_name"], r["window"]), _named(r["item_name"], r["item"]), r["状态"],
              r["revisit_due"] or "–", r["rectify_due"]] for r in due["rows"]]))
    return _section(L["due_cases"], paragraphs=[_listed_note(due["total"], len(due["rows"]), L),
                                                *_calendar_warning(ctx, day, L)], tables=tables)


def _signals_section(ctx: Context, day: date, L) -> dict[str, Any]:
    rows = []
    counties = dict(ctx.db.execute("SELECT code, name FROM counties ORDER BY code").fetchall())
    for county in [None, *counties]:
        for s in daily_charts.signals_on(ctx.db, ctx.config, day, county):
            name = _display_name(L)
            rows.append([_named(counties[county], county) if county else L["city"],
                         L.get(f"metric_{s['metric']}", s["metric"]),
                         _num(s["value"], 3), "; ".join(name(d) for d in s["descriptions"])])
    if not rows:
        return _section(L["signals"], paragraphs=[L["signal_none"]])
    return _section(L["signals"], tables=[_table([L["county_col"], L["metric"], L["value"], L["rules"]], rows)])


def _flags_section(ctx: Context, day: date, L) -> dict[str, Any]:
    from haocha_cli import flags

    found = flags.list_flags(ctx, Period(day, day, day.isoformat(), "day"))
    if not found:
        return _section(L["flags"], paragraphs=[L["flags_none"]])
    counties = dict(ctx.db.execute("SELECT code, name FROM counties").fetchall())
    windows = dict(ctx.db.execute("SELECT code, name FROM windows").fetchall())
    rule = (lambda code: flags.RULE_NAMES.get(code, code)) if L is LABELS["zh"] else str
    body = [[rule(f["rule"]), _named(counties.get(f["county"]), f["county"]),
             _named(windows.get(f["window"]), f["window"]), f["rated_at"][11:16],
             flags.describe(f["rule"], f["evidence"])] for f in found]
    return _section(L["flags"], tables=[_table([L["rule"], L["county_col"], L["window"], L["time"], L["evidence"]], body)])


# --- monthly -------------------------------------------------------------------------------------------

def monthly(ctx: Context, month: Period, lang: str = "zh") -> dict[str, Any]:
    """The city's monthly report: the ranking of the counties and every county's figures (市局); a county
    operator is refused and pointed to its own county's report (``county``)."""
    _city_report(ctx, "the monthly report", month.label)
    L = LABELS[lang]
    # The report shows no row's per-indicator means but the heat map's: its other index reads leave them out.
    city = indices.index(ctx.db, ctx.config, month, indicators=False)
    ranking = indices.rank(ctx.db, ctx.config, month, "county")
    control = _control_chart_section(ctx, month, L)
    loop = case_module.case_stats(ctx, None, month.start, month.end)  # the headline's and the loop section's
    bench = indices.benchmark(ctx.db, month)  # the heat map's and the benchmark's: one read of the month's scores
    sections = [
        _section(L["overview"], tables=[_figures_table(L, city["rows"], "", L["period"])],
                 paragraphs=[L["note_n0"]] if city["note"] else []),
        _ranking_section(ranking, L),
        *_rating_rate_section(ctx, month, L),
        _heat_section(ctx, month, L, bench),
        _trend_section(ctx, month, L),
        control,
        _loop_section(loop, L),
        _spotcheck_section(ctx, month, L),
        _fmea_section(ctx, L),
        _benchmark_section(ctx, L, bench),
    ]
    pilot = _pilot_section(ctx, L)
    if pilot:
        sections.append(pilot)
    return {"kind": "monthly", "title": f"{_bureau(ctx)} {L['monthly']} {month.label}", "lang": lang,
            "subtitle": f"{L['period']}: {month.start} … {month.end} · {L['indicator_version']}: {city['weights_version']}",
            "headline": _headline(ctx, month, L, city["rows"][0], ranking, control.get("signal_days"), loop[-1]),
            "sections": sections, "file_stem": f"monthly-{month.label}"}


# The monthly report's headline (本月要点): how the month went against the month before and the same month a
# year before, in plain sentences and a row of figures, first on the page.
LABELS["zh"].update({
    "hl_title": "本月要点", "hl_month": "{year}年{month}月", "hl_prev": "上月", "hl_year": "去年同月",
    "hl_up": "较{ref}上升 {d}{unit}", "hl_down": "较{ref}下降 {d}{unit}", "hl_flat": "与{ref}持平",
    "hl_none": "{ref}无数据", "hl_short": "较{ref} {d}", "hl_short_none": "较{ref} 无数据", "no_data": "无数据",
    "unit_points": " 分", "unit_pp": " 个百分点", "unit_ratings": " 条",
    "hl_n0": "{month}全市无计入统计的评价（N = 0），本月无满意指数。",
    "hl_index": "{month}全市共收到评价 {n} 条，满意指数 {index} 分，{prev}，{year}；好评率 {good}（{good_prev}，"
                "{good_year}），差评率 {bad}（{bad_prev}，{bad_year}），差评 {bad_n} 条。",
    "hl_loop": "本月差评的整改率 {rectify}，按时整改率 {on_time}；{revisit}。",
    "hl_loop_not_due": "本月差评的整改事项 {cases} 件均未到整改期限；{revisit}。",
    "hl_revisit": "实名差评回访率 {rate}，{target}", "hl_met": "达到 {t} 的目标",
    "hl_short_of": "距 {t} 的目标差 {d} 个百分点", "hl_no_target": "未设目标",
    "hl_no_real_name": "本月无实名差评", "hl_no_cases": "本月无整改事项。",
    "hl_rank": "排名首位的是{best}（满意指数 {best_index} 分），末位是{worst}（{worst_index} 分）",
    "hl_rank_one": "参加排名的只有{best}（满意指数 {best_index} 分）", "hl_rank_none": "本月无区县参加排名",
    "hl_signals": "差评率控制图本月有 {n} 天出现判异信号", "hl_signals_none": "差评率控制图本月无判异信号",
    "hl_signals_unknown": "差评率控制图数据不足，未判异",
    "hl_ratings": "评价数", "hl_bad_n": "差评 {n} 条", "hl_on_time": "按时整改率 {rate}", "hl_target": "目标 {t}",
    "hl_best": "排名首位", "hl_worst": "末位 {name}", "hl_signal_label": "控制图信号", "hl_days": "{n} 天",
    "hl_p_chart": "差评率 p 图", "hl_closing": "{rank}；{signals}。",
    "page_before": "第 ", "page_middle": " 页 / 共 ", "page_after": " 页",
})
LABELS["en"].update({
    "hl_title": "This month", "hl_month": "{year}-{month:02d}", "hl_prev": "last month",
    "hl_year": "the same month last year", "hl_up": "up {d}{unit} on {ref}", "hl_down": "down {d}{unit} on {ref}",
    "hl_flat": "unchanged on {ref}", "hl_none": "no data for {ref}", "hl_short": "{d} on {ref}",
    "hl_short_none": "no data for {ref}", "no_data": "no data",
    "unit_points": " points", "unit_pp": " pp", "unit_ratings": "",
    "hl_n0": "{month}: no counted ratings in the city (N = 0), no index this month.",
    "hl_index": "{month}: {n} ratings in the city, index {index}, {prev}, {year}; good rate {good} ({good_prev},"
                " {good_year}), bad rate {bad} ({bad_prev}, {bad_year}), {bad_n} bad reviews.",
    "hl_loop": "Of this month's bad reviews {rectify} were rectified, {on_time} on time; {revisit}.",
    "hl_loop_not_due": "None of the {cases} cases of this month's bad reviews is due yet; {revisit}.",
    "hl_revisit": "real-name return visits {rate}, {target}", "hl_met": "meeting the {t} target",
    "hl_short_of": "{d} pp short of the {t} target", "hl_no_target": "no target set",
    "hl_no_real_name": "no real-name bad review this month", "hl_no_cases": "No case this month.",
    "hl_rank": "{best} ranks first (index {best_index}), {worst} last ({worst_index})",
    "hl_rank_one": "{best} is the only county ranked (index {best_index})", "hl_rank_none": "No county is ranked",
    "hl_signals": "the bad-rate control chart signalled on {n} days this month",
    "hl_signals_none": "the bad-rate control chart gave no signal this month",
    "hl_signals_unknown": "too little data for the bad-rate control chart",
    "hl_ratings": "Ratings", "hl_bad_n": "{n} bad", "hl_on_time": "on time {rate}", "hl_target": "target {t}",
    "hl_best": "Ranks first", "hl_worst": "last: {name}", "hl_signal_label": "Control-chart signals",
    "hl_days": "{n} days", "hl_p_chart": "bad-rate p chart", "hl_closing": "{rank}; {signals}.",
    "page_before": "Page ", "page_middle": " of ", "page_after": "",
})


def _same_month_last_year(month: Period) -> Period:
    return parse_period(f"{month.start.year - 1}-{month.start.month:02d}")


def _change(now: float | None, then: float | None, scale: float = 1.0) -> float | None:
    return None if now is None or then is None else (now - then) * scale


def _change_phrase(change: float | None, ref: str, unit: str, L) -> str:
    """较上月上升 1.2 分 / 较上月下降 0.4 个百分点 / 与上月持平 / 上月无数据: the change as a sentence says it."""
    if change is None:
        return L["hl_none"].format(ref=ref)
    shown = _num(abs(change))
    if float(shown) == 0:
        return L["hl_flat"].format(ref=ref)
    return L["hl_up" if change > 0 else "hl_down"].format(ref=ref, d=shown, unit=unit)


def _change_short(change: float | None, ref: str, unit: str, L) -> str:
    """较上月 +1.2 分 / 较上月 无数据: the change under a figure."""
    if change is None:
        return L["hl_short_none"].format(ref=ref)
    return L["hl_short"].format(ref=ref, d=_signed(change) + unit)


def _headline(ctx: Context, month: Period, L, city: dict[str, Any], ranking: dict[str, Any],
              signal_days: list[str] | None, loop: dict[str, Any]) -> dict[str, Any]:
    """本月要点: three sentences (the month against the month before and a year before; the closed loop; the
    first and last county and the control chart) and a row of figures."""
    sentences, figures = [], []
    for part in (_headline_month(ctx, month, L, city), _headline_loop(ctx, loop, L),
                 _headline_counties(L, ranking, signal_days)):
        sentences.append(part[0])
        figures += part[1]
    return {"title": L["hl_title"], "sentences": sentences, "figures": figures}


def _headline_month(ctx: Context, month: Period, L, city: dict[str, Any]) -> tuple[str, list[dict]]:
    """The month's ratings, 满意指数, 好评率 and 差评率, each against the month before and the same month last
    year: None where that month has no counted rating (无数据, never a figure)."""
    def figures_of(period: Period) -> dict[str, Any] | None:
        row = indices.index(ctx.db, ctx.config, period, indicators=False)["rows"][0]
        return row if row["n"] else None

    others = {"prev": figures_of(month.previous()), "year": figures_of(_same_month_last_year(month))}
    refs = {"prev": L["hl_prev"], "year": L["hl_year"]}
    units = {"index": L["unit_points"], "good_rate": L["unit_pp"], "bad_rate": L["unit_pp"]}
    scale = {"index": 1.0, "good_rate": 100.0, "bad_rate": 100.0}
    changes = {(key, w): _change(city[key], other[key] if other else None, scale[key])
               for key in units for w, other in others.items()}
    figures = [{"label": L["hl_ratings"], "value": f"{city['n']}{L['unit_ratings']}",
                "notes": [L["hl_bad_n"].format(n=city["bad"])]}]
    for key, value in (("index", _num(city["index"]) + L["unit_points"]), ("good_rate", _pct(city["good_rate"])),
                       ("bad_rate", _pct(city["bad_rate"]))):
        figures.append({"label": L[key], "value": value if city["n"] else L["no_data"],
                        "notes": [_change_short(changes[key, w], refs[w], units[key], L) for w in refs]})
    name = L["hl_month"].format(year=month.start.year, month=month.start.month)
    if not city["n"]:
        return L["hl_n0"].format(month=name), figures
    phrase = {(key, w): _change_phrase(changes[key, w], refs[w], units[key], L) for key in units for w in refs}
    return L["hl_index"].format(
        month=name, n=city["n"], index=_num(city["index"]), prev=phrase["index", "prev"],
        year=phrase["index", "year"], good=_pct(city["good_rate"]), good_prev=phrase["good_rate", "prev"],
        good_year=phrase["good_rate", "year"], bad=_pct(city["bad_rate"]), bad_prev=phrase["bad_rate", "prev"],
        bad_year=phrase["bad_rate", "year"], bad_n=city["bad"]), figures


def _headline_loop(ctx: Context, loop: dict[str, Any], L) -> tuple[str, list[dict]]:
    """整改率 and 按时整改率 of the month's cases, and 实名差评回访率 against its target
    (report.targets.revisit_rate, 100% by default)."""
    target = float(ctx.config.get("report.targets.revisit_rate", 1.0) or 0)
    target_text = _pct(target).replace(".0%", "%")
    if loop["revisit_rate"] is None:
        revisit = L["hl_no_real_name"]
    else:
        if not target:
            target_phrase = L["hl_no_target"]
        elif loop["revisit_rate"] >= target:
            target_phrase = L["hl_met"].format(t=target_text)
        else:
            target_phrase = L["hl_short_of"].format(t=target_text, d=_num((target - loop["revisit_rate"]) * 100))
        revisit = L["hl_revisit"].format(rate=_pct(loop["revisit_rate"]), target=target_phrase)
    if not loop["cases"]:
        sentence = L["hl_no_cases"]
    elif not loop["due"]:
        sentence = L["hl_loop_not_due"].format(cases=loop["cases"], revisit=revisit)
    else:
        sentence = L["hl_loop"].format(rectify=_pct(loop["rectify_rate"]), on_time=_pct(loop["on_time_rate"]),
                                       revisit=revisit)
    return sentence, [
        {"label": L["rectify_rate"], "value": _pct(loop["rectify_rate"]),
         "notes": [L["hl_on_time"].format(rate=_pct(loop["on_time_rate"]))]},
        {"label": L["revisit_rate"], "value": _pct(loop["revisit_rate"]),
         "notes": [L["hl_target"].format(t=target_text) if target else L["hl_no_target"]]}]


def _headline_counties(L, ranking: dict[str, Any], signal_days: list[str] | None) -> tuple[str, list[dict]]:
    """The first and last county of the ranking, and the days the control chart signalled this month (None: the
    chart could not be drawn)."""
    ranked = [r for r in ranking["rows"] if r["rank"]]
    if not ranked:
        rank_phrase = L["hl_rank_none"]
    elif len(ranked) == 1:
        rank_phrase = L["hl_rank_one"].format(best=ranked[0]["name"], best_index=_num(ranked[0]["index"]))
    else:
        rank_phrase = L["hl_rank"].format(best=ranked[0]["name"], best_index=_num(ranked[0]["index"]),
                                          worst=ranked[-1]["name"], worst_index=_num(ranked[-1]["index"]))
    if signal_days is None:
        signal_phrase = L["hl_signals_unknown"]
    else:
        signal_phrase = L["hl_signals"].format(n=len(signal_days)) if signal_days else L["hl_signals_none"]
    return L["hl_closing"].format(rank=rank_phrase, signals=signal_phrase), [
        {"label": L["hl_best"], "value": ranked[0]["name"] if ranked else "–",
         "notes": [L["hl_worst"].format(name=ranked[-1]["name"])] if len(ranked) > 1 else []},
        {"label": L["hl_signal_label"],
         "value": "–" if signal_days is None else L["hl_days"].format(n=len(signal_days)),
         "notes": [L["hl_p_chart"]]}]


def _w_text(ranking: dict[str, Any], L) -> str:
    """W and where it comes from: the mean N of the counties with ratings, or the configured weight."""
    w = _num(ranking["w"], 1)
    if ranking.get("w_basis") == "configured":
        return L["w_configured"].format(w=w)
    return L["w_mean"].format(w=w, k=ranking.get("rated_units", 0))


def _ranking_section(ranking: dict[str, Any], L) -> dict[str, Any]:
    body = [[r["rank"] or "–", f"{r['name']} ({r['county']})", r["n"], _num(r["index"]), _num(r["shrunk"]),
             _pct(r["good_rate"]), _signed(r["change"])] for r in ranking["rows"]]
    note = L["ranking_note"].format(mu=_num(ranking["mu"], 2), w=_w_text(ranking, L),
                                    previous=ranking["previous_period"]["label"])
    return _section(L["ranking"], paragraphs=[note], tables=[_table(
        [L["rank"], L["county_col"], L["n"], L["index"], L["shrunk"], L["good_rate"], L["change"]], body)])


def _rating_rate_section(ctx: Context, month: Period, L) -> list[dict[str, Any]]:
    """主动评价率 per county (and the windows flagged by it), when the month has service volumes (issue 21)."""
    rows = [r for r in indices.index(ctx.db, ctx.config, month, ["county"], indicators=False)["rows"] if r["services"]]
    if not rows:
        return []
    body = [[f"{r['county_name']} ({r['county']})", r["n"], r["services"], _pct(r["rating_rate"])] for r in rows]
    flagged = ctx.db.execute("SELECT DISTINCT window_code FROM window_flags WHERE month = ? ORDER BY window_code",
                             [month.start.isoformat()[:7]]).fetchall()
    note = L["rate_flags"].format(windows=", ".join(w for (w,) in flagged)) if flagged else L["rate_flags_none"]
    return [_section(L["rating_rate"], paragraphs=[note],
                     tables=[_table([L["county_col"], L["n"], L["services"], L["rate"]], body)])]


def _heat_section(ctx: Context, month: Period, L, bench: dict[str, Any]) -> dict[str, Any]:
    """Each county's index per indicator (N beside it), from ``indices.benchmark``'s rows of the month: the same
    sums of the scores given as ``index --by county --by indicator``."""
    cells = {(r["county"], r["indicator"]): r for r in bench["rows"]}
    counties = list(ctx.db.query("SELECT code, name FROM counties ORDER BY code"))
    shown = registry(ctx.db, indices.versions_in(ctx.db, month))  # the versions in force in the month
    codes = [i["code"] for i in shown]
    body, heat = [], []
    for c in counties:
        row, hrow = [f"{c['name']}"], [None]
        for code in codes:
            cell = cells.get((c["code"], code))
            row.append(f"{_num(cell['index'])} ({cell['n']})" if cell and cell["n"] else "–")
            hrow.append(cell["index"] if cell and cell["n"] else None)
        body.append(row)
        heat.append(hrow)
    columns = [L["county_col"], *[f"{i['code']} {i['name']}" for i in shown]]
    return _section(L["heat"], tables=[_table(columns, body, heat=heat)])


def _months_back(month: Period, count: int) -> list[Period]:
    periods = [month]
    while len(periods) < count:
        periods.insert(0, periods[0].previous())
    return periods


LABELS["zh"].update({
    "trend_note": "{first} 至 {last} 有评价的月份（最多 12 个月，无评价的月份不列）；满意指数单位：分。",
    "trend_none": "近 12 个月无计入统计的评价（N = 0）。", "unit_index": "分", "trend_good": "全市好评率",
    "trend_bad": "全市差评率",
})
LABELS["en"].update({
    "trend_note": "The months with ratings from {first} to {last} (12 at most; months without ratings left out);"
                  " index in points.",
    "trend_none": "No counted ratings in the last 12 months (N = 0).", "unit_index": "points",
    "trend_good": "City good rate", "trend_bad": "City bad rate",
})


def _trend_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    """The index month by month over the months with ratings among the twelve up to ``month``: the chart runs
    from the first to the last of them (a month without ratings between them is a gap in the line, and not a
    row of the table), on round ticks with headroom."""
    months = _months_back(month, 12)
    whole = date_range(months[0].start, month.end)
    city_rows = {r["month"]: r for r in indices.index(ctx.db, ctx.config, whole, ["month"], indicators=False)["rows"]
                 if r["n"]}
    rated = [m.label for m in months if m.label in city_rows]
    if not rated:
        return _section(L["trend"], paragraphs=[L["trend_none"]])
    all_labels = [m.label for m in months]
    labels = all_labels[all_labels.index(rated[0]):all_labels.index(rated[-1]) + 1]
    series = {L["city"]: [city_rows[m]["index"] if m in city_rows else None for m in labels]}
    pilot = ctx.config["pilot.county"]
    if pilot:
        name = get_county(ctx.db, pilot)["name"]
        mine = {r["month"]: r for r in indices.index(ctx.db, ctx.config, whole, ["month"], county=pilot,
                                                     indicators=False)["rows"] if r["n"]}
        series[name] = [mine[m]["index"] if m in mine else None for m in labels]
    body = [[m, *[_num(s[labels.index(m)]) for s in series.values()], _pct(city_rows[m]["good_rate"]),
             _pct(city_rows[m]["bad_rate"]), city_rows[m]["n"]] for m in rated]
    chart = charts.line_chart(labels, series, L["trend"], unit=L["unit_index"], floor=0.0, ceiling=100.0)
    columns = [L["period"], *series.keys(), L["trend_good"], L["trend_bad"], L["n"]]
    return _section(L["trend"], paragraphs=[L["trend_note"].format(first=rated[0], last=rated[-1])],
                    charts_=[chart], tables=[_table(columns, body)])


def _control_chart_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    before = month.previous().previous()
    span = date_range(before.start, month.end)
    baseline = date_range(before.start, month.start - timedelta(days=1))
    try:
        result = daily_charts.chart(ctx.db, ctx.config, "bad-rate", span, baseline)
    except InvalidInput:
        try:
            result = daily_charts.chart(ctx.db, ctx.config, "bad-rate", month, month)
        except InvalidInput as exc:
            return _section(L["control_chart"], paragraphs=[exc.message])
    svg = control_charts.render_svg(result["chart"], f"{L['control_chart']} ({L['city']}, p)")
    signal_rows = [[s["day"], " ".join(s["signals"])] for s in result["signals"] if s["day"] >= month.start.isoformat()]
    note = L["chart_note"].format(center=_num(result["center"], 4), baseline=result["baseline"]["label"],
                                  n=len(signal_rows))
    tables = [_table([L["period"], L["rules"]], signal_rows)] if signal_rows else []
    return {**_section(L["control_chart"], paragraphs=[note], charts_=[svg], tables=tables),
            "signal_days": [row[0] for row in signal_rows]}  # for the headline


def _unit_name(row: dict[str, Any], L) -> str:
    return L["city"] if row["county"] == "total" else f"{row['name']} ({row['county']})"


def _loop_section(rows: list[dict[str, Any]], L) -> dict[str, Any]:
    """The month's closed loop per county and the city (``cases.case_stats`` of the month)."""
    body = [[_unit_name(r, L), r["cases"], r["due"], r["closed"], r["closed_on_time"],
             _pct(r["rectify_rate"]), _pct(r["on_time_rate"]), _pct(r["revisit_rate"]), _pct(r["rerate_satisfaction"]),
             f"{r['appeals_filed']}/{r['appeals_upheld']}"] for r in rows]
    return _section(L["loop"], tables=[_table(
        [L["county_col"], L["cases"], L["due"], L["closed"], L["closed_on_time"], L["rectify_rate"],
         L["on_time_rate"], L["revisit_rate"], L["rerate_rate"], L["appeals"]], body)])


def _spotcheck_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    from haocha_cli import spotchecks

    rows = spotchecks.check_stats(ctx, None, month)
    body = [[_unit_name(r, L), r["checks"], r["confirmed"], r["failed"],
             r["unreachable"], r["pending"], _pct(r["pass_rate"])] for r in rows]
    return _section(L["spotcheck"], tables=[_table(
        [L["county_col"], L["checks"], L["confirmed"], L["failed"], L["unreachable"], L["pending"], L["pass_rate"]],
        body)])


# A last (…) with Latin letters and no Chinese: "(rating collection)", "(1 point beyond 3σ)", not "(370213)".
_ENGLISH_GLOSS = re.compile(r"\s*\((?=[^()]*[A-Za-z])[^()\u3000-\u9fff\uff00-\uffef]+\)$")


def _display_name(L) -> Callable[[str], str]:
    """How a name with an English gloss is shown: without it in a Chinese report, whole in an English one."""
    return _chinese_name if L is LABELS["zh"] else str


def _chinese_name(text: str) -> str:
    """评价采集 (rating collection) → 评价采集: an English gloss (of the FMEA register, of a run rule) left out
    of a Chinese report."""
    short = _ENGLISH_GLOSS.sub("", text)
    return short or text


def _fmea_section(ctx: Context, L) -> dict[str, Any]:
    from haocha_cli import fmea

    risks = fmea.list_risks(ctx)
    name = _display_name(L)
    body = [[r["code"], name(r["step"]), name(r["failure_mode"]), r["severity"], r["occurrence"], r["detection"],
             r["rpn"], r["ap"]] for r in risks]
    levels = fmea.risk_levels(ctx.db)
    names = dict(ctx.db.execute("SELECT code, name FROM counties").fetchall())
    level_rows = [[f"{names.get(code, code)} ({code})", L.get(f"risk_{level}", level)]
                  for code, level in sorted(levels.items())]
    return _section(L["fmea"], tables=[
        _table(["", L["step"], L["failure_mode"], "S", "O", "D", L["rpn"], L["ap"]], body),
        _table([L["county_col"], L["risk_level"]], level_rows, caption=L["risk_levels"])])


def _benchmark_section(ctx: Context, L, data: dict[str, Any]) -> dict[str, Any]:
    names = dict(ctx.db.execute("SELECT code, name FROM counties").fetchall())
    cells = {(r["county"], r["indicator"]): r for r in data["rows"]}
    ind_names = {i["code"]: i["name"] for i in registry(ctx.db)}
    body = []
    for county, weakest in data["weakest"].items():
        parts = [f"{code} {ind_names[code]} {_num(cells[(county, code)]['index'])} "
                 f"({_signed(cells[(county, code)]['gap_to_best'])}, N={cells[(county, code)]['n']})" for code in weakest]
        body.append([f"{names.get(county, county)} ({county})", "; ".join(parts)])
    return _section(L["benchmark"], tables=[_table([L["county_col"], f"{L['weakest']} ({L['gap']})"], body)])


def _pilot_section(ctx: Context, L) -> dict[str, Any] | None:
    county, before, after = ctx.config["pilot.county"], ctx.config["pilot.before"], ctx.config["pilot.after"]
    if not (county and before and after):
        return None
    data = indices.compare(ctx.db, ctx.config, county, parse_period(before), parse_period(after))
    g = data["groups"]
    name = get_county(ctx.db, county)["name"]
    body = []
    for key, label in (("pilot_index", f"{name} {L['index']}"), ("control_index", f"{L['control_group']} {L['index']}"),
                       ("did_index", f"{L['did']} {L['index']}"), ("pilot_good_rate", f"{name} {L['good_rate']}"),
                       ("control_good_rate", f"{L['control_group']} {L['good_rate']}"),
                       ("did_good_rate", f"{L['did']} {L['good_rate']}")):
        r = data[key]
        scale = 100 if "good_rate" in key else 1
        unit = L["unit_pp"] if scale == 100 else L["unit_points"]
        diff = None if r["diff"] is None else r["diff"] * scale
        ci = ("–" if r["ci_low"] is None else f"[{_signed(r['ci_low'] * scale)}, {_signed(r['ci_high'] * scale)}]{unit}")
        body.append([label, f"{_signed(diff)}{unit}", ci, _p(r["p_value"])])
    para = (f"{L['pilot_county']}: {name} ({county}); {L['before']} {data['before']['label']} "
            f"(N = {g['pilot_before']['n']}, {L['index']} {_num(g['pilot_before']['index'])}); "
            f"{L['after']} {data['after']['label']} (N = {g['pilot_after']['n']}, {L['index']} "
            f"{_num(g['pilot_after']['index'])}); {L['control_group']}: N = {g['control_before']['n']} / "
            f"{g['control_after']['n']}")
    return _section(L["pilot"], paragraphs=[para], tables=[_table([L["comparison"], L["diff"], L["ci"], L["p"]], body)])


# --- county --------------------------------------------------------------------------------------------

def county(ctx: Context, county_code: str, period: Period, lang: str = "zh") -> dict[str, Any]:
    """The county's report (the city makes it for the county, or the county itself: the same report): its
    figures beside the city's, its rank among the counties, its closed-loop rates against the city and the
    targets, its gaps to the city and the benchmark per indicator, its spot-check results, its windows and
    its open cases by urgency. Of the other counties it shows nothing apart: the city mean and totals, the
    benchmark's value, but not which county the benchmark is (as ``visibility.own_benchmark``)."""
    L = LABELS[lang]
    county_code = ctx.county_scope(county_code, "see the report")  # 李沧区 or 李沧 as well as 370213
    info = get_county(ctx.db, county_code)
    own_name = _named(info["name"], county_code)
    figures = indices.index(ctx.db, ctx.config, period, ["window"], county=county_code)
    total = indices.index(ctx.db, ctx.config, period, county=county_code)
    city = indices.index(ctx.db, ctx.config, period)
    ranking = indices.rank(ctx.db, ctx.config, period, "county")
    own = next(r for r in ranking["rows"] if r["county"] == county_code)
    units = [dict(total["rows"][0], unit=own_name), dict(city["rows"][0], unit=L["city"])]
    headline = (L["headline"].format(name=info["name"], period=period.label, n=own["n"], index=_num(own["index"]),
                                     city=_num(city["rows"][0]["index"]), rank=own["rank"], ranked=ranking["ranked"])
                if own["rank"] else L["headline_unranked"].format(name=info["name"], period=period.label))
    sections = [
        _section(L["overview"], paragraphs=[headline],
                 tables=[_figures_table(L, units, "unit", L["county_col"])]),
        _county_rank_section(own, ranking, L),
        _county_loop_section(ctx, county_code, info["name"], period, L),
        _county_benchmark_section(ctx, county_code, period, L),
        _county_spotcheck_section(ctx, county_code, own_name, period, L),
        _section(L["windows"], tables=[_figures_table(L, figures["rows"], "window", L["window"], "window_name")]),
        _open_cases_section(ctx, county_code, L),
    ]
    return {"kind": "county", "title": f"{info['name']} {L['county']} {period.label}", "lang": lang,
            "subtitle": f"{_bureau(ctx)} · {L['period']}: {period.start} … {period.end} · "
                        f"{L['indicator_version']}: {total['weights_version']}",
            "sections": sections, "file_stem": f"county-{county_code}-{period.label}"}


def _county_rank_section(own: dict[str, Any], ranking: dict[str, Any], L) -> dict[str, Any]:
    """Its rank number among the counties and how many were ranked (as ``indices.rank_for`` gives a county)."""
    place = L["rank_of"].format(rank=own["rank"], ranked=ranking["ranked"]) if own["rank"] else "–"
    note = L["ranking_note"].format(mu=_num(ranking["mu"], 2), w=_w_text(ranking, L),
                                    previous=ranking["previous_period"]["label"])
    return _section(L["county_rank"], paragraphs=[note], tables=[_table(
        [L["rank"], L["n"], L["index"], L["shrunk"], L["good_rate"], L["change"]],
        [[place, own["n"], _num(own["index"]), _num(own["shrunk"]), _pct(own["good_rate"]), _signed(own["change"])]])])


# (label, rate, numerator, denominator, target setting) of the closed-loop rates a county report compares
_LOOP_RATES = (
    ("revisit_rate", "revisit_rate", "revisited", "real_name", "report.targets.revisit_rate"),
    ("rectify_rate", "rectify_rate", "closed", "due", "report.targets.rectify_rate"),
    ("on_time_rate", "on_time_rate", "closed_on_time", "due", "report.targets.on_time_rate"),
    ("rerate_rate", "rerate_satisfaction", "rerate_satisfied", "rerated", "report.targets.rerate_satisfaction"),
)


def _county_loop_section(ctx: Context, county_code: str, name: str, period: Period, L) -> dict[str, Any]:
    """回访率, 整改率, 按时整改率 and 复评满意率 of the county beside the city's and the targets."""
    [own] = case_module.case_stats(ctx, county_code, period.start, period.end)
    city = case_module.city_case_stats(ctx, period.start, period.end)
    body = []
    for label, rate, numerator, denominator, setting in _LOOP_RATES:
        target = float(ctx.config[setting])
        value = own[rate]
        met = "" if not target or value is None else L["met"] if value >= target - 1e-9 else L["not_met"]
        body.append([L[label], f"{_pct(value)} ({own[numerator]}/{own[denominator]})", _pct(city[rate]),
                     _pct(target) if target else "–", met])
    counts = L["loop_counts"].format(cases=own["cases"], due=own["due"], closed=own["closed"],
                                     on_time=own["closed_on_time"], real=own["real_name"], visited=own["revisited"],
                                     rerated=own["rerated"])
    return _section(L["county_loop"], paragraphs=[counts, L["loop_note"]], tables=[_table(
        [L["metric"], name, L["city"], L["target"], L["met_col"]], body)])


def _county_benchmark_section(ctx: Context, county_code: str, period: Period, L) -> dict[str, Any]:
    """Per indicator: the county's index beside the city mean and the benchmark, with the gaps. The benchmark
    county is not named: a county sees its gaps, not which county is the best (``visibility.own_benchmark``);
    a report the city makes for the county says the same as the one the county makes."""
    data = indices.benchmark(ctx.db, period)
    mine = [r for r in data["rows"] if r["county"] == county_code]
    if not mine:
        return _section(L["county_benchmark"], paragraphs=[L["note_n0"]])
    body = [[f"{r['indicator']} {r['indicator_name']}", r["n"], _num(r["index"]), _num(r["city_index"]),
             _signed(r["gap_to_city"]), _num(r["best_index"]) + (f" ({L['self_best']})"
                                                                 if r["best_county"] == county_code else ""),
             _signed(r["gap_to_best"])] for r in mine]
    names = {r["indicator"]: f"{r['indicator']} {r['indicator_name']}" for r in mine}
    weakest = ("、" if L is LABELS["zh"] else ", ").join(names[code] for code in data["weakest"].get(county_code, []))
    note = L["bench_note"].format(min_n=data["min_n"], weakest=weakest)
    without = sum(r["best_index"] is None for r in mine)
    if without:
        note += L["bench_without"].format(k=without, min_n=data["min_n"])
    return _section(L["county_benchmark"], paragraphs=[note], tables=[_table(
        [L["metric"], L["n"], L["index"], L["city"], L["gap_city"], L["best"], L["gap_best"]], body)])


def _county_spotcheck_section(ctx: Context, county_code: str, own_name: str, period: Period, L) -> dict[str, Any]:
    """The city's spot-checks of the county in the period (checks, passed, failed, pass rate) beside the city's:
    counts only, never which cases were drawn."""
    from haocha_cli import spotchecks

    results = spotchecks.county_results(ctx, county_code, period)
    body = [[label, r["checks"], r["confirmed"], r["failed"], r["unreachable"], r["pending"], _pct(r["pass_rate"])]
            for label, r in ((own_name, results["county"]), (L["city"], results["city"]))]
    return _section(L["county_spot"], paragraphs=[] if results["county"]["checks"] else [L["spot_none"]],
                    tables=[_table([L["county_col"], L["checks"], L["confirmed"], L["failed"], L["unreachable"],
                                    L["pending"], L["pass_rate"]], body)])


def _open_cases_section(ctx: Context, county_code: str, L) -> dict[str, Any]:
    """The county's open cases as of today by urgency (the work list's categories): the count of each and the
    ``LISTED_CASES`` most urgent with the total."""
    from haocha_cli import worklist

    open_ = worklist.open_by_urgency(ctx, county=county_code, limit=LISTED_CASES)
    [counts] = open_["counts"]
    table = _table([L["urgency"], L["cases"]],
                   [[_urgency_name(u, L), counts[u]] for u in open_["urgencies"]] + [[L["total_col"], open_["total"]]])
    tables = [table]
    if open_["rows"]:
        tables.append(_table(
            [L["case"], L["urgency"], L["window"], L["item"], L["time"], L["state"], L["revisit_due"],
             L["rectify_due"]],
            [[r["id"], _urgency_name(r["urgency"], L), _named(r["window_name"], r["window"]),
              _named(r["item_name"], r["item"]), r["rated_at"][:16], r["状态"], r["revisit_due"] or "–",
              r["rectify_due"]] for r in open_["rows"]]))
    return _section(L["open_cases"].format(day=open_["day"]),
                    paragraphs=[_listed_note(open_["total"], len(open_["rows"]), L),
                                *_calendar_warning(ctx, date.fromisoformat(open_["day"]), L)], tables=tables)


# --- rendering -----------------------------------------------------------------------------------------

_MASKED_PHONE = re.compile(r"\d{3,4}\*{3,}\d{4}")


def _md_escape(value: Any) -> str:
    """Every value printed into Markdown: no raw HTML passes through, table syntax stays intact, and control
    characters (ESC, BEL, bidi overrides) are shown as escapes, never run by the terminal that shows the file."""
    if isinstance(value, Markup):
        return str(value)
    text = show_controls(value)
    if _MASKED_PHONE.fullmatch(text):
        return text  # 138****5678 alone in a cell has no emphasis partner: readable as it is
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("*", "\\*")
    text = text.replace("_", "\\_").replace("[", "\\[").replace("]", "\\]")
    return " ".join(text.split())  # a newline inside a cell would end the table row


def _heat_colour(value: float | None) -> str:
    if value is None:
        return ""
    v = max(0.0, min(100.0, value))
    # red (low) → yellow → green (high), pale enough to print
    if v < 50:
        r, g = 250, int(180 + 70 * v / 50)
    else:
        r, g = int(250 - 90 * (v - 50) / 50), 250
    return f"background:#{r:02x}{g:02x}b4"


def _html_shown(value: Any) -> Any:
    """Every text printed into HTML (autoescaped after this): control characters and bidi overrides, which
    could reorder what the page shows, as visible escapes, as the workbench shows them."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return show_controls(value)
    return value


def _css_string(value: Any) -> Markup:
    """A text as a CSS string for the @page footer: quotes, backslashes, < and > (no </style>), and anything not
    printable (control characters, bidi overrides) as CSS escapes."""
    text = "".join(ch if ch.isprintable() and ch not in '"\\<>&' else f"\\{ord(ch):x} " for ch in str(value))
    return Markup(f'"{text}"')


def _environment(markdown: bool):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from haocha_cli.resources import resource_path

    env = Environment(loader=FileSystemLoader(str(resource_path("templates"))), undefined=StrictUndefined,
                      autoescape=not markdown, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                      finalize=_md_escape if markdown else _html_shown)
    env.filters["heat"] = _heat_colour
    env.filters["css_string"] = _css_string
    return env


def render(report: dict[str, Any], fmt: str) -> str:
    template = "report.md.j2" if fmt == "md" else "report.html.j2"
    return _environment(fmt == "md").get_template(template).render(report=report, L=LABELS[report["lang"]])


def build(ctx: Context, kind: str, *, day: date | None = None, month: Period | None = None,
          county_code: str | None = None, period: Period | None = None, lang: str = "zh",
          by: str = "county") -> dict[str, Any]:
    if lang not in LANGS:
        raise InvalidInput(f"language {lang!r} is not available", "use zh or en")
    if kind == "daily":
        return daily(ctx, day, lang)
    if kind == "monthly":
        return monthly(ctx, month, lang)
    if kind == "public":  # 结果公开: haocha_cli/publication.py (and its own write, for the CSV)
        from haocha_cli import publication

        return publication.public(ctx, period, by, lang)
    return county(ctx, county_code, period, lang)


def write(report: dict[str, Any], fmt: str, out_dir: Path, modes: files.Modes = files.OWNER_ONLY) -> list[Path]:
    """Write the report as Markdown and/or HTML; same report, same bytes. The files (and ``out_dir`` if it is
    made) get ``modes``: give ``files.modes(ctx.config)``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not md, html or both", "use --format md|html|both")
    files.make_dirs(out_dir, modes)
    written = []
    for ext in (("md", "html") if fmt == "both" else (fmt,)):
        path = out_dir / f"{report['file_stem']}.{ext}"
        text = render(report, ext)
        tmp = path.with_suffix(path.suffix + ".tmp")
        files.write_text(tmp, text, modes)
        tmp.replace(path)  # a reader (or a crash) never sees half a report
        written.append(path)
    return written

