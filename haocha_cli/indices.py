"""Satisfaction indices (满意指数), good and bad rates, rankings, benchmarking (对标), the pilot comparison and
derived importance — all from the daily aggregates, never the raw ratings (formulas: docs/method.md)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import sqlite_utils

from haocha_cli import stats
from haocha_cli.catalogue import get_county, get_window, resolve_county
from haocha_cli.config import LEVELS, Config
from haocha_cli.errors import InvalidInput, PermissionDenied
from haocha_cli.indicators import registry
from haocha_cli.periods import Period, parse_period
from haocha_cli.visibility import own_benchmark, own_county, own_ranking

if TYPE_CHECKING:
    from haocha_cli.context import Context

# --by key -> SQL expression over daily_agg / daily_indicator_agg
BY_KEYS = {
    "city": None,
    "county": "county_code",
    "window": "window_code",
    "item": "item_code",
    "channel": "channel",
    "mode": "mode",
    "indicator": "indicator_code",
    "day": "day",
    "week": "date(day, 'weekday 0', '-6 days')",  # the Monday of the ISO week
    "month": "substr(day, 1, 7)",
}
_LEVEL_COLUMNS = {i + 1: f"l{i + 1}" for i in range(5)}


def t(score: float) -> float:
    """Score transform t(s) = (s − 1)/4 × 100: 非常满意 = 100, 非常不满意 = 0."""
    return (score - 1) / 4 * 100


def _check_by(by: list[str]) -> list[str]:
    by = by or ["city"]
    unknown = [b for b in by if b not in BY_KEYS]
    if unknown:
        raise InvalidInput(f"--by {', '.join(unknown)} is not known", f"use {', '.join(BY_KEYS)}")
    if len(set(by)) != len(by):
        raise InvalidInput("a --by key is given twice", "give each key once")
    if "city" in by and len(by) > 1:
        raise InvalidInput("--by city is the whole city and cannot combine with other keys",
                           "drop --by city, e.g. --by county --by month")
    return by


def _where(period: Period, county: str | None, window: str | None, db: sqlite_utils.Database) -> tuple[str, list]:
    sql, params = "day BETWEEN ? AND ?", [period.start.isoformat(), period.end.isoformat()]
    if county:
        get_county(db, county)
        sql += " AND county_code = ?"
        params.append(county)
    if window:
        get_window(db, window)
        sql += " AND window_code = ?"
        params.append(window)
    return sql, params


def versions_in(db: sqlite_utils.Database, period: Period) -> list[str]:
    """Indicator-system versions in force during the period (named in every output)."""
    rows = list(db.query("SELECT version, active_from FROM indicator_versions ORDER BY active_from, created_at"))
    used = []
    for i, row in enumerate(rows):
        next_from = rows[i + 1]["active_from"] if i + 1 < len(rows) else "9999-12-31"
        if row["active_from"] <= period.end.isoformat() and next_from > period.start.isoformat():
            used.append(row["version"])
    return used or [rows[0]["version"]] if rows else []


def _figures(row: dict[str, Any], config: Config) -> dict[str, Any]:
    n = row["n"] or 0
    good = sum(row[_LEVEL_COLUMNS[level]] or 0 for level in config.good_levels)
    bad = sum(row[_LEVEL_COLUMNS[level]] or 0 for level in config.bad_levels)
    summary = stats.mean_var_from_sums(n, row["index_sum"] or 0.0, row["index_sq"] or 0.0)
    return {
        "n": n,
        "index": summary.mean,
        "good_rate": good / n if n else None,
        "bad_rate": bad / n if n else None,
        "basic_share": (row["l3"] or 0) / n if n else None,
        "good": good,
        "bad": bad,
        "excluded_n": row["excluded_n"] or 0,
        "index_var": summary.var,
    }


def _names(db: sqlite_utils.Database) -> dict[str, dict[str, str]]:
    return {
        "county": dict(db.execute("SELECT code, name FROM counties").fetchall()),
        "window": dict(db.execute("SELECT code, name FROM windows").fetchall()),
        "item": dict(db.execute("SELECT code, name FROM items").fetchall()),
        "indicator": {r["code"]: r["name"] for r in registry(db)},
    }


def index(db: sqlite_utils.Database, config: Config, period: Period, by: list[str] | None = None,
          county: str | None = None, window: str | None = None, *, indicators: bool = True) -> dict[str, Any]:
    """The index table: one row per group of the --by keys, with N beside every figure. indicators=False
    leaves out each row's per-indicator means (``indicators`` is then empty), for callers that do not show
    them: they are read from daily_indicator_agg, the larger of the two aggregates (the monthly trend)."""
    by = _check_by(by or [])
    where, params = _where(period, county, window, db)
    names = _names(db)
    if "indicator" in by:
        rows = _indicator_rows(db, by, where, params, names)
    else:
        keys = [b for b in by if b != "city"]
        rows = []
        per_indicator = _indicator_means(db, keys, where, params) if indicators else {}
        for raw in _level_sums(db, keys, where, params):
            if raw["n"] is None and not keys:
                raw = {**raw, "n": 0}
            row = {k: raw[k] for k in keys}
            for k in keys:
                if k in names:
                    row[f"{k}_name"] = names[k].get(raw[k], "")
            if not keys:
                row["unit"] = window or county or "city"
            row.update({k: v for k, v in _figures(raw, config).items() if k != "index_var"})
            row["indicators"] = per_indicator.get(tuple(raw[k] for k in keys), {})
            rows.append(row)
        _add_rating_rates(db, config, rows, keys, where, params, names)
    total_n = sum(r["n"] for r in rows)
    return {
        "period": period.as_dict(),
        "by": by,
        "county": county,
        "window": window,
        "weights_version": ", ".join(versions_in(db, period)),
        "good_levels": config["good_levels"],
        "rows": rows,
        "note": None if total_n else f"no counted ratings in {period.label}: N = 0, no index",
    }


# The level counts and index sums of daily_agg that every index figure is computed from (``_figures``).
_SUMMED = ("n", "l1", "l2", "l3", "l4", "l5", "index_sum", "index_sq", "excluded_n")
_SUMS_SQL = ", ".join(f"sum({c}) AS {c}" for c in _SUMMED)


def _monday(day: str) -> str:
    """The Monday of the day's ISO week: BY_KEYS["week"] in Python (the two must agree)."""
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


# The --by keys of the day that _level_sums adds up from days, with what each makes of a day.
_BY_DAY = {"week": _monday, "month": lambda day: day[:7]}


def _level_sums(db, keys: list[str], where: str, params: list) -> list[dict[str, Any]]:
    """The level counts and index sums of daily_agg per group of the keys, in the keys' order. A week or a month
    is read by day and its days added up here: the aggregates are stored in day order, so SQLite sums a day's
    rows as they come, where grouping by an expression of the day sorted every row of the period first (a year
    of the 10M-rating benchmark's aggregates: 0.11 s against 0.23 s)."""
    if "day" in keys or not any(k in _BY_DAY for k in keys):
        select = "".join(f"{BY_KEYS[k]} AS {k}, " for k in keys)
        group = f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else ""
        return list(db.query(f"SELECT {select}{_SUMS_SQL} FROM daily_agg WHERE {where}{group}", params))
    rest = [k for k in keys if k not in _BY_DAY]
    select = "".join(f"{BY_KEYS[k]} AS {k}, " for k in rest)
    groups: dict[tuple, dict[str, Any]] = {}
    for raw in db.query(f"SELECT day, {select}{_SUMS_SQL} FROM daily_agg WHERE {where}"
                        f" GROUP BY {', '.join(['day', *rest])}", params):
        row = {k: (_BY_DAY[k](raw["day"]) if k in _BY_DAY else raw[k]) for k in keys}
        key = tuple(row[k] for k in keys)
        entry = groups.get(key)
        if entry is None:
            groups[key] = {**row, **{c: raw[c] for c in _SUMMED}}
        else:
            for c in _SUMMED:
                entry[c] += raw[c]
    return [groups[key] for key in sorted(groups)]


def _add_rating_rates(db, config: Config, rows: list[dict[str, Any]], keys: list[str], where: str, params: list,
                      names: dict[str, dict[str, str]]) -> None:
    """办件量 (``services``) and 主动评价率 (``rating_rate`` = N ÷ services) on each row (None where the groups have
    no services, or a key volumes do not have: channel, mode); a group with services but no counted rating gets a
    row of its own with N = 0, rate 0 (haocha_cli.volumes)."""
    from haocha_cli.volumes import rating_rate, services_by

    services = services_by(db, {k: BY_KEYS[k] for k in keys}, where, params)
    for row in rows:
        row["services"] = services.get(tuple(row[k] for k in keys)) if services is not None else None
        row["rating_rate"] = rating_rate(row["n"], row["services"])
    missing = sorted(set(services or {}) - {tuple(r[k] for k in keys) for r in rows})
    zero = dict.fromkeys(_SUMMED, 0)
    for group in missing:
        row = dict(zip(keys, group, strict=True))
        for k in keys:
            if k in names:
                row[f"{k}_name"] = names[k].get(row[k], "")
        row.update({k: v for k, v in _figures(zero, config).items() if k != "index_var"})
        row.update(indicators={}, services=services[group], rating_rate=rating_rate(0, services[group]))
        rows.append(row)
    if missing and keys:
        rows.sort(key=lambda r: tuple(r[k] for k in keys))


def _indicator_means(db, keys: list[str], where: str, params: list) -> dict[tuple, dict[str, Any]]:
    select = "".join(f"{BY_KEYS[k]} AS {k}, " for k in keys)
    group = ", ".join([*keys, "indicator_code"])
    sql = (f"SELECT {select}indicator_code, sum(n) AS n, sum(score_sum) AS s FROM daily_indicator_agg"
           f" WHERE {where} GROUP BY {group}")
    result: dict[tuple, dict[str, Any]] = {}
    for row in db.query(sql, params):
        if row["n"]:
            key = tuple(row[k] for k in keys)
            result.setdefault(key, {})[row["indicator_code"]] = {"mean": row["s"] / row["n"],
                                                                 "index": t(row["s"] / row["n"]), "n": row["n"]}
    return result


def _indicator_rows(db, by: list[str], where: str, params: list, names) -> list[dict[str, Any]]:
    keys = [b for b in by if b not in ("city",)]
    select = "".join(f"{BY_KEYS[k]} AS {k}, " for k in keys)
    sql = (f"SELECT {select}sum(n) AS n, sum(score_sum) AS s, sum(score_sq) AS ss FROM daily_indicator_agg"
           f" WHERE {where} GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}")
    rows = []
    for raw in db.query(sql, params):
        row = {k: raw[k] for k in keys}
        for k in keys:
            if k in names:
                row[f"{k}_name"] = names[k].get(raw[k], "")
        summary = stats.mean_var_from_sums(raw["n"], raw["s"], raw["ss"])
        row.update({"n": raw["n"], "mean_score": summary.mean, "index": t(summary.mean) if summary.mean else None})
        rows.append(row)
    return rows


def _units(db: sqlite_utils.Database, by: str, county: str | None) -> list[dict[str, Any]]:
    if by == "county":
        return list(db.query("SELECT code, name FROM counties ORDER BY code"))
    if by == "window":
        sql, params = "SELECT code, name, county_code FROM windows WHERE active", []
        if county:
            get_county(db, county)
            sql += " AND county_code = ?"
            params.append(county)
        return list(db.query(sql + " ORDER BY county_code, code", params))
    raise InvalidInput(f"rank --by {by} is not supported", "use --by county, --by window or --by staff")


def _sums_by(db, column: str, period: Period, county: str | None) -> dict[str, dict[str, Any]]:
    where, params = _where(period, county, None, db)
    sql = f"SELECT {column} AS unit, {_SUMS_SQL} FROM daily_agg WHERE {where} GROUP BY {column}"
    return {r["unit"]: r for r in db.query(sql, params)}


def rank(db: sqlite_utils.Database, config: Config, period: Period, by: str = "county",
         county: str | None = None) -> dict[str, Any]:
    """Ranking by the small-sample-shrunk score (W·μ + N·SI)/(W + N); units with no ratings listed last."""
    units = _units(db, by, county)
    column = "county_code" if by == "county" else "window_code"
    now = _sums_by(db, column, period, county)
    before = _sums_by(db, column, period.previous(), county)
    total_n = sum(r["n"] for r in now.values())
    mu = sum(r["index_sum"] for r in now.values()) / total_n if total_n else None
    # W, the prior's weight: the mean N of the units that have counted ratings in the period (the same units
    # μ is the index of), not of every unit listed, so that windows without ratings do not weaken it.
    rated_units = sum(1 for r in now.values() if r["n"])
    w_config = config["ranking.shrink_weight"]
    w = float(w_config) if w_config else (total_n / rated_units if rated_units else 0.0)
    rows = []
    for unit in units:
        cur = now.get(unit["code"])
        fig = _figures(cur, config) if cur else {"n": 0, "index": None, "good_rate": None, "excluded_n": 0}
        prev = before.get(unit["code"])
        prev_index = _figures(prev, config)["index"] if prev and prev["n"] else None
        row = {by: unit["code"], "name": unit["name"], "n": fig["n"], "index": fig["index"],
               "shrunk": stats.shrunk_score(fig["index"], fig["n"], mu, w) if fig["n"] and mu is not None else None,
               "good_rate": fig["good_rate"], "previous_index": prev_index,
               "change": (fig["index"] - prev_index) if fig["index"] is not None and prev_index is not None else None,
               "excluded_n": fig["excluded_n"]}
        rows.append(row)
    ranked = sorted((r for r in rows if r["n"]), key=lambda r: (-r["shrunk"], r[by]))
    for position, row in enumerate(ranked, 1):
        row["rank"] = position
    unranked = [dict(r, rank=None) for r in rows if not r["n"]]
    return {"period": period.as_dict(), "previous_period": period.previous().as_dict(), "by": by,
            "mu": mu, "w": w, "w_basis": "configured" if w_config else "mean_n", "rated_units": rated_units,
            "weights_version": ", ".join(versions_in(db, period)),
            "ranked": len(ranked), "rows": ranked + unranked,
            "note": None if total_n else f"no counted ratings in {period.label}: N = 0, nothing to rank"}


def benchmark(db: sqlite_utils.Database, period: Period, min_n: int = 30) -> dict[str, Any]:
    """Per county and indicator: mean (as an index 0–100), the best county (标杆), the gaps to it and to the
    city mean; each county's three weakest indicators. Only a county with at least ``min_n`` scores on an
    indicator can be its benchmark, so that a handful of ratings does not set the bar; an indicator on which
    no county reached ``min_n`` has no benchmark (and no gaps to one) — never a fallback to the others.
    ``indicators`` says, per indicator, how many counties have scores and how many reached ``min_n``."""
    where, params = _where(period, None, None, db)
    sql = ("SELECT county_code, indicator_code, sum(n) AS n, sum(score_sum) AS s FROM daily_indicator_agg"
           f" WHERE {where} GROUP BY county_code, indicator_code")
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    city: dict[str, list[float]] = {}
    for r in db.query(sql, params):
        if r["n"]:
            cells.setdefault(r["indicator_code"], {})[r["county_code"]] = {"n": r["n"], "index": t(r["s"] / r["n"])}
            acc = city.setdefault(r["indicator_code"], [0, 0.0])
            acc[0] += r["n"]
            acc[1] += r["s"]
    names = _names(db)
    rows, summary = [], []
    for code, name in names["indicator"].items():
        per_county = cells.get(code, {})
        if not per_county:
            continue
        eligible = {c: v for c, v in per_county.items() if v["n"] >= min_n}
        best_county = max(eligible, key=lambda c: (eligible[c]["index"], c)) if eligible else None
        best = eligible[best_county]["index"] if best_county else None
        city_mean = t(city[code][1] / city[code][0])
        summary.append({"indicator": code, "indicator_name": name, "scored_counties": len(per_county),
                        "reached": len(eligible), "best_county": best_county, "best_index": best,
                        "best_n": eligible[best_county]["n"] if best_county else None})
        for county_code, value in sorted(per_county.items()):
            rows.append({"county": county_code, "county_name": names["county"].get(county_code, ""),
                         "indicator": code, "indicator_name": name, "n": value["n"], "index": value["index"],
                         "min_n_reached": value["n"] >= min_n, "best_county": best_county, "best_index": best,
                         "gap_to_best": value["index"] - best if best is not None else None,
                         "city_index": city_mean, "gap_to_city": value["index"] - city_mean})
    weakest: dict[str, list[str]] = {}
    for county_code in sorted({r["county"] for r in rows}):
        mine = sorted((r for r in rows if r["county"] == county_code), key=lambda r: (r["index"], r["indicator"]))
        weakest[county_code] = [r["indicator"] for r in mine[:3]]
    without = [s["indicator"] for s in summary if not s["reached"]]
    if not rows:
        note = f"no indicator scores in {period.label}: N = 0, nothing to benchmark"
    elif without:
        note = (f"{len(without)} of {len(summary)} indicators have no county with N ≥ {min_n} scores in "
                f"{period.label}: no benchmark (标杆) for {', '.join(without)}")
    else:
        note = None
    return {"period": period.as_dict(), "min_n": min_n, "weights_version": ", ".join(versions_in(db, period)),
            "indicators": summary, "rows": rows, "weakest": weakest, "note": note}


def _group(db, where: str, params: list, config: Config) -> dict[str, Any]:
    raw = db.execute(
        "SELECT coalesce(sum(n), 0), coalesce(sum(l1), 0), coalesce(sum(l2), 0), coalesce(sum(l3), 0),"
        " coalesce(sum(l4), 0), coalesce(sum(l5), 0), coalesce(sum(index_sum), 0), coalesce(sum(index_sq), 0),"
        f" coalesce(sum(excluded_n), 0) FROM daily_agg WHERE {where}", params).fetchone()
    row = dict(zip(["n", "l1", "l2", "l3", "l4", "l5", "index_sum", "index_sq", "excluded_n"], raw, strict=True))
    return _figures(row, config)


def pilot_setting(config: Config, county: str | None = None, before: str | None = None,
                  after: str | None = None) -> tuple[str, Period, Period]:
    """The pilot to judge: each of county, baseline and pilot period as given, else from the configuration
    ([pilot] county, before, after), so that a roll-out's `haocha compare` needs no options."""
    given = {"county": county, "before": before, "after": after}
    values = {k: v if v else config[f"pilot.{k}"] for k, v in given.items()}
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise InvalidInput("the pilot comparison needs " + " and ".join(f"--{k}" for k in missing) + " (or "
                           + " and ".join(f"pilot.{k}" for k in missing) + " in the configuration)",
                           "give --county, --before and --after, or set county, before and after under [pilot] in "
                           "haocha.toml")
    return str(values["county"]), parse_period(str(values["before"])), parse_period(str(values["after"]))


def compare(db: sqlite_utils.Database, config: Config, county: str, before: Period, after: Period) -> dict[str, Any]:
    """The pilot judged: change in index (Welch t-test) and 好评率 (two-proportion test) for the county,
    the same for the other counties as control, and the difference in differences."""
    get_county(db, county)
    groups = {}
    for label, period in (("before", before), ("after", after)):
        span = "day BETWEEN ? AND ?"
        dates = [period.start.isoformat(), period.end.isoformat()]
        groups[f"pilot_{label}"] = _group(db, span + " AND county_code = ?", [*dates, county], config)
        groups[f"control_{label}"] = _group(db, span + " AND county_code != ?", [*dates, county], config)

    def mean_summary(g):
        return stats.MeanSummary(g["index"], g["index_var"], g["n"])

    def proportion(g):
        return stats.Proportion(g["good"], g["n"])

    result: dict[str, Any] = {"county": county, "before": before.as_dict(), "after": after.as_dict(),
                              "weights_version": ", ".join(sorted(set(versions_in(db, before) + versions_in(db, after)))),
                              "groups": {k: {kk: vv for kk, vv in v.items() if kk != "index_var"} for k, v in groups.items()}}
    for who in ("pilot", "control"):
        b, a = groups[f"{who}_before"], groups[f"{who}_after"]
        names = (f"the {who} group before", f"the {who} group after")
        result[f"{who}_index"] = stats.welch_t_test(b["index"], b["index_var"], b["n"], a["index"], a["index_var"], a["n"],
                                                    names=names)
        result[f"{who}_good_rate"] = stats.two_proportion_test(b["good"], b["n"], a["good"], a["n"], names=names)
    result["did_index"] = stats.difference_in_differences(
        mean_summary(groups["pilot_before"]), mean_summary(groups["pilot_after"]),
        mean_summary(groups["control_before"]), mean_summary(groups["control_after"]))
    result["did_good_rate"] = stats.difference_in_differences(
        proportion(groups["pilot_before"]), proportion(groups["pilot_after"]),
        proportion(groups["control_before"]), proportion(groups["control_after"]))
    return result


def drivers(db: sqlite_utils.Database, period: Period, county: str | None = None) -> dict[str, Any]:
    """Derived importance: each indicator's correlation with the overall level, with N, and a suggested
    1–5 score for the priority matrix's 相关性 criterion (r scaled linearly between the weakest and
    strongest driver)."""
    where, params = _where(period, county, None, db)
    sql = ("SELECT indicator_code, sum(n) AS n, sum(score_sum) AS sx, sum(level_sum) AS sy, sum(score_sq) AS sxx,"
           f" sum(level_sq) AS syy, sum(cross_sum) AS sxy FROM daily_indicator_agg WHERE {where}"
           " GROUP BY indicator_code ORDER BY indicator_code")
    names = _names(db)["indicator"]
    rows = []
    for r in db.query(sql, params):
        corr = stats.pearson_from_sums(r["n"], r["sx"], r["sy"], r["sxx"], r["syy"], r["sxy"])
        rows.append({"indicator": r["indicator_code"], "name": names.get(r["indicator_code"], ""), "n": r["n"],
                     "r": corr})
    defined = [r["r"] for r in rows if r["r"] is not None]
    lo, hi = (min(defined), max(defined)) if defined else (None, None)
    for row in rows:
        if row["r"] is None:
            row["suggested_score"] = None
        elif hi == lo:
            row["suggested_score"] = 3
        else:
            row["suggested_score"] = round(1 + 4 * (row["r"] - lo) / (hi - lo))
    return {"period": period.as_dict(), "county": county, "rows": rows,
            "note": None if rows else f"no indicator scores in {period.label}: N = 0, no correlation"}


# --- as the operator may see them (haocha_cli.visibility) ------------------------------------------------
# The functions above compute over the whole database for whoever asks (the reports, the demo); the
# commands call these, which limit a county operator to its own county.


def index_for(ctx: Context, period: Period, by: list[str] | None = None, county: str | None = None,
              window: str | None = None) -> dict[str, Any]:
    """`haocha index`: a county operator's figures are its own county's (by window, item, channel … within it).
    ``--by staff`` (alone) is the city's: haocha_cli.window_staff."""
    if "staff" in (by or []):
        if by != ["staff"]:
            raise InvalidInput("--by staff cannot combine with other keys", "give --by staff alone (with --county"
                               " or --window to narrow it)")
        from haocha_cli.window_staff import staff_index

        return staff_index(ctx, period, county, window)
    county = ctx.county_scope(county, "see the figures")
    if window and not ctx.sees_county(owner := get_window(ctx.db, window)["county_code"]):
        raise PermissionDenied(f"window {window} is county {owner}'s; {ctx.operator} may see the figures of its own"
                               " county's windows only", "leave out --window, or name one of your county's windows")
    return index(ctx.db, ctx.config, period, by, county, window)


def rank_for(ctx: Context, period: Period, by: str = "county", county: str | None = None) -> dict[str, Any]:
    """`haocha rank`: a county operator ranks its own windows; among the counties it sees its own row with its
    rank number (名次) and how many counties were ranked (``ranked``), not the other counties. ``--by staff``
    is the city's: haocha_cli.window_staff."""
    if by == "staff":
        from haocha_cli.window_staff import staff_rank

        return staff_rank(ctx, period, county)
    if by != "county":
        return rank(ctx.db, ctx.config, period, by, ctx.county_scope(county, "rank the windows"))
    ctx.county_scope(county, "see the ranking")  # a county may not ask for another county
    if own_county(ctx) is not None:  # a county: its place among all the counties
        county = None
    return own_ranking(ctx, rank(ctx.db, ctx.config, period, by, county))


def benchmark_for(ctx: Context, period: Period, min_n: int = 30) -> dict[str, Any]:
    """`haocha benchmark`: a county operator sees its own gaps, not which county is the best."""
    return own_benchmark(ctx, benchmark(ctx.db, period, min_n))


def compare_for(ctx: Context, county: str | None = None, before: str | None = None,
                after: str | None = None) -> dict[str, Any]:
    """`haocha compare`: the pilot (as given, else the configuration's: ``pilot_setting``) against the other
    counties as the control group — the city's judgement."""
    ctx.require_city("judging a pilot against the other counties",
                     "a county's own figures before and after: haocha index --by month --from … --to …")
    county, before_period, after_period = pilot_setting(ctx.config, county, before, after)
    return compare(ctx.db, ctx.config, resolve_county(ctx.db, county), before_period, after_period)


def drivers_for(ctx: Context, period: Period, county: str | None = None) -> dict[str, Any]:
    """`haocha indicators drivers`: a county operator's correlations are its own county's ratings'."""
    return drivers(ctx.db, period, ctx.county_scope(county, "see the figures"))


LEVEL_NAMES = LEVELS
