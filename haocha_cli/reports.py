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
from haocha_cli import charts, files, indices, process_control, spc
from haocha_cli.calendar_days import load_calendar
from haocha_cli.catalogue import get_county
from haocha_cli.context import Context
from haocha_cli.db import get_meta
from haocha_cli.errors import InvalidInput
from haocha_cli.indicators import INDICATORS
from haocha_cli.periods import Period, date_range, parse_period
from haocha_cli.privacy import mask_numbers
from haocha_cli.untrusted import show_controls

KINDS = ("daily", "monthly", "county")
FORMATS = ("md", "html", "both")
LANGS = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "daily": "好差评日报", "monthly": "好差评月报", "county": "县级局好差评报告", "indicator_version": "指标体系版本",
        "overview": "总体情况", "n": "评价数 N", "index": "满意指数", "good_rate": "好评率", "bad_rate": "差评率",
        "basic_share": "基本满意占比", "excluded": "剔除数", "by_county": "分区县", "by_channel": "分渠道",
        "county_col": "区县局", "channel": "评价渠道", "window": "窗口", "item": "事项", "level": "评价等级",
        "time": "评价时间", "comment": "文字评价", "phone": "联系电话", "case": "整改事项",
        "new_bad": "新增差评", "none": "无", "cases_due": "即将到期与超期的整改事项", "state": "状态",
        "rectify_due": "整改期限", "alert": "提示", "overdue": "已超期", "due_soon": "即将到期",
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
        "control_group": "其他区县（对照）", "windows": "窗口满意度", "county_cases": "整改事项及期限",
        "period": "统计期", "city": "全市", "note_n0": "本期无计入统计的评价（N = 0）。", "masked": "电话已脱敏显示",
        "signal_none": "当日无控制图信号。", "flags_none": "当日无可疑评价提示。",
        "risk_levels": "区县风险等级（抽查比例依此设定）", "risk_high": "高", "risk_medium": "中", "risk_low": "低",
        "chart_note": "p̄ = {center}（基线 {baseline}）；本月控制图信号 {n} 个",
        "metric_bad-rate": "差评率", "metric_index": "满意指数",
        "calendar_unknown": "提示：haocha 所知的国家法定节假日安排只到 {last} 年，{year} 年的整改和回访期限暂按周一至周五"
                            "计算。国务院放假通知发布后，请用 haocha calendar import 导入（日期,类型,备注）。",
        "ranking_note": "收缩得分 = (W·μ + N·满意指数) ÷ (W + N)，μ = {mu}，W = {w}；较上期：与 {previous} 比较",
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
        "cases_due": "Cases due soon and overdue", "state": "State", "rectify_due": "Due", "alert": "Alert",
        "overdue": "overdue", "due_soon": "due soon", "signals": "Control-chart signals", "metric": "Metric",
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
        "county_cases": "Cases and deadlines", "period": "Period", "city": "City",
        "note_n0": "No counted ratings in this period (N = 0).", "masked": "phones masked",
        "signal_none": "No control-chart signal on this day.", "flags_none": "No suspicious rating on this day.",
        "risk_levels": "County risk levels (set the spot-check rates)",
        "chart_note": "p̄ = {center} (baseline {baseline}); {n} control-chart signals this month",
        "metric_bad-rate": "bad rate", "metric_index": "index",
        "calendar_unknown": "Note: the official holidays haocha knows end with {last}; deadlines in {year} count Monday"
                            " to Friday for now. When the State Council publishes its notice, record it with"
                            " haocha calendar import (day, kind, note).",
        "ranking_note": "shrunk score = (W·μ + N·index) / (W + N), μ = {mu}, W = {w}; change: against {previous}",
        "audit_anchor": "Audit anchor (审计锚点)",
        "anchor_note": "The id and hash of the last audit event when this report was made. Archived reports witness"
                       " the audit trail from outside the database: haocha audit verify --anchor {anchor} proves"
                       " that nothing up to that event was removed or rewritten.",
    },
}


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def _signed(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


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
        _section(L["cases_due"], tables=[_cases_due(ctx, day, L)], paragraphs=_calendar_warning(ctx, day, L)),
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
    from haocha_cli.calendar_days import unknown_year_ahead
    from haocha_cli.workdays import LAST_KNOWN_YEAR

    year = unknown_year_ahead(ctx.db, day)
    return [] if year is None else [L["calendar_unknown"].format(last=LAST_KNOWN_YEAR, year=year)]


def _new_bad_reviews(ctx: Context, day: date, L) -> dict[str, Any]:
    bad = sorted(ctx.config.bad_levels)
    rows = ctx.db.query(
        "SELECT r.rated_at, r.county_code, r.window_code, r.item_code, r.level, r.comment, k.phone_masked,"
        " c.id AS case_id FROM ratings r LEFT JOIN contacts k ON k.id = r.contact_id"
        " LEFT JOIN cases c ON c.rating_id = r.id"
        f" WHERE r.day = ? AND r.level IN ({','.join('?' * len(bad))}) ORDER BY r.rated_at, r.id",
        [day.isoformat(), *bad])
    from haocha_cli.config import LEVELS

    body = [[r["rated_at"][11:16], r["county_code"], r["window_code"], r["item_code"] or "–", LEVELS[r["level"] - 1],
             mask_numbers(r["comment"]) or "", r["phone_masked"] or "–", r["case_id"] or "–"] for r in rows]
    return _table([L["time"], L["county_col"], L["window"], L["item"], L["level"], L["comment"], L["phone"],
                   L["case"]], body or [[L["none"]] + [""] * 7])


def _cases_due(ctx: Context, day: date, L, county: str | None = None) -> dict[str, Any]:
    """Open cases overdue at the end of ``day`` or due within due_soon_days working days after it."""
    cal = load_calendar(ctx.db)
    soon = cal.add_workdays(day, int(ctx.config["deadlines.due_soon_days"]))
    marks = ",".join("?" * len(case_module.OPEN_STATES))
    sql = (f"SELECT id, county_code, window_code, state, rectify_due FROM cases WHERE state IN ({marks})"
           " AND opened_at <= ? AND rectify_due <= ?")
    params: list[Any] = [*case_module.OPEN_STATES, f"{day.isoformat()} 23:59:59", soon.isoformat()]
    if county:
        sql += " AND county_code = ?"
        params.append(county)
    body = []
    for r in ctx.db.query(sql + " ORDER BY rectify_due, id", params):
        alert = L["overdue"] if r["rectify_due"] < day.isoformat() else L["due_soon"]
        body.append([r["id"], r["county_code"], r["window_code"], case_module.STATES[r["state"]], r["rectify_due"], alert])
    return _table([L["case"], L["county_col"], L["window"], L["state"], L["rectify_due"], L["alert"]],
                  body or [[L["none"], "", "", "", "", ""]])


def _signals_section(ctx: Context, day: date, L) -> dict[str, Any]:
    rows = []
    for county in [None, *(r[0] for r in ctx.db.execute("SELECT code FROM counties ORDER BY code"))]:
        for s in process_control.signals_on(ctx.db, ctx.config, day, county):
            name = _display_name(L)
            rows.append([s["county"] if county else L["city"], L.get(f"metric_{s['metric']}", s["metric"]),
                         _num(s["value"], 3), "; ".join(name(d) for d in s["descriptions"])])
    if not rows:
        return _section(L["signals"], paragraphs=[L["signal_none"]])
    return _section(L["signals"], tables=[_table([L["county_col"], L["metric"], L["value"], L["rules"]], rows)])


def _flags_section(ctx: Context, day: date, L) -> dict[str, Any]:
    from haocha_cli import flags

    found = flags.list_flags(ctx, Period(day, day, day.isoformat(), "day"))
    if not found:
        return _section(L["flags"], paragraphs=[L["flags_none"]])
    body = [[f["rule"], f["county"], f["window"], f["rated_at"][11:16], flags.describe(f["rule"], f["evidence"])]
            for f in found]
    return _section(L["flags"], tables=[_table([L["rule"], L["county_col"], L["window"], L["time"], L["evidence"]], body)])


# --- monthly -------------------------------------------------------------------------------------------

def monthly(ctx: Context, month: Period, lang: str = "zh") -> dict[str, Any]:
    """The city's monthly report: the ranking of the counties and every county's figures (市局); a county
    operator is refused and pointed to its own county's report (``county``)."""
    _city_report(ctx, "the monthly report", month.label)
    L = LABELS[lang]
    city = indices.index(ctx.db, ctx.config, month)
    ranking = indices.rank(ctx.db, ctx.config, month, "county")
    sections = [
        _section(L["overview"], tables=[_figures_table(L, city["rows"], "", L["period"])],
                 paragraphs=[L["note_n0"]] if city["note"] else []),
        _ranking_section(ranking, L),
        _heat_section(ctx, month, L),
        _trend_section(ctx, month, L),
        _control_chart_section(ctx, month, L),
        _loop_section(ctx, month, L),
        _spotcheck_section(ctx, month, L),
        _fmea_section(ctx, L),
        _benchmark_section(ctx, month, L),
    ]
    pilot = _pilot_section(ctx, L)
    if pilot:
        sections.append(pilot)
    return {"kind": "monthly", "title": f"{_bureau(ctx)} {L['monthly']} {month.label}", "lang": lang,
            "subtitle": f"{L['period']}: {month.start} … {month.end} · {L['indicator_version']}: {city['weights_version']}",
            "sections": sections, "file_stem": f"monthly-{month.label}"}


def _ranking_section(ranking: dict[str, Any], L) -> dict[str, Any]:
    body = [[r["rank"] or "–", f"{r['name']} ({r['county']})", r["n"], _num(r["index"]), _num(r["shrunk"]),
             _pct(r["good_rate"]), _signed(r["change"])] for r in ranking["rows"]]
    note = L["ranking_note"].format(mu=_num(ranking["mu"], 2), w=_num(ranking["w"], 1),
                                    previous=ranking["previous_period"]["label"])
    return _section(L["ranking"], paragraphs=[note], tables=[_table(
        [L["rank"], L["county_col"], L["n"], L["index"], L["shrunk"], L["good_rate"], L["change"]], body)])


def _heat_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    data = indices.index(ctx.db, ctx.config, month, ["county", "indicator"])
    cells = {(r["county"], r["indicator"]): r for r in data["rows"]}
    counties = list(ctx.db.query("SELECT code, name FROM counties ORDER BY code"))
    codes = [i[0] for i in INDICATORS]
    body, heat = [], []
    for c in counties:
        row, hrow = [f"{c['name']}"], [None]
        for code in codes:
            cell = cells.get((c["code"], code))
            row.append(f"{_num(cell['index'])} ({cell['n']})" if cell and cell["n"] else "–")
            hrow.append(cell["index"] if cell and cell["n"] else None)
        body.append(row)
        heat.append(hrow)
    columns = [L["county_col"], *[f"{code} {name}" for code, _, _, name, _, _, _ in INDICATORS]]
    return _section(L["heat"], tables=[_table(columns, body, heat=heat)])


def _months_back(month: Period, count: int) -> list[Period]:
    periods = [month]
    while len(periods) < count:
        periods.insert(0, periods[0].previous())
    return periods


def _trend_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    months = _months_back(month, 12)
    whole = date_range(months[0].start, month.end)
    rows = indices.index(ctx.db, ctx.config, whole, ["county", "month"])["rows"]
    city_rows = {r["month"]: r for r in indices.index(ctx.db, ctx.config, whole, ["month"])["rows"]}
    labels = [m.label for m in months]
    series = {L["city"]: [city_rows.get(m, {}).get("index") for m in labels]}
    pilot = ctx.config["pilot.county"]
    if pilot:
        name = get_county(ctx.db, pilot)["name"]
        mine = {r["month"]: r for r in rows if r["county"] == pilot}
        series[name] = [mine.get(m, {}).get("index") for m in labels]
    body = [[m, *[_num(s[i]) for s in series.values()], city_rows.get(m, {}).get("n", 0)] for i, m in enumerate(labels)]
    chart = charts.line_chart(labels, series, L["trend"])
    return _section(L["trend"], charts_=[chart], tables=[_table([L["period"], *series.keys(), L["n"]], body)])


def _control_chart_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    before = month.previous().previous()
    span = date_range(before.start, month.end)
    baseline = date_range(before.start, month.start - timedelta(days=1))
    try:
        result = process_control.chart(ctx.db, ctx.config, "bad-rate", span, baseline)
    except InvalidInput:
        try:
            result = process_control.chart(ctx.db, ctx.config, "bad-rate", month, month)
        except InvalidInput as exc:
            return _section(L["control_chart"], paragraphs=[exc.message])
    svg = spc.render_svg(result["chart"], f"{L['control_chart']} ({L['city']}, p)")
    signal_rows = [[s["day"], " ".join(s["signals"])] for s in result["signals"] if s["day"] >= month.start.isoformat()]
    note = L["chart_note"].format(center=_num(result["center"], 4), baseline=result["baseline"]["label"],
                                  n=len(signal_rows))
    tables = [_table([L["period"], L["rules"]], signal_rows)] if signal_rows else []
    return _section(L["control_chart"], paragraphs=[note], charts_=[svg], tables=tables)


def _unit_name(row: dict[str, Any], L) -> str:
    return L["city"] if row["county"] == "total" else f"{row['name']} ({row['county']})"


def _loop_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    rows = case_module.case_stats(ctx, None, month.start, month.end)
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


def _benchmark_section(ctx: Context, month: Period, L) -> dict[str, Any]:
    data = indices.benchmark(ctx.db, month)
    names = dict(ctx.db.execute("SELECT code, name FROM counties").fetchall())
    cells = {(r["county"], r["indicator"]): r for r in data["rows"]}
    ind_names = {code: name for code, _, _, name, _, _, _ in INDICATORS}
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
        unit = " pp" if scale == 100 else ""
        diff = None if r["diff"] is None else r["diff"] * scale
        ci = ("–" if r["ci_low"] is None else f"[{r['ci_low'] * scale:+.1f}, {r['ci_high'] * scale:+.1f}]{unit}")
        body.append([label, f"{_signed(diff)}{unit}", ci, _p(r["p_value"])])
    para = (f"{L['pilot_county']}: {name} ({county}); {L['before']} {data['before']['label']} "
            f"(N = {g['pilot_before']['n']}, {L['index']} {_num(g['pilot_before']['index'])}); "
            f"{L['after']} {data['after']['label']} (N = {g['pilot_after']['n']}, {L['index']} "
            f"{_num(g['pilot_after']['index'])}); {L['control_group']}: N = {g['control_before']['n']} / "
            f"{g['control_after']['n']}")
    return _section(L["pilot"], paragraphs=[para], tables=[_table([L["comparison"], L["diff"], L["ci"], L["p"]], body)])


# --- county --------------------------------------------------------------------------------------------

def county(ctx: Context, county_code: str, period: Period, lang: str = "zh") -> dict[str, Any]:
    L = LABELS[lang]
    county_code = ctx.county_scope(county_code, "see the report")  # 李沧区 or 李沧 as well as 370213
    info = get_county(ctx.db, county_code)
    figures = indices.index(ctx.db, ctx.config, period, ["window"], county=county_code)
    total = indices.index(ctx.db, ctx.config, period, county=county_code)
    marks = ",".join("?" * len(case_module.OPEN_STATES))
    rows = ctx.db.query(
        "SELECT id, window_code, item_code, rated_at, state, revisit_due, rectify_due FROM cases WHERE county_code = ?"
        f" AND (substr(rated_at, 1, 10) BETWEEN ? AND ? OR state IN ({marks})) ORDER BY rectify_due, id",
        [county_code, period.start.isoformat(), period.end.isoformat(), *case_module.OPEN_STATES])
    case_rows = [[r["id"], r["window_code"], r["item_code"] or "–", r["rated_at"][:16], case_module.STATES[r["state"]],
                  r["revisit_due"] or "–", r["rectify_due"]] for r in rows]
    sections = [
        _section(L["overview"], tables=[_figures_table(L, total["rows"], "", L["period"])],
                 paragraphs=[L["note_n0"]] if total["note"] else []),
        _section(L["windows"], tables=[_figures_table(L, figures["rows"], "window", L["window"], "window_name")]),
        _section(L["county_cases"], tables=[_table([L["case"], L["window"], L["item"], L["time"], L["state"],
                                                    "回访期限" if lang == "zh" else "Visit due", L["rectify_due"]],
                                                   case_rows or [[L["none"], "", "", "", "", "", ""]])]),
    ]
    return {"kind": "county", "title": f"{info['name']} {L['county']} {period.label}", "lang": lang,
            "subtitle": f"{_bureau(ctx)} · {L['period']}: {period.start} … {period.end} · "
                        f"{L['indicator_version']}: {total['weights_version']}",
            "sections": sections, "file_stem": f"county-{county_code}-{period.label}"}


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


def _environment(markdown: bool):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from haocha_cli.resources import resource_path

    env = Environment(loader=FileSystemLoader(str(resource_path("templates"))), undefined=StrictUndefined,
                      autoescape=not markdown, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                      finalize=_md_escape if markdown else _html_shown)
    env.filters["heat"] = _heat_colour
    return env


def render(report: dict[str, Any], fmt: str) -> str:
    template = "report.md.j2" if fmt == "md" else "report.html.j2"
    return _environment(fmt == "md").get_template(template).render(report=report, L=LABELS[report["lang"]])


def build(ctx: Context, kind: str, *, day: date | None = None, month: Period | None = None,
          county_code: str | None = None, period: Period | None = None, lang: str = "zh") -> dict[str, Any]:
    if lang not in LANGS:
        raise InvalidInput(f"language {lang!r} is not available", "use zh or en")
    if kind == "daily":
        return daily(ctx, day, lang)
    if kind == "monthly":
        return monthly(ctx, month, lang)
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

