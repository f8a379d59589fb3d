"""Control charts (控制图) of the daily bad-review rate and the daily satisfaction index, from the daily
aggregates: the daily series, phase I (baseline) and phase II (monitoring), and the run rules."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import sqlite_utils

from haocha_cli import control_charts
from haocha_cli.catalogue import get_county
from haocha_cli.config import Config
from haocha_cli.errors import InvalidInput
from haocha_cli.periods import Period, date_range, parse_date, read_month

if TYPE_CHECKING:
    from haocha_cli.context import Context

METRICS = ("bad-rate", "index")
# The charts of each metric, the default first: the daily bad-review rate is a proportion of n (p, Laney p′,
# np for constant n); the daily index is a mean of n rating indices (X̄ with limits that follow n, or XmR).
CHARTS = {"bad-rate": ("p", "laney", "np"), "index": ("xbar", "xmr")}
GROUPS = ("day", "week", "month")
DEFAULT_DAYS = 90
DEFAULT_BASELINE_DAYS = 30
DEFAULT_BASELINE_POINTS = {"day": DEFAULT_BASELINE_DAYS, "week": 8, "month": 6}


def daily_series(db: sqlite_utils.Database, config: Config, period: Period,
                 county: str | None = None) -> list[dict[str, Any]]:
    """One entry per calendar day: n, bad reviews, index sum and sum of squares; days without ratings have
    n = 0."""
    bad_cols = " + ".join(f"sum(l{level})" for level in sorted(config.bad_levels)) or "0"
    sql = (f"SELECT day, sum(n) AS n, {bad_cols} AS bad, sum(index_sum) AS index_sum, sum(index_sq) AS index_sq"
           " FROM daily_agg WHERE day BETWEEN ? AND ?")
    params: list[Any] = [period.start.isoformat(), period.end.isoformat()]
    if county:
        sql += " AND county_code = ?"
        params.append(county)
    found = {r["day"]: r for r in db.query(sql + " GROUP BY day", params)}
    series, day = [], period.start
    while day <= period.end:
        r = found.get(day.isoformat())
        series.append({"day": day.isoformat(), "n": (r["n"] or 0) if r else 0, "bad": (r["bad"] or 0) if r else 0,
                       "index_sum": (r["index_sum"] or 0.0) if r else 0.0,
                       "index_sq": (r["index_sq"] or 0.0) if r else 0.0})
        day += timedelta(days=1)
    return series


def group_label(day: date, group: str) -> str:
    """The point a day belongs to: the day itself, the Monday of its ISO week, or its month (2026-08)."""
    if group == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if group == "month":
        return day.strftime("%Y-%m")
    return day.isoformat()


def grouped_series(series: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """The daily series summed by day, ISO week or month: label, first and last day (inside the period), n, bad,
    index_sum, index_sq. A week or month cut by the ends of the period holds only its days inside it."""
    out: list[dict[str, Any]] = []
    for p in series:
        label = group_label(date.fromisoformat(p["day"]), group)
        if not out or out[-1]["label"] != label:
            out.append({"label": label, "first": p["day"], "last": p["day"], "n": 0, "bad": 0, "index_sum": 0.0,
                        "index_sq": 0.0})
        g = out[-1]
        g["last"] = p["day"]
        for key in ("n", "bad", "index_sum", "index_sq"):
            g[key] += p[key]
    return out


def _sample_sd(n: int, total: float, squares: float) -> float | None:
    """The standard deviation of a group's rating indices from n, Σx and Σx² (None for n < 2)."""
    if n < 2:
        return None
    return math.sqrt(max((squares - total * total / n) / (n - 1), 0.0))


def _point_labels(texts: Sequence[str], group: str) -> list[str]:
    """--exclude as a clerk writes it: days (a day of the week for --group week), or months for --group month."""
    labels = []
    for text in texts:
        if group == "month":
            ym = read_month(text)
            if ym is None or not 1 <= ym[1] <= 12:
                raise InvalidInput(f"excluded point {text!r} is not a month", "write a month as 2026-08 or 2026年8月")
            labels.append(f"{ym[0]:04d}-{ym[1]:02d}")
        else:
            labels.append(group_label(parse_date(text, "excluded point"), group))
    return labels


def chart(db: sqlite_utils.Database, config: Config, metric: str, period: Period, baseline: Period | None = None,
          county: str | None = None, rules: str = "nelson", laney: bool = False, *, kind: str | None = None,
          group: str = "day", exclude: Sequence[str] = (), center: float | None = None, sigma: float | None = None,
          sigma_method: str | None = None, series: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The chart of one metric over the period, by day, ISO week or month; the baseline (phase I) defaults to
    the first 30 days, 8 weeks or 6 months. kind: p (default), laney or np for bad-rate; xbar (default) or xmr
    for index. center / sigma: given standards (p: the standard proportion alone). series: the period's
    ``daily_series`` when the caller has read it already (both metrics of a unit chart the same days)."""
    metric = metric.strip().lower().replace("_", "-")  # bad_rate, Bad-Rate: the same metric
    if metric not in METRICS:
        raise InvalidInput(f"metric {metric!r} is not known", f"use {' or '.join(METRICS)}")
    kind = (kind or ("laney" if laney and metric == "bad-rate" else CHARTS[metric][0])).strip().lower()
    if kind not in CHARTS[metric] or (laney and kind != "laney"):
        raise InvalidInput(f"the {metric} metric has no {kind!r} chart" if kind not in CHARTS[metric]
                           else f"--laney asks for a Laney chart, but --chart is {kind}",
                           f"use --chart {' or '.join(CHARTS[metric])}")
    if group not in GROUPS:
        raise InvalidInput(f"group {group!r} is not known", f"use {', '.join(GROUPS)}")
    if kind in CHARTS["bad-rate"] and (sigma is not None or sigma_method is not None):
        raise InvalidInput(f"a {kind} chart's sigma follows from p and n: --sigma and --sigma-method are not for it",
                           "give the standard proportion alone: --center 0.05")
    if county:
        get_county(db, county)
    if series is None:
        series = daily_series(db, config, period, county)
    groups = grouped_series(series, group)
    standard = center is not None and (sigma is not None or kind in ("p", "np"))
    if standard and (baseline is not None or exclude):
        raise InvalidInput("a chart against given standards takes no baseline and no excluded points",
                           "leave out --baseline and --exclude, or the given standard")
    if not standard and baseline is None:
        last = groups[min(len(groups), DEFAULT_BASELINE_POINTS[group]) - 1]["last"]
        baseline = date_range(period.start, last)
    if baseline and (baseline.start < period.start or baseline.end > period.end):
        raise InvalidInput(f"the baseline {baseline.label} lies outside {period.label}", "choose a baseline inside the period")
    start, end = (baseline.start.isoformat(), baseline.end.isoformat()) if baseline else ("", "")
    first_day = {g["label"]: g["first"] for g in groups}
    whole = {g["label"] for g in groups if start <= g["first"] and g["last"] <= end}

    def in_baseline(label: str) -> bool:  # a week or month is in phase I when all its days are
        return label in whole

    base = None if standard else in_baseline
    if base and not whole:
        raise InvalidInput(f"the baseline {baseline.label} holds no whole {group}",
                           f"choose a baseline of whole {group}s")
    excluded = _point_labels(exclude, group)
    moving_range = None
    if kind in ("p", "laney", "np"):
        if base and not any(g["n"] for g in groups if in_baseline(g["label"])):
            raise InvalidInput(f"the baseline {baseline.label} has no ratings", "choose a baseline with ratings")
        points = [(g["label"], g["bad"], g["n"]) for g in groups]
        if kind == "np":
            main = control_charts.np_chart(points, base, exclude=excluded, center=center)
        else:
            main = control_charts.p_chart(points, base, exclude=excluded, laney=kind == "laney", center=center)
    elif kind == "xbar":
        points = [(g["label"], g["index_sum"] / g["n"] if g["n"] else None,
                   _sample_sd(g["n"], g["index_sum"], g["index_sq"]), g["n"]) for g in groups]
        if base and not any(g["n"] for g in groups if in_baseline(g["label"])):
            raise InvalidInput(f"the baseline {baseline.label} has no ratings", "choose a baseline with ratings")
        main = control_charts.xbar_chart(points, base, exclude=excluded, sigma_method=sigma_method or "rmsdf", center=center,
                              sigma=sigma)
    else:
        values = [(g["label"], g["index_sum"] / g["n"] if g["n"] else None) for g in groups]
        if base and sum(1 for label, v in values if v is not None and in_baseline(label)) < 2:
            raise InvalidInput(f"the baseline {baseline.label} has fewer than 2 {group}s with ratings",
                               f"an individuals chart needs at least 2 baseline {group}s")
        main, moving_range = control_charts.xmr_chart(values, base, exclude=excluded, sigma_method=sigma_method or "mr",
                                           center=center, sigma=sigma)
        moving_range = control_charts.apply_rules(moving_range, ["nelson1"])
    main = control_charts.apply_rules(main, rules)
    return {"metric": metric, "chart_type": kind, "group": group, "county": county or "city",
            "period": period.as_dict(), "baseline": baseline.as_dict() if baseline else None,
            "rules": list(main.rules), "center": main.center, "sigma": main.sigma, "sigma_method": main.method,
            "given": {"center": center, "sigma": sigma} if center is not None or sigma is not None else None,
            "chart": main, "moving_range": moving_range, "rows": main.to_rows(),
            "mr": control_charts.mr_summary(moving_range),
            "signals": [{"day": first_day[p.label], "label": p.label, "signals": list(p.signals)}
                        for p in main.points if p.signals]}


def chart_for(ctx: Context, metric: str, period: Period, baseline: Period | None = None, county: str | None = None,
              rules: str = "nelson", laney: bool = False, *, city: bool = False, **options: Any) -> dict[str, Any]:
    """`haocha spc`: the chart as the operator may see it. A county operator's chart is its own county's; the
    whole city's (``city``) is the city's. ``options``: those of ``chart`` (kind, group, exclude, center, sigma,
    sigma_method)."""
    if city:
        ctx.require_city("the control chart of the whole city",
                         f"leave out --city: a county's chart is its own county's ({ctx.operator.county_code})")
    return chart(ctx.db, ctx.config, metric, period, baseline, ctx.county_scope(county, "see the control chart"),
                 rules, laney, **options)


def default_period(today: date) -> Period:
    return date_range(today - timedelta(days=DEFAULT_DAYS - 1), today)


def default_start(last: date, group: str = "day") -> date:
    """The first day of a chart ending on ``last`` when no --from is given: 90 days, 26 ISO weeks (from a Monday)
    or 12 calendar months."""
    if group == "week":
        return last - timedelta(days=last.weekday() + 7 * 25)
    if group == "month":
        year, month = (last.year, last.month - 11) if last.month == 12 else (last.year - 1, last.month + 1)
        return date(year, month, 1)
    return last - timedelta(days=DEFAULT_DAYS - 1)


def signals_on(db: sqlite_utils.Database, config: Config, day: date, county: str | None = None,
               baseline_days: int = DEFAULT_BASELINE_DAYS) -> list[dict[str, Any]]:
    """Rules broken on ``day`` by either chart (for the daily report); none when there is too little data."""
    period = date_range(day - timedelta(days=DEFAULT_DAYS - 1), day)
    baseline = date_range(period.start, period.start + timedelta(days=baseline_days - 1))
    found = []
    series = daily_series(db, config, period, county)  # read once for both metrics
    for metric in METRICS:
        try:
            result = chart(db, config, metric, period, baseline, county, series=series)
        except InvalidInput:
            continue
        last = result["rows"][-1]
        if last["signals"]:
            found.append({"metric": metric, "county": county or "city", "day": last["label"],
                          "value": last["value"], "signals": last["signals"],
                          "descriptions": [control_charts.RULES[s].description for s in last["signals"]]})
    return found
