"""Control charts (控制图) of the daily bad-review rate and the daily satisfaction index, from the daily
aggregates: the daily series, phase I (baseline) and phase II (monitoring), and the run rules."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import sqlite_utils

from haocha_cli import spc
from haocha_cli.catalogue import get_county
from haocha_cli.config import Config
from haocha_cli.errors import InvalidInput
from haocha_cli.periods import Period, date_range

if TYPE_CHECKING:
    from haocha_cli.context import Context

METRICS = ("bad-rate", "index")
DEFAULT_DAYS = 90
DEFAULT_BASELINE_DAYS = 30


def daily_series(db: sqlite_utils.Database, config: Config, period: Period,
                 county: str | None = None) -> list[dict[str, Any]]:
    """One entry per calendar day: n, bad reviews, index sum; days without ratings have n = 0."""
    bad_cols = " + ".join(f"sum(l{level})" for level in sorted(config.bad_levels)) or "0"
    sql = (f"SELECT day, sum(n) AS n, {bad_cols} AS bad, sum(index_sum) AS index_sum FROM daily_agg"
           " WHERE day BETWEEN ? AND ?")
    params: list[Any] = [period.start.isoformat(), period.end.isoformat()]
    if county:
        sql += " AND county_code = ?"
        params.append(county)
    found = {r["day"]: r for r in db.query(sql + " GROUP BY day", params)}
    series, day = [], period.start
    while day <= period.end:
        r = found.get(day.isoformat())
        series.append({"day": day.isoformat(), "n": (r["n"] or 0) if r else 0, "bad": (r["bad"] or 0) if r else 0,
                       "index_sum": (r["index_sum"] or 0.0) if r else 0.0})
        day += timedelta(days=1)
    return series


def chart(db: sqlite_utils.Database, config: Config, metric: str, period: Period, baseline: Period | None = None,
          county: str | None = None, rules: str = "nelson", laney: bool = False) -> dict[str, Any]:
    """The chart of one metric over the period; the baseline (phase I) defaults to its first 30 days."""
    metric = metric.strip().lower().replace("_", "-")  # bad_rate, Bad-Rate: the same metric
    if metric not in METRICS:
        raise InvalidInput(f"metric {metric!r} is not known", f"use {' or '.join(METRICS)}")
    if county:
        get_county(db, county)
    baseline = baseline or date_range(period.start, min(period.end, period.start + timedelta(days=DEFAULT_BASELINE_DAYS - 1)))
    if baseline.start < period.start or baseline.end > period.end:
        raise InvalidInput(f"the baseline {baseline.label} lies outside {period.label}", "choose a baseline inside the period")
    series = daily_series(db, config, period, county)
    start, end = baseline.start.isoformat(), baseline.end.isoformat()

    def in_baseline(label: str) -> bool:
        return start <= label <= end

    if metric == "bad-rate":
        if not any(p["n"] for p in series if in_baseline(p["day"])):
            raise InvalidInput(f"the baseline {baseline.label} has no ratings", "choose a baseline with ratings")
        main = spc.p_chart([(p["day"], p["bad"], p["n"]) for p in series], in_baseline, laney=laney)
        moving_range = None
    else:
        values = [(p["day"], p["index_sum"] / p["n"] if p["n"] else None) for p in series]
        if sum(1 for label, v in values if v is not None and in_baseline(label)) < 2:
            raise InvalidInput(f"the baseline {baseline.label} has fewer than 2 days with ratings",
                               "an individuals chart needs at least 2 baseline days")
        main, moving_range = spc.xmr_chart(values, in_baseline)
        moving_range = spc.apply_rules(moving_range, ["nelson1"])
    main = spc.apply_rules(main, rules)
    return {"metric": metric, "county": county or "city", "period": period.as_dict(), "baseline": baseline.as_dict(),
            "rules": list(main.rules), "center": main.center, "chart": main, "moving_range": moving_range,
            "rows": main.to_rows(),
            "signals": [{"day": p.label, "signals": list(p.signals)} for p in main.points if p.signals]}


def chart_for(ctx: Context, metric: str, period: Period, baseline: Period | None = None, county: str | None = None,
              rules: str = "nelson", laney: bool = False, *, city: bool = False) -> dict[str, Any]:
    """`haocha spc`: the chart as the operator may see it. A county operator's chart is its own county's; the
    whole city's (``city``) is the city's."""
    if city:
        ctx.require_city("the control chart of the whole city",
                         f"leave out --city: a county's chart is its own county's ({ctx.operator.county_code})")
    return chart(ctx.db, ctx.config, metric, period, baseline, ctx.county_scope(county, "see the control chart"),
                 rules, laney)


def default_period(today: date) -> Period:
    return date_range(today - timedelta(days=DEFAULT_DAYS - 1), today)


def signals_on(db: sqlite_utils.Database, config: Config, day: date, county: str | None = None,
               baseline_days: int = DEFAULT_BASELINE_DAYS) -> list[dict[str, Any]]:
    """Rules broken on ``day`` by either chart (for the daily report); none when there is too little data."""
    period = date_range(day - timedelta(days=DEFAULT_DAYS - 1), day)
    baseline = date_range(period.start, period.start + timedelta(days=baseline_days - 1))
    found = []
    for metric in METRICS:
        try:
            result = chart(db, config, metric, period, baseline, county)
        except InvalidInput:
            continue
        last = result["rows"][-1]
        if last["signals"]:
            found.append({"metric": metric, "county": county or "city", "day": last["label"],
                          "value": last["value"], "signals": last["signals"],
                          "descriptions": [spc.RULES[s].description for s in last["signals"]]})
    return found
