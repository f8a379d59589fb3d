"""What staff work from: a county's work list (most urgent first), a case as its page shows it, and the
city's start page (today's bad reviews, overdue cases by county, what waits for the city, recent flags,
this month's index). The workbench (haocha_cli/web/) shows these; the command line has the same figures in
`haocha cases list`, `cases show` and `haocha status`.

Read-only: every action on a case is a function of ``cases`` (and of ``spotchecks`` for the city).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from haocha_cli import cases, indices
from haocha_cli.bureau_calendar import load_calendar
from haocha_cli.clock import today
from haocha_cli.config import LEVELS
from haocha_cli.context import Context
from haocha_cli.errors import InvalidInput
from haocha_cli.official_calendar import WorkCalendar
from haocha_cli.periods import Period, parse_period
from haocha_cli.privacy import mask_numbers

# Urgency (紧急程度) of a case on the work list, most urgent first.
URGENCY = {
    0: "回访到期",          # a real-name review's return visit is due today or overdue
    1: "整改超期",
    2: "即将到期",          # rectification due within deadlines.due_soon_days working days
    3: "待市局处理",        # waiting for the city: a no-action approval or an appeal
    4: "重新整改",          # reopened (re-rating 不满意, a failed spot-check)
    5: "待分类",            # new
    6: "整改中",
    7: "已办结",
}
PER_PAGE = 50
_OPEN = ",".join(f"'{s}'" for s in cases.OPEN_STATES)
_URGENCY_SQL = f"""CASE
  WHEN c.real_name = 1 AND c.revisit_first_at IS NULL AND c.state NOT IN ('rerated', 'excluded')
       AND c.revisit_due <= :today THEN 0
  WHEN c.state IN ({_OPEN}) AND c.rectify_due < :today THEN 1
  WHEN c.state IN ({_OPEN}) AND c.rectify_due <= :soon THEN 2
  WHEN c.state IN ('awaiting_approval', 'appealed') THEN 3
  WHEN c.state = 'reopened' THEN 4
  WHEN c.state = 'new' THEN 5
  WHEN c.state IN ({_OPEN}) THEN 6
  ELSE 7 END"""


def _level(level: int) -> str:
    return LEVELS[int(level) - 1]


def work_list(ctx: Context, *, status: str | None = None, county: str | None = None, window: str | None = None,
              period: Period | None = None, page: int = 1, per_page: int = PER_PAGE,
              post: str | None = None) -> dict[str, Any]:
    """One page of the cases this operator sees, most urgent first (return visits due, overdue, due soon,
    waiting for the city, reopened, new, in rectification, resolved), with the working days left.

    ``status``: open (default), resolved, all, or state names (as `cases list --status`); ``post`` the
    responsible post (责任岗位, as `cases list --post`)."""
    county = ctx.county_scope(county, "see the cases")
    states = cases.parse_status(status)
    if page < 1 or per_page < 1:
        raise InvalidInput("the page number must be 1 or more", "leave it out for the first page")
    day = today()
    cal = load_calendar(ctx.db)
    soon_days = int(ctx.config["deadlines.due_soon_days"])
    params: dict[str, Any] = {"today": day.isoformat(), "soon": cal.add_workdays(day, soon_days).isoformat()}
    where = [f"c.state IN ({','.join(f':s{i}' for i in range(len(states)))})"]
    params.update({f"s{i}": s for i, s in enumerate(states)})
    if county:
        where.append("c.county_code = :county")
        params["county"] = county
    if window:
        where.append("c.window_code = :window")
        params["window"] = window.strip()
    if post:
        where.append("c.post = :post")
        params["post"] = post.strip()
    if period:
        where.append("c.rated_at >= :start AND c.rated_at < date(:end, '+1 day')")  # index cases_rated_at
        params.update(start=period.start.isoformat(), end=period.end.isoformat())
    condition = " AND ".join(where)
    total = ctx.db.execute(f"SELECT count(*) FROM cases c WHERE {condition}", params).fetchone()[0]
    pages = max(1, -(-total // per_page))
    rows = ctx.db.query(
        f"SELECT c.*, {_URGENCY_SQL} AS urgency, w.name AS window_name, i.name AS item_name,"
        " k.name AS county_name FROM cases c LEFT JOIN windows w ON w.code = c.window_code"
        " LEFT JOIN items i ON i.code = c.item_code LEFT JOIN counties k ON k.code = c.county_code"
        f" WHERE {condition} ORDER BY urgency, CASE WHEN urgency = 0 THEN c.revisit_due ELSE c.rectify_due END,"
        " c.id LIMIT :limit OFFSET :offset", {**params, "limit": per_page, "offset": (page - 1) * per_page})
    result = []
    counted: dict[str, int] = {}
    for case in rows:
        result.append(_listed(case, day, cal, soon_days, counted))
    return {"rows": result, "total": total, "page": page, "pages": pages, "per_page": per_page,
            "county": county, "status": status or "open"}


def _listed(case: dict[str, Any], day: date, cal: WorkCalendar, soon_days: int,
            counted: dict[str, int]) -> dict[str, Any]:
    """A case as a list shows it (the work list, the reports): names beside codes, its urgency, what is due."""
    left, alert = cases._alerts(case, day, cal, soon_days, counted)
    return {
        "id": case["id"], "urgency": case["urgency"], "紧急程度": URGENCY[case["urgency"]],
        "county": case["county_code"], "county_name": case["county_name"], "window": case["window_code"],
        "window_name": case["window_name"], "item": case["item_code"], "item_name": case["item_name"],
        "level": _level(case["level"]), "rated_at": case["rated_at"], "state": case["state"],
        "状态": cases.STATES[case["state"]], "real_name": bool(case["real_name"]),
        "revisit_due": case["revisit_due"] if case["real_name"] and not case["revisit_first_at"] else None,
        "rectify_due": case["rectify_due"], "workdays_left": left, "alert": alert,
        "calendar_note": case.get("calendar_note"),  # a deadline counted without its year's notice (调休)
        "post": case.get("post"),  # 责任岗位 (问题责任清单)
    }


# What is due (回访到期, 整改超期, 即将到期): the urgencies the daily report counts and lists.
DUE_URGENCIES = (0, 1, 2)


def open_by_urgency(ctx: Context, *, day: date | None = None, county: str | None = None,
                    urgencies: tuple[int, ...] | None = None, limit: int = 20) -> dict[str, Any]:
    """The open cases as of ``day`` (default today) by urgency, for a report that must not grow with the
    backlog: the count per county and urgency (``counts``: county -> urgency -> n, every county listed), the
    ``total``, and the ``limit`` most urgent in the work list's order (``rows``). ``urgencies`` keeps those
    categories only (the daily report: ``DUE_URGENCIES``). A case opened after ``day`` is left out, so that
    the report of a past day lists what was open then (in the state it is in now)."""
    county = ctx.county_scope(county, "see the cases")
    day = day or today()
    cal = load_calendar(ctx.db)
    soon_days = int(ctx.config["deadlines.due_soon_days"])
    params: dict[str, Any] = {"today": day.isoformat(), "soon": cal.add_workdays(day, soon_days).isoformat(),
                              "opened": f"{day.isoformat()} 23:59:59"}
    where = [f"c.state IN ({_OPEN})", "c.opened_at <= :opened"]
    if county:
        where.append("c.county_code = :county")
        params["county"] = county
    shown = urgencies if urgencies is not None else tuple(u for u in URGENCY if u != 7)
    params.update({f"u{i}": u for i, u in enumerate(shown)})
    kept = f"urgency IN ({','.join(f':u{i}' for i in range(len(shown)))})"
    # Graded from the partial index of the open cases alone (cases_open covers every column the urgency and
    # the order need); the full rows are read for the ``limit`` cases listed only.
    graded = (f"SELECT c.id, c.county_code, c.revisit_due, c.rectify_due, {_URGENCY_SQL} AS urgency"
              f" FROM cases c WHERE {' AND '.join(where)}")
    names = "SELECT code, name FROM counties" + (" WHERE code = :county" if county else "") + " ORDER BY code"
    counts: dict[str, dict[str, Any]] = {code: {"county": code, "county_name": name, **dict.fromkeys(shown, 0)}
                                         for code, name in ctx.db.execute(names, params)}
    for code, urgency, n in ctx.db.execute(
            f"SELECT county_code, urgency, count(*) FROM ({graded}) WHERE {kept} GROUP BY county_code, urgency",
            params):
        counts[code][urgency] = n
    most_urgent = (f"SELECT id, urgency FROM ({graded}) WHERE {kept}"
                   " ORDER BY urgency, CASE WHEN urgency = 0 THEN revisit_due ELSE rectify_due END, id LIMIT :limit")
    rows = ctx.db.query(
        f"SELECT c.*, g.urgency, w.name AS window_name, i.name AS item_name, k.name AS county_name"
        f" FROM ({most_urgent}) g JOIN cases c ON c.id = g.id"
        " LEFT JOIN windows w ON w.code = c.window_code LEFT JOIN items i ON i.code = c.item_code"
        " LEFT JOIN counties k ON k.code = c.county_code"
        " ORDER BY g.urgency, CASE WHEN g.urgency = 0 THEN c.revisit_due ELSE c.rectify_due END, c.id",
        {**params, "limit": limit})
    counted: dict[str, int] = {}
    listed = [_listed(case, day, cal, soon_days, counted) for case in rows]
    return {"day": day.isoformat(), "county": county, "urgencies": list(shown), "counts": list(counts.values()),
            "total": sum(c[u] for c in counts.values() for u in shown), "rows": listed, "limit": limit}


def case_page(ctx: Context, case_id: int) -> dict[str, Any]:
    """A case as its page shows it: ``cases.show_case`` with the names of its county, window, item,
    indicators and ticked problems, and the actions this operator may take now."""
    shown = cases.show_case(ctx, case_id)
    case, rating = shown["case"], shown["rating"]
    names = dict(ctx.db.execute("SELECT code, name FROM indicators").fetchall())
    one = ctx.db.execute
    case["county_name"] = (one("SELECT name FROM counties WHERE code = ?", [case["county_code"]]).fetchone()
                           or [""])[0]
    case["window_name"] = (one("SELECT name FROM windows WHERE code = ?", [case["window_code"]]).fetchone() or [""])[0]
    case["item_name"] = (one("SELECT name FROM items WHERE code = ?", [case["item_code"]]).fetchone() or [""])[0]
    problems = _json(case.get("problems")) or []
    scores = _json(rating.get("scores")) or {}
    rating["problem_names"] = [{"code": c, "name": names.get(c, c)} for c in problems]
    case["posts_list"] = _json(case.get("posts")) or []  # 问题责任清单: the posts of the problems ticked
    rating["score_rows"] = [{"code": c, "name": names.get(c, c), "score": s} for c, s in sorted(scores.items())]
    raw = cases.get_case(ctx.db, case_id)
    return {**shown, "actions": cases.actions_for(ctx, raw)}


def _json(text: Any) -> Any:
    if not text:
        return None
    if isinstance(text, (list, dict)):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return [p for p in str(text).split(",") if p]


def city_overview(ctx: Context) -> dict[str, Any]:
    """The city's start page: today's new bad reviews, overdue cases by county, the approvals and appeals
    waiting for the city, the flags of the last 7 days, and this month's index by county."""
    ctx.require_city("the city's overview")
    day = today()
    db = ctx.db
    new_today = list(db.query(
        "SELECT c.id, c.county_code AS county, k.name AS county_name, c.window_code AS window, w.name AS window_name,"
        " i.name AS item_name, c.level, c.rated_at, c.state FROM cases c JOIN counties k ON k.code = c.county_code"
        " LEFT JOIN windows w ON w.code = c.window_code LEFT JOIN items i ON i.code = c.item_code"
        " WHERE c.opened_at >= ? ORDER BY c.id DESC LIMIT 20", [day.isoformat()]))
    new_total = db.execute("SELECT count(*) FROM cases WHERE opened_at >= ?", [day.isoformat()]).fetchone()[0]
    for row in new_today:
        row["level"] = _level(row["level"])
    overdue = list(db.query(
        f"SELECT k.code AS county, k.name AS county_name,"
        f" sum(c.state IN ({_OPEN}) AND c.rectify_due < :today) AS overdue,"
        " sum(c.real_name = 1 AND c.revisit_first_at IS NULL AND c.state NOT IN ('rerated', 'excluded')"
        "     AND c.revisit_due < :today) AS revisit_overdue,"
        f" sum(c.state IN ({_OPEN})) AS open"
        " FROM counties k LEFT JOIN cases c ON c.county_code = k.code GROUP BY k.code ORDER BY k.code",
        {"today": day.isoformat()}))
    waiting = list(db.query(
        "SELECT c.id, c.state, c.county_code AS county, k.name AS county_name, c.window_code AS window,"
        " c.classify_reason, c.classified_at, a.reason AS appeal_reason, a.filed_at, a.filed_by"
        " FROM cases c JOIN counties k ON k.code = c.county_code"
        " LEFT JOIN appeals a ON a.case_id = c.id AND a.decision IS NULL"
        " WHERE c.state IN ('awaiting_approval', 'appealed') ORDER BY coalesce(a.filed_at, c.classified_at), c.id"))
    for row in waiting:  # free text: a phone written into a reason is masked
        row["classify_reason"] = mask_numbers(row["classify_reason"])
        row["appeal_reason"] = mask_numbers(row["appeal_reason"])
    since = (day - timedelta(days=6)).isoformat()
    flags = list(db.query(
        "SELECT f.county_code AS county, k.name AS county_name, f.rule, count(*) AS n FROM flags f"
        " JOIN counties k ON k.code = f.county_code WHERE f.day >= ? GROUP BY f.county_code, f.rule"
        " ORDER BY f.county_code, f.rule", [since]))
    month = parse_period(day.strftime("%Y-%m"))
    index_rows = indices.index(db, ctx.config, month, ["county"])["rows"]
    return {"today": day.isoformat(), "new_today": new_today, "new_total": new_total,
            "overdue": [r for r in overdue if r["open"]], "overdue_all": overdue,
            "approvals": [r for r in waiting if r["state"] == "awaiting_approval"],
            "appeals": [r for r in waiting if r["state"] == "appealed"],
            "flags": flags, "flags_since": since, "month": month.label, "index": index_rows}

