"""Window staff (窗口工作人员) in the figures: `index --by staff` and `rank --by staff`, the city's.

The members of window staff are the catalogue's ``staff`` (code, name, county, phone: `org import` of an
organisation file's [[staff]] entries, or `org import-window-staff` of a CSV) — not the workbench's login
accounts (``accounts``, `haocha staff`). A rating names one by its 工作人员 column (``ratings.staff_code``, as
the import keeps it: trimmed, empty = none); the code resolves to the catalogue's member of that code.

A person's figures are the city's to read (personal performance): a county operator is refused, and no county
report and no public report carries them. Below ``window_staff.min_n`` counted ratings no figure is shown (–):
a handful of ratings says nothing about a person. The daily aggregates have no staff, so these figures are
read from the counted ratings of the period themselves (docs/method.md section 8).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from haocha_cli import stats
from haocha_cli.context import Context
from haocha_cli.errors import HaochaError, InvalidInput
from haocha_cli.periods import Period
from haocha_cli.readers import decode_small_text, regular_file

_CITY_ONLY = ("the figures of window staff (窗口工作人员) are personal: the city's alone, never in a county's or the"
              " public report")


def min_n_of(ctx: Context, min_n: int | None) -> int:
    value = ctx.config["window_staff.min_n"] if min_n is None else min_n
    if value < 1:
        raise InvalidInput(f"the minimum N of window staff must be at least 1, not {value}",
                           "the default is 30 (window_staff.min_n)")
    return int(value)


def _sums(ctx: Context, period: Period, county: str | None, window: str | None) -> dict[str, dict[str, Any]]:
    sql = ("SELECT staff_code, count(*) AS n, sum(rating_index) AS s, sum(rating_index * rating_index) AS ss,"
           f" sum(level IN ({','.join('?' * len(ctx.config.good_levels))})) AS good,"
           f" sum(level IN ({','.join('?' * len(ctx.config.bad_levels))})) AS bad"
           " FROM ratings WHERE day BETWEEN ? AND ? AND excluded IS NULL AND staff_code IS NOT NULL")
    params: list[Any] = [*sorted(ctx.config.good_levels), *sorted(ctx.config.bad_levels),
                         period.start.isoformat(), period.end.isoformat()]
    if county:
        sql += " AND county_code = ?"
        params.append(county)
    if window:
        sql += " AND window_code = ?"
        params.append(window)
    return {r["staff_code"]: r for r in ctx.db.query(sql + " GROUP BY staff_code", params)}


def _catalogue(ctx: Context) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in ctx.db.query(
        "SELECT s.code, s.name, s.county_code, c.name AS county_name FROM staff s"
        " LEFT JOIN counties c ON c.code = s.county_code")}


def _not_in_catalogue(unknown: list[str], total: int) -> str | None:
    if not unknown:
        return None
    listed = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
    return (f"{len(unknown)} staff code(s) of {total} on the ratings are not in the catalogue (工作人员: org import):"
            f" {listed}")


def staff_index(ctx: Context, period: Period, county: str | None = None, window: str | None = None,
                min_n: int | None = None) -> dict[str, Any]:
    """`haocha index --by staff`: per member of window staff named on the counted ratings, N beside every
    figure; with fewer than the minimum N, the figures are None (–)."""
    from haocha_cli.indices import versions_in

    ctx.require_city("seeing the figures of window staff", _CITY_ONLY)
    county = ctx.county_scope(county, "see the figures")
    least = min_n_of(ctx, min_n)
    members = _catalogue(ctx)
    rows = []
    for code, r in sorted(_sums(ctx, period, county, window).items()):
        member = members.get(code, {})
        reached = r["n"] >= least
        summary = stats.mean_var_from_sums(r["n"], r["s"] or 0.0, r["ss"] or 0.0)
        rows.append({"staff": code, "staff_name": member.get("name", ""), "county_code": member.get("county_code"),
                     "county_name": member.get("county_name", ""), "n": r["n"],
                     "index": summary.mean if reached else None,
                     "good_rate": r["good"] / r["n"] if reached else None,
                     "bad_rate": r["bad"] / r["n"] if reached else None, "min_n_reached": reached})
    unknown = [r["staff"] for r in rows if r["staff"] not in members]
    notes = [n for n in (None if rows else f"no counted ratings naming a member of staff in {period.label}",
                         _not_in_catalogue(unknown, len(rows))) if n]
    return {"period": period.as_dict(), "by": ["staff"], "county": county, "window": window, "min_n": least,
            "weights_version": ", ".join(versions_in(ctx.db, period)), "good_levels": ctx.config["good_levels"],
            "rows": rows, "not_in_catalogue": unknown, "note": "; ".join(notes) or None}


def staff_rank(ctx: Context, period: Period, county: str | None = None, min_n: int | None = None) -> dict[str, Any]:
    """`haocha rank --by staff`: the members with at least the minimum N ranked by the small-sample-shrunk
    score (W·μ + N·SI)/(W + N), μ and W over the ranked members; the others listed after, without figures."""
    from haocha_cli.indices import versions_in

    ctx.require_city("ranking window staff", _CITY_ONLY)
    county = ctx.county_scope(county, "rank")
    least = min_n_of(ctx, min_n)
    members = _catalogue(ctx)
    now = _sums(ctx, period, county, None)
    before = _sums(ctx, period.previous(), county, None)
    reached = {c: r for c, r in now.items() if r["n"] >= least}
    total_n = sum(r["n"] for r in reached.values())
    mu = sum(r["s"] for r in reached.values()) / total_n if total_n else None
    w_config = ctx.config["ranking.shrink_weight"]
    w = float(w_config) if w_config else (total_n / len(reached) if reached else 0.0)
    rows = []
    for code, r in sorted(now.items()):
        ok = code in reached
        index = r["s"] / r["n"] if ok else None
        prev = before.get(code)
        prev_index = prev["s"] / prev["n"] if ok and prev and prev["n"] >= least else None
        rows.append({"staff": code, "name": members.get(code, {}).get("name", ""),
                     "county_code": members.get(code, {}).get("county_code"), "n": r["n"], "index": index,
                     "shrunk": stats.shrunk_score(index, r["n"], mu, w) if ok and mu is not None else None,
                     "good_rate": r["good"] / r["n"] if ok else None, "previous_index": prev_index,
                     "change": index - prev_index if prev_index is not None else None, "excluded_n": None,
                     "min_n_reached": ok})
    ranked = sorted((r for r in rows if r["min_n_reached"]), key=lambda r: (-r["shrunk"], r["staff"]))
    for position, row in enumerate(ranked, 1):
        row["rank"] = position
    unranked = [dict(r, rank=None) for r in rows if not r["min_n_reached"]]
    unknown = [r["staff"] for r in rows if r["staff"] not in members]
    notes = [n for n in (None if ranked else f"no member of staff has N ≥ {least} counted ratings in {period.label}:"
                                             " nothing to rank", _not_in_catalogue(unknown, len(rows))) if n]
    return {"period": period.as_dict(), "previous_period": period.previous().as_dict(), "by": "staff",
            "min_n": least, "mu": mu, "w": w, "w_basis": "configured" if w_config else "mean_n",
            "rated_units": len(reached), "weights_version": ", ".join(versions_in(ctx.db, period)),
            "ranked": len(ranked), "rows": ranked + unranked, "not_in_catalogue": unknown,
            "note": "; ".join(notes) or None}


# --- the CSV of window staff ---------------------------------------------------------------------------

HEADERS = {
    "工作人员编码": "code", "工号": "code", "staff_code": "code", "code": "code",
    "姓名": "name", "工作人员": "name", "name": "name",
    "行政区划代码": "county", "county": "county", "county_code": "county", "区县局": "county_name",
    "county_name": "county_name", "联系电话": "phone", "电话": "phone", "phone": "phone",
    "状态": "active", "active": "active",
}


def read_staff_csv(ctx: Context, path: str | Path) -> dict[str, Any]:
    """A CSV of window staff (工作人员编码,姓名,行政区划代码 or 区县局,联系电话,状态) as the entries of an
    organisation file's [[staff]] (``catalogue.import_org`` checks and writes them, all or nothing)."""
    from haocha_cli.catalogue import resolve_county

    path = regular_file(path)
    reader = csv.reader(io.StringIO(decode_small_text(path, path.read_bytes()), newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise InvalidInput(f"{path.name}: the header line cannot be read ({exc})",
                           "the first line must name the columns, separated by commas") from None
    fields = [HEADERS.get(h) for h in header]
    missing = [name for name, f in (("工作人员编码", "code"), ("姓名", "name")) if f not in fields]
    if "county" not in fields and "county_name" not in fields:
        missing.append("行政区划代码 or 区县局")
    if missing:
        raise InvalidInput(f"{path.name}: missing column(s) {', '.join(missing)}",
                           f"the header is 工作人员编码,姓名,行政区划代码,联系电话,状态; columns found: {', '.join(header)}")
    entries = []
    try:
        for cells in reader:
            where = f"{path.name} line {reader.line_num}"
            if not any(c.strip() for c in cells):
                continue
            entry: dict[str, Any] = {"_where": where}
            entry.update({f: c.strip() for f, c in zip(fields, cells, strict=False) if f})
            named = entry.pop("county_name", "")
            if not entry.get("county") and named:
                try:
                    entry["county"] = resolve_county(ctx.db, named)
                except HaochaError as exc:  # unknown or ambiguous: said as the catalogue says it, with the line
                    entry["_problem"] = InvalidInput(f"{where}: {exc.message}", exc.hint)
            entries.append(entry)
    except csv.Error as exc:
        raise InvalidInput(f"{path.name} line {reader.line_num} cannot be split into cells ({exc})",
                           'a quote is not closed or not doubled: a quote inside a quoted cell is written ""') from None
    if not entries:
        raise InvalidInput(f"{path.name} has no rows", "one line per member of window staff under the header")
    return {"staff": entries}
