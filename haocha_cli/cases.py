"""The closed loop (闭环): rectification cases (整改事项) opened for bad reviews.

Every bad review (差评, the configured ``bad_levels``) opens a case for the county of its window, in the
importer's transaction (``open_cases``). The county classifies it, visits the rater (回访), rectifies and
closes it or appeals (申诉); the city approves no-action classifications and decides appeals; the rater
re-rates the rectification (整改复评). docs/workflow.md draws the state machine.

Every action checks the operator, then the state, before it writes anything; it writes the case and one
audit event (entity ``cases``) in one transaction, so a refused action changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlite_utils

from haocha_cli import audit
from haocha_cli.bureau_calendar import load_calendar, parse_day
from haocha_cli.clock import now_text, today
from haocha_cli.config import LEVELS
from haocha_cli.context import Context, os_person
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from haocha_cli.official_calendar import WorkCalendar
from haocha_cli.privacy import mask_json, mask_numbers

# state -> Chinese name
STATES: dict[str, str] = {
    "new": "待分类",
    "rectifying": "整改中",
    "awaiting_approval": "无需整改待市局审批",
    "appealed": "申诉中",
    "reopened": "复评不满意重新整改",
    "closed": "已整改待复评",
    "unrectifiable": "无法整改",
    "no_action": "无需整改",
    "rerated": "已复评办结",
    "excluded": "评价已剔除",
}
# Rectification still pending: these can be overdue.
OPEN_STATES = ("new", "rectifying", "awaiting_approval", "appealed", "reopened")
# Dealt with (办结): counted as closed by 整改率.
RESOLVED_STATES = ("closed", "rerated", "unrectifiable", "no_action")
ALL_STATES = tuple(STATES)

CLASSES = {"rectifiable": "可整改", "unrectifiable": "无法整改", "no_action": "无需整改"}
_CLASS_NAMES = {
    "rectifiable": "rectifiable", "可整改": "rectifiable",
    "unrectifiable": "unrectifiable", "无法整改": "unrectifiable", "不可整改": "unrectifiable",
    "no-action": "no_action", "no_action": "no_action", "无需整改": "no_action",
}
OUTCOMES = {"reached": "已联系上", "unreachable": "联系不上"}
_OUTCOME_NAMES = {
    "reached": "reached", "已联系上": "reached", "已联系": "reached", "联系上": "reached", "已回访": "reached",
    "unreachable": "unreachable", "联系不上": "unreachable", "未联系上": "unreachable", "无法联系": "unreachable",
}
# The case events of the audit trail, by their Chinese names (case pages, sheets).
EVENT_NAMES = {
    "case.open": "立案", "case.classify": "分类", "case.approve": "市局批准无需整改", "case.reject": "市局退回分类",
    "case.revisit": "回访", "case.contact": "查看电话", "case.close": "整改办结", "case.rerate": "整改复评",
    "case.appeal": "申诉", "case.decide": "市局申诉决定", "case.reopen": "重新打开", "case.exclude": "评价剔除",
    "case.withdraw": "撤回批次", "case.followup": "收到追评", "case.post": "变更责任岗位",
}
RERATE_LEVELS = ("满意", "基本满意", "不满意")
SATISFIED_RERATES = ("满意", "基本满意")
# Where a re-rating (整改复评) comes from: the rater's own 追评 of the case's 办件, or, for a real-name review
# only, the county's (or city's) call to the rater. docs/workflow.md.
RERATE_SOURCES = {"followup": "追评", "phone": "电话回访"}
# A 追评's level (1 非常不满意 … 5 非常满意) as the re-rating it gives: the rater's satisfaction after the
# rectification on the three-step scale of 整改复评.
FOLLOWUP_VERDICTS = {5: "满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "不满意"}
_RERATE_NAMES = {"满意": "满意", "基本满意": "基本满意", "不满意": "不满意", "satisfied": "满意",
                 "basically-satisfied": "基本满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


@dataclass(frozen=True)
class Action:
    name: str
    role: str  # "county" (the owning county), "city", or "county/city"
    states: frozenset[str]
    doing: str  # "{id}" is the case number: "classifying case {id}"


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("classify", "county", frozenset({"new"}), "classifying case {id}"),
    Action("approve", "city", frozenset({"awaiting_approval"}), "approving the no-action classification of case {id}"),
    Action("reject", "city", frozenset({"awaiting_approval"}), "rejecting the no-action classification of case {id}"),
    # A return visit is owed whatever the classification; once the rater has re-rated, or the rating is
    # excluded, there is no reason left to call the rater.
    Action("revisit", "county", frozenset(ALL_STATES) - {"rerated", "excluded"}, "the return visit (回访) of case {id}"),
    Action("contact", "county", frozenset(ALL_STATES) - {"rerated", "excluded"},
           "reading the rater's phone of case {id}"),
    Action("close", "county", frozenset({"rectifying", "reopened"}), "closing case {id}"),
    Action("rerate", "county/city", frozenset({"closed"}), "re-rating case {id}"),
    Action("appeal", "county", frozenset({"new", "rectifying", "reopened"}), "appealing case {id}"),
    Action("decide", "city", frozenset({"appealed"}), "deciding the appeal of case {id}"),
    Action("reopen", "city", frozenset({"closed", "rerated", "unrectifiable", "no_action"}),
           "reopening case {id}"),
)}


def _choice(table: dict[str, str], value: str, what: str, choices: str) -> str:
    key = str(value).strip()
    if key in table:
        return table[key]
    if key.lower() in table:
        return table[key.lower()]
    raise InvalidInput(f"{value!r} is not a {what}", f"use {choices}")


def parse_classification(text: str) -> str:
    """rectifiable / unrectifiable / no_action from the English or Chinese name."""
    return _choice(_CLASS_NAMES, text, "classification",
                   "rectifiable (可整改), unrectifiable (无法整改) or no-action (无需整改)")


def parse_outcome(text: str) -> str:
    """reached / unreachable from the English or Chinese name."""
    return _choice(_OUTCOME_NAMES, text, "return-visit outcome", "reached (已联系上) or unreachable (联系不上)")


def parse_rerate(text: str) -> str:
    return _choice(_RERATE_NAMES, text, "re-rating", "满意, 基本满意 or 不满意")


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{what} is required", "it cannot be empty")
    return text


# --- opening cases and their deadlines ---------------------------------------------------------------------


def _day(value: str) -> date:
    return datetime.fromisoformat(value).date() if len(value) > 10 else date.fromisoformat(value)


def _deadline(overrides: dict[date, bool], start: date, days: int) -> tuple[date, str | None]:
    """The due date, and the calendar's note if it had to count weekends only (beyond its years)."""
    cal = WorkCalendar(overrides)
    due = cal.add_workdays(start, days)
    return due, cal.fallback_note()


def open_cases(ctx: Context, ratings: list[dict[str, Any]]) -> int:
    """Open one case per bad review among ``ratings`` (rows as inserted into ``ratings``, with ``id``).

    Called inside the importer's transaction (joined here), so a bad review and its case are written
    together or not at all. A rating that already has a case is left alone. Returns the number opened.
    """
    return write_cases(ctx, plan_cases(ctx, ratings))


# The columns of a planned case (plan_cases), in the order write_cases inserts them after the id.
PLANNED_COLUMNS = ("rating_id", "county_code", "window_code", "item_code", "level", "problems", "staff_code",
                   "contact_id", "real_name", "rated_at", "state", "revisit_days", "revisit_due", "rectify_days",
                   "rectify_from", "rectify_due", "calendar_note", "post", "department", "posts", "opened_at",
                   "updated_at")


def plan_cases(ctx: Context, ratings: list[dict[str, Any]]) -> list[tuple[tuple, audit.Canonical]]:
    """The cases that ``ratings``' bad reviews open, each as (its row of ``PLANNED_COLUMNS``, its case.open
    event's after), computed without writing anything: the deadlines on the working-day calendar, the posts by
    the responsibility list. A staged import (haocha_cli.staging) plans them while it reads and writes them in
    its last, short transaction (write_cases)."""
    bad = ctx.config.bad_levels
    chosen = [r for r in ratings if int(r["level"]) in bad]
    if not chosen:
        return []
    revisit_days = int(ctx.config["deadlines.revisit_days"])
    rectify_days = int(ctx.config["deadlines.rectify_days"])
    cal = load_calendar(ctx.db)
    deadlines: dict[tuple[date, int], tuple[date, str | None]] = {}

    def deadline(day: date, days: int) -> tuple[date, str | None]:
        # A batch's bad reviews share a few hundred rating days: count each deadline once.
        if (day, days) not in deadlines:
            # One calendar's prefix sums for the lot (a calendar per deadline built them again each time);
            # each deadline its own fallback note.
            twin = cal.fresh()
            deadlines[(day, days)] = (twin.add_workdays(day, days), twin.fallback_note())
        return deadlines[(day, days)]

    from haocha_cli.service_lists import Router  # 问题责任清单: the posts of the problems ticked

    now = now_text()
    router = Router(ctx.db)
    kinds: dict[str, str] = {}
    rows: list[tuple[tuple, audit.Canonical]] = []
    shown = ("rating_id", "county_code", "window_code", "level", "state", "revisit_due", "rectify_due")
    at = {c: i for i, c in enumerate(PLANNED_COLUMNS)}
    for rating in chosen:
        rated_day = _day(rating["rated_at"])
        real_name = 0 if rating.get("anonymous", 1) else 1
        rectify_due, note = deadline(rated_day, rectify_days)
        revisit_due, revisit_note = deadline(rated_day, revisit_days)
        posts = router.route(_problem_codes(rating.get("problems")), rating.get("mode")
                             or _window_kind(ctx.db, kinds, rating["window_code"])) if router.table else []
        values = (
            rating["id"], rating["county_code"], rating["window_code"], rating.get("item_code") or "",
            int(rating["level"]), _json_text(rating.get("problems")), rating.get("staff_code"),
            rating.get("contact_id"), real_name, rating["rated_at"], "new",
            revisit_days, revisit_due.isoformat() if real_name else None,
            rectify_days, rated_day.isoformat(), rectify_due.isoformat(),
            note or (revisit_note if real_name else None),
            posts[0]["post"] if posts else None, (posts[0]["department"] or None) if posts else None,
            json.dumps(posts, ensure_ascii=False) if posts else None, now, now)
        event = {k: values[at[k]] for k in shown}
        if posts:
            event["post"] = values[at["post"]]
        rows.append((values, audit.canonical(event)))
    return rows


def write_cases(ctx: Context, planned: list[tuple[tuple, audit.Canonical]]) -> int:
    """Write the cases ``plan_cases`` planned, each with its audit event (``case.open``) and, for a county
    with a channel, its notification; a rating that has a case already is left alone. Joins the caller's
    transaction. Returns the number opened."""
    if not planned:
        return 0
    from haocha_cli import notify  # the owning county is told of its new case (docs/notifications.md)

    told = notify.notified_counties(ctx.config)
    events = []
    opened = []
    with transaction(ctx.db):
        ids = [values[0] for values, _ in planned]
        existing: set[int] = set()
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            existing.update(r[0] for r in ctx.db.execute(
                f"SELECT rating_id FROM cases WHERE rating_id IN ({','.join('?' * len(part))})", part))
        # One statement for the lot, the ids given (as SQLite would give them: after the largest), not one
        # INSERT per case (issue 22: 7 % of a million-row import went to opening cases one by one).
        case_id = ctx.db.conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]
        rows = []
        county = PLANNED_COLUMNS.index("county_code")
        for values, event in planned:
            if values[0] in existing:
                continue
            case_id += 1
            rows.append((case_id, *values))
            events.append(("case.open", "cases", case_id, None, event))
            if values[county] in told:
                opened.append({"id": case_id, **dict(zip(PLANNED_COLUMNS, values, strict=True))})
        if rows:
            ctx.db.conn.executemany(
                f"INSERT INTO cases (id, {', '.join(PLANNED_COLUMNS)}) VALUES ({', '.join('?' * (len(PLANNED_COLUMNS) + 1))})",
                rows)
        audit.record_many(ctx.db, ctx.operator, events)
        notify.enqueue_opened(ctx, opened)
    return len(events)


def _problem_codes(value: Any) -> list[str]:
    """A rating's problems (差评问题) as the list of indicator codes ticked, in order."""
    if not value:
        return []
    codes = json.loads(value) if isinstance(value, str) else value
    return [str(c) for c in codes] if isinstance(codes, list) else []


def _window_kind(db: sqlite_utils.Database, kinds: dict[str, str], window: str) -> str:
    if window not in kinds:
        row = db.execute("SELECT kind FROM windows WHERE code = ?", [window]).fetchone()
        kinds[window] = row[0] if row else "offline"
    return kinds[window]


def _json_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def recompute_deadlines(db: sqlite_utils.Database, cal: WorkCalendar) -> list[dict[str, Any]]:
    """Recount the deadlines of the open cases against ``cal`` (after a calendar entry); returns what moved.

    Resolved cases keep theirs: whether they were on time was settled when they were resolved. The
    calendar note follows the new count: a year whose notice is now recorded no longer warns of its 调休.
    """
    moved: list[dict[str, Any]] = []
    marks = ",".join("?" * len(OPEN_STATES))
    rows = list(db.query(f"SELECT * FROM cases WHERE state IN ({marks}) ORDER BY id", OPEN_STATES))
    for case in rows:
        changes: dict[str, Any] = {}
        counted = cal.fresh()  # its own, so that the note is this case's years only
        rectify_due = counted.add_workdays(date.fromisoformat(case["rectify_from"]), case["rectify_days"]).isoformat()
        if rectify_due != case["rectify_due"]:
            changes["rectify_due"] = rectify_due
        if case["real_name"] and case["revisit_first_at"] is None:
            revisit_due = counted.add_workdays(_day(case["rated_at"]), case["revisit_days"]).isoformat()
            if revisit_due != case["revisit_due"]:
                changes["revisit_due"] = revisit_due
        for field, value in changes.items():
            moved.append({"case": case["id"], "field": field, "before": case[field], "after": value})
        if counted.fallback_note() != case["calendar_note"]:
            changes["calendar_note"] = counted.fallback_note()
        if changes:
            db["cases"].update(case["id"], changes)
    return moved


# --- the state machine -----------------------------------------------------------------------------------


_NO_CASE_HINT = "`haocha cases list --status all` lists the cases"


def get_case(db: sqlite_utils.Database, case_id: int) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM cases WHERE id = ?", [case_id]))
    if not rows:
        raise NotFound(f"case {case_id} does not exist", _NO_CASE_HINT)
    return rows[0]


def visible_case(ctx: Context, case_id: int) -> dict[str, Any]:
    """The case, if this operator may see it: another county's case is, to a county, one that does not exist
    (the same error, so that nobody learns which numbers are another county's)."""
    case = get_case(ctx.db, case_id)
    ctx.visible(case["county_code"], f"case {case_id}", _NO_CASE_HINT)
    return case


def state_name(state: str) -> str:
    return f"{state} ({STATES[state]})"


def _open_actions(case: dict[str, Any]) -> list[Action]:
    """The actions the case's state (and its rater: real-name, a phone) allows, whoever takes them."""
    return [a for a in ACTIONS.values() if case["state"] in a.states
            and not (a.name in ("revisit", "rerate") and not case["real_name"])
            and not (a.name == "contact" and not case["contact_id"])]


def allowed_actions(case: dict[str, Any]) -> list[str]:
    """The actions the case's state allows, each with the role that may take it: ``close (county)``."""
    return [f"{a.name} ({a.role})" for a in _open_actions(case)]


def actions_for(ctx: Context, case: dict[str, Any]) -> list[str]:
    """The actions this operator may take on the case now (the workbench shows a form for each): the
    state's actions whose role is the operator's. The case must be one the operator sees."""
    city = ctx.operator.is_city
    return [a.name for a in _open_actions(case)
            if a.role == "county/city" or (a.role == "city") == city]


def _check_operator(ctx: Context, case: dict[str, Any], action: Action) -> None:
    doing = action.doing.format(id=case["id"])
    county = case["county_code"]
    if action.role == "city":
        ctx.require_city(doing)
    elif action.role == "county" and ctx.operator.is_city:
        raise PermissionDenied(f"{doing} is the county bureau's (县级局) task; {ctx.operator} may not do it",
                               f"the staff of county {county} do it")


def _checked(ctx: Context, case_id: int, name: str) -> dict[str, Any]:
    """The case, once the operator and the state allow ``name``; else the error, before any write."""
    case = visible_case(ctx, case_id)
    action = ACTIONS[name]
    _check_operator(ctx, case, action)
    if case["state"] not in action.states:
        allowed = allowed_actions(case)
        raise InvalidTransition(
            f"case {case['id']} is {state_name(case['state'])}: {name} is not allowed",
            f"allowed now: {', '.join(allowed)}" if allowed else "nothing can be done to it any more",
        )
    if name in ("revisit", "contact") and not case["real_name"]:
        raise InvalidInput(f"case {case['id']} is an anonymous review: there is no rater to visit",
                           "return visits (回访) are for real-name (实名) reviews")
    if name == "contact" and not case["contact_id"]:
        raise InvalidInput(f"case {case['id']} has no phone number recorded", "the rating carried none")
    if name == "rerate" and not case["real_name"]:
        raise InvalidInput(f"case {case['id']} is an anonymous review: nobody can be called for its re-rating",
                           "only the rater's own 追评 of the 办件 (imported, or from the rating page) re-rates it; "
                           "a re-rating by phone is for real-name (实名) reviews")
    return case


def _update(ctx: Context, case: dict[str, Any], action: str, changes: dict[str, Any],
            info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the changes and the one audit event of the action (before/after of the changed fields)."""
    now = now_text()
    before = {k: case[k] for k in changes}
    ctx.db["cases"].update(case["id"], {**changes, "updated_at": now})
    audit.record(ctx.db, ctx.operator, f"case.{action}", "cases", case["id"], before, {**changes, **(info or {})})
    return {**case, **changes, "updated_at": now}


def _on_time(day: date | str, due: str) -> int:
    day = day if isinstance(day, date) else _day(day)
    return int(day <= date.fromisoformat(due))


def classify(ctx: Context, case_id: int, classification: str, reason: str | None = None) -> dict[str, Any]:
    """The county's classification: rectifiable (可整改) → rectifying; unrectifiable (无法整改) is recorded
    with its reason and resolves the case; no-action (无需整改) waits for the city's approval."""
    cls = parse_classification(classification)
    reason = (reason or "").strip() or None
    if cls != "rectifiable" and not reason:
        raise InvalidInput(f"a reason is required to classify a case as {cls.replace('_', '-')} ({CLASSES[cls]})",
                           "give --reason")
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "classify")
        now = now_text()
        changes: dict[str, Any] = {"classification": cls, "classify_reason": reason, "classified_at": now}
        if cls == "rectifiable":
            changes["state"] = "rectifying"
        elif cls == "unrectifiable":
            changes.update(state="unrectifiable", resolved_at=now, on_time=_on_time(now, case["rectify_due"]))
        else:
            changes["state"] = "awaiting_approval"
        return _update(ctx, case, "classify", changes)


def approve(ctx: Context, case_id: int, note: str | None = None) -> dict[str, Any]:
    """The city approves a no-action classification (无需整改): the case is resolved, on time if the
    county classified it by the deadline."""
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "approve")
        changes = {"state": "no_action", "resolved_at": now_text(),
                   "on_time": _on_time(case["classified_at"], case["rectify_due"])}
        return _update(ctx, case, "approve", changes, {"note": (note or "").strip()} if note else None)


def reject(ctx: Context, case_id: int, reason: str) -> dict[str, Any]:
    """The city rejects a no-action classification: the case goes back to the county to classify again."""
    reason = _text(reason, "a reason (--reason)")
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "reject")
        changes = {"state": "new", "classification": None, "classify_reason": None, "classified_at": None}
        return _update(ctx, case, "reject", changes, {"reason": reason})


def revisit(ctx: Context, case_id: int, outcome: str, note: str | None = None) -> dict[str, Any]:
    """Record a return visit (回访) of a real-name review; the state does not change."""
    result = parse_outcome(outcome)
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "revisit")
        now = now_text()
        changes: dict[str, Any] = {"revisit_outcome": result, "revisit_note": (note or "").strip() or None}
        if case["revisit_first_at"] is None:
            changes["revisit_first_at"] = now
        if result == "reached" and not case["revisit_reached"]:
            changes["revisit_reached"] = 1
        return _update(ctx, case, "revisit", changes)


def contact(ctx: Context, case_id: int) -> dict[str, Any]:
    """The rater's phone, for the owning county's operator only; the reading is itself an audit event."""
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "contact")
        row = ctx.db.execute("SELECT phone_enc, phone_masked FROM contacts WHERE id = ?",
                             [case["contact_id"]]).fetchone()
        if row is None:
            raise NotFound(f"the contact of case {case_id} is missing", "the database is inconsistent")
        phone = ctx.vault.reveal(row[0])
        audit.record(ctx.db, ctx.operator, "case.contact", "cases", case["id"], None,
                     {"revealed": "phone", "phone_masked": row[1]})
    return {"case": case["id"], "phone": phone, "phone_masked": row[1]}


def close(ctx: Context, case_id: int, measures: str, responsible: str) -> dict[str, Any]:
    """The county closes a rectifiable case with the measures taken (整改措施) and who is responsible."""
    measures = _text(measures, "the measures taken (--measures)")
    responsible = _text(responsible, "the person responsible (--responsible)")
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "close")
        now = now_text()
        changes = {"state": "closed", "measures": measures, "responsible": responsible, "closed_at": now,
                   "resolved_at": now, "on_time": _on_time(now, case["rectify_due"])}
        return _update(ctx, case, "close", changes)


def _rerate_changes(ctx: Context, case: dict[str, Any], verdict: str, now: str) -> dict[str, Any]:
    """满意 or 基本满意 end the case; 不满意 reopens it with a new rectification deadline counted from today."""
    changes: dict[str, Any] = {"rerate_level": verdict, "rerated_at": now}
    if verdict in SATISFIED_RERATES:
        changes["state"] = "rerated"
    else:
        start = _day(now)
        due, note = _deadline(load_calendar(ctx.db).overrides, start, case["rectify_days"])
        changes.update(state="reopened", reopen_count=case["reopen_count"] + 1, rectify_from=start.isoformat(),
                       rectify_due=due.isoformat(), resolved_at=None, on_time=None)
        if note:
            changes["calendar_note"] = note
    return changes


def rerate(ctx: Context, case_id: int, level: str, caller: str | None = None) -> dict[str, Any]:
    """The rater's verdict on the rectification (整改复评) as the county (or the city) heard it on the phone
    (电话回访): for a real-name review only — an anonymous rater cannot be called, and only their own 追评
    re-rates the case (``rerate_by_followups``). ``caller`` is who called the rater, when not the person
    recording it (the account or OS login of the audit event, the default). 满意 or 基本满意 end the case;
    不满意 reopens it with a new rectification deadline counted from today."""
    verdict = parse_rerate(level)
    caller = (caller or "").strip() or None
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "rerate")
        now = now_text()
        changes = _rerate_changes(ctx, case, verdict, now)
        changes.update(rerate_source="phone", rerate_caller=caller or ctx.operator.person or os_person(),
                       rerate_rating_id=None)
        return _update(ctx, case, "rerate", changes)


def rerate_by_followups(ctx: Context, source: str, ratings: list[dict[str, Any]]) -> tuple[set[int], int]:
    """Link each 追评 among ``ratings`` (rows as inserted, round 2 with a 办件编号) to the case of its 办件: the
    case of the first rating with the same source and 办件编号 (一事一评: there is at most one). Called in the
    importer's transaction (joined here), for files and the rating page alike.

    A case that is closed (已整改待复评) and was closed before the 追评 was given takes it as its re-rating
    (source ``followup``; the level as ``FOLLOWUP_VERDICTS`` maps it); 不满意 reopens the case. Any other 追评 of
    a case (given before the closure, or to a case not waiting for its re-rating) is not a re-rating: it is
    recorded in the case's history (``case.followup``) for the county and the city to see. Returns the row ids
    of the 追评 that reached a case (a bad one among them opens no case of its own) and how many re-rated one."""
    followups = {r["case_no"]: r for r in ratings if int(r.get("rating_round") or 1) == 2 and r.get("case_no")}
    if not followups:
        return set(), 0
    linked: set[int] = set()
    rerated = 0
    with transaction(ctx.db):
        numbers = json.dumps(list(followups), ensure_ascii=False)
        found = list(ctx.db.query(
            "SELECT r.case_no AS case_no, c.* FROM ratings r JOIN cases c ON c.rating_id = r.id"
            " WHERE r.source = ? AND r.rating_round = 1 AND r.case_no IN (SELECT value FROM json_each(?))"
            " ORDER BY c.id", [source, numbers]))
        for row in found:
            rating = followups[row.pop("case_no")]
            case = row
            linked.add(rating["id"])
            level = int(rating["level"])
            info = {"rating": rating["id"], "rating_id": rating["rating_id"], "followup_level": _level_name(level)}
            if case["state"] == "closed" and rating["rated_at"] >= (case["closed_at"] or ""):
                changes = _rerate_changes(ctx, case, FOLLOWUP_VERDICTS[level], now_text())
                changes.update(rerate_source="followup", rerate_caller=None, rerate_rating_id=rating["id"])
                _update(ctx, case, "rerate", changes, info)
                rerated += 1
            else:
                why = ("追评早于整改办结，不作为整改复评" if case["state"] == "closed"
                       else f"案件{STATES[case['state']]}，追评不作为整改复评")
                audit.record(ctx.db, ctx.operator, "case.followup", "cases", case["id"], None, {**info, "note": why})
    return linked, rerated


def reopen(ctx: Context, case_id: int, reason: str) -> dict[str, Any]:
    """The city reopens a resolved case (a failed spot-check, 抽查不合格). A rectification that did not hold
    is rectified again with a new deadline counted from today; a classification (unrectifiable, no-action)
    that did not hold goes back to the county to classify again."""
    reason = _text(reason, "a reason (--reason)")
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "reopen")
        now = now_text()
        if case["state"] in ("closed", "rerated"):
            start = _day(now)
            due, note = _deadline(load_calendar(ctx.db).overrides, start, case["rectify_days"])
            changes: dict[str, Any] = {"state": "reopened", "reopen_count": case["reopen_count"] + 1,
                                       "rectify_from": start.isoformat(), "rectify_due": due.isoformat(),
                                       "resolved_at": None, "on_time": None}
            if note:
                changes["calendar_note"] = note
        else:
            changes = {"state": "new", "classification": None, "classify_reason": None, "classified_at": None,
                       "resolved_at": None, "on_time": None, "reopen_count": case["reopen_count"] + 1}
        return _update(ctx, case, "reopen", changes, {"reason": reason})


def appeal(ctx: Context, case_id: int, reason: str, evidence: str) -> dict[str, Any]:
    """The county appeals (申诉) a mistaken or malicious review; the city decides."""
    reason = _text(reason, "a reason (--reason)")
    evidence = _text(evidence, "the evidence (--evidence)")
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "appeal")
        appeal_id = ctx.db["appeals"].insert({
            "case_id": case["id"], "reason": reason, "evidence": evidence, "state_before": case["state"],
            "filed_by": ctx.operator.label, "filed_at": now_text(),
        }).last_pk
        return _update(ctx, case, "appeal", {"state": "appealed"},
                       {"appeal": appeal_id, "reason": reason, "evidence": evidence})


def decide(ctx: Context, case_id: int, uphold: bool, reason: str) -> dict[str, Any]:
    """The city's decision on the pending appeal. Upheld: the rating is excluded from all figures and the
    case ends (excluded). Dismissed: the case returns to the state it was appealed from."""
    from haocha_cli.ratings import exclude_rating

    reason = _text(reason, "a reason (--reason)")
    with transaction(ctx.db):
        case = _checked(ctx, case_id, "decide")
        pending = ctx.db.execute("SELECT id, state_before FROM appeals WHERE case_id = ? AND decision IS NULL"
                                 " ORDER BY id DESC LIMIT 1", [case["id"]]).fetchone()
        if pending is None:
            raise NotFound(f"case {case_id} has no pending appeal", "the database is inconsistent")
        appeal_id, state_before = pending
        now = now_text()
        ctx.db["appeals"].update(appeal_id, {"decision": "upheld" if uphold else "dismissed",
                                             "decision_reason": reason, "decided_by": ctx.operator.label,
                                             "decided_at": now})
        if uphold:
            exclude_rating(ctx.db, case["rating_id"], "appeal_upheld")
            changes: dict[str, Any] = {"state": "excluded", "resolved_at": now, "on_time": None}
        else:
            changes = {"state": state_before}
        return _update(ctx, case, "decide", changes, {
            "appeal": appeal_id, "decision": "upheld" if uphold else "dismissed", "reason": reason,
            "rating_excluded": case["rating_id"] if uphold else None})


def exclude_for_rating(ctx: Context, rating_id: int, reason: str) -> int | None:
    """After ``ratings.exclude_rating`` for another cause (a rating confirmed false by oversight): end the
    rating's case, if it has one still counted. Returns the case id or None. One audit event."""
    row = ctx.db.execute("SELECT id FROM cases WHERE rating_id = ? AND state != 'excluded'", [rating_id]).fetchone()
    if row is None:
        return None
    with transaction(ctx.db):
        case = get_case(ctx.db, row[0])
        _update(ctx, case, "exclude", {"state": "excluded", "resolved_at": now_text(), "on_time": None},
                {"reason": reason, "rating_excluded": rating_id})
    return case["id"]


def set_post(ctx: Context, case_id: int, post: str, reason: str, department: str | None = None) -> dict[str, Any]:
    """Change a case's responsible post (责任岗位): the county of the case (or the city), with a reason, in any
    state but excluded; one audit event (``case.post``) with the post before and after. A post of the
    problem-responsibility list (问题责任清单) takes its department from the list unless one is given; when
    the list names posts, only those may be given (a mistyped post would fall out of `cases stats --by post`)."""
    from haocha_cli.service_lists import known_posts

    post = _text(post, "the post (--post)")
    reason = _text(reason, "a reason (--reason)")
    with transaction(ctx.db):
        case = visible_case(ctx, case_id)
        if case["state"] == "excluded":
            raise InvalidTransition(f"case {case_id} is {state_name('excluded')}: its post cannot be changed",
                                    "nothing can be done to it any more")
        posts = known_posts(ctx.db)
        if posts and post not in posts:
            raise InvalidInput(f"post {post!r} is not in the problem-responsibility list (问题责任清单)",
                               f"posts: {', '.join(posts)}")
        chosen = (department or "").strip() or posts.get(post) or None
        if post == case["post"] and chosen == case["department"]:
            raise InvalidInput(f"case {case_id} is already with {post}", "name another post")
        return _update(ctx, case, "post", {"post": post, "department": chosen}, {"reason": reason})


# --- reading -----------------------------------------------------------------------------------------------


def _visible_county(ctx: Context, county: str | None) -> str | None:
    """A county operator sees its own county's cases only; the city sees all (or the one asked for)."""
    return ctx.county_scope(county, "see the cases")


def parse_status(status: str | None) -> tuple[str, ...]:
    """``open`` (the default), ``resolved``, ``all``, or state names separated by commas."""
    if not status or status == "open":
        return OPEN_STATES
    if status == "all":
        return ALL_STATES
    if status == "resolved":
        return RESOLVED_STATES
    names = tuple(s.strip() for s in status.split(",") if s.strip())
    unknown = [s for s in names if s not in STATES]
    if unknown or not names:
        named = ", ".join(unknown) or repr(status)
        raise InvalidInput(f"status {named} is not known",
                           f"use open, resolved, all, or states: {', '.join(STATES)}")
    return names


def _alerts(case: dict[str, Any], now_day: date, cal: WorkCalendar, soon: int,
            counted: dict[str, int] | None = None) -> tuple[int | None, str]:
    """(working days left to the rectification deadline, alert text) for a case as of ``now_day``.

    ``counted`` caches the working days left per due date: a long list shares few deadlines.
    """
    alerts = []
    left = None
    if case["state"] in OPEN_STATES:
        due = case["rectify_due"]
        counted = {} if counted is None else counted
        if due not in counted:
            counted[due] = cal.workdays_between(now_day, date.fromisoformat(due))
        left = counted[due]
        if now_day > date.fromisoformat(case["rectify_due"]):
            alerts.append("rectification overdue")
        elif left <= soon:
            alerts.append("due soon")
    if (case["real_name"] and case["revisit_first_at"] is None and case["state"] != "excluded"
            and case["revisit_due"] and now_day > date.fromisoformat(case["revisit_due"])):
        alerts.append("return visit overdue")
    return left, ", ".join(alerts)


def _level_name(level: int) -> str:
    return LEVELS[int(level) - 1]


def list_cases(ctx: Context, county: str | None = None, status: str | None = None, overdue: bool = False,
               due_before: str | date | None = None, post: str | None = None) -> list[dict[str, Any]]:
    """The cases, oldest deadline first, with the working days left and what is overdue. Phones masked.
    ``post``: the cases whose responsible post (责任岗位) is this one."""
    return list_cases_page(ctx, county, status, overdue, due_before, post=post, limit=None)["rows"]


def list_cases_page(ctx: Context, county: str | None = None, status: str | None = None, overdue: bool = False,
                    due_before: str | date | None = None, post: str | None = None,
                    limit: int | None = 100) -> dict[str, Any]:
    """The first ``limit`` cases of ``list_cases`` (None: all) and the ``total`` that match (issue 22: a list
    that does not grow with the backlog): {"rows", "total", "limit"}."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInput(f"the limit must be 1 or more, not {limit!r}", "or list every case with --all")
    county = _visible_county(ctx, county)
    states = parse_status(status)
    where = [f"c.state IN ({','.join('?' * len(states))})"]
    params: list[Any] = list(states)
    if county:
        where.append("c.county_code = ?")
        params.append(county)
    if due_before is not None:
        limit = due_before if isinstance(due_before, date) else parse_day(due_before, "--due-before")
        where.append("c.rectify_due <= ?")
        params.append(limit.isoformat())
    if post is not None:
        where.append("c.post = ?")
        params.append(_text(post, "the post (--post)"))
    now_day = today()
    if overdue:  # what _alerts calls overdue: the rectification or the return visit
        where.append(f"((c.state IN ({','.join('?' * len(OPEN_STATES))}) AND c.rectify_due < ?) OR (c.real_name"
                     " AND c.revisit_first_at IS NULL AND c.state != 'excluded' AND c.revisit_due < ?))")
        params += [*OPEN_STATES, now_day.isoformat(), now_day.isoformat()]
    total = ctx.db.execute(f"SELECT count(*) FROM cases c WHERE {' AND '.join(where)}", params).fetchone()[0]
    rows = ctx.db.query(
        "SELECT c.*, k.phone_masked FROM cases c LEFT JOIN contacts k ON k.id = c.contact_id"
        f" WHERE {' AND '.join(where)} ORDER BY c.rectify_due, c.id" + ("" if limit is None else f" LIMIT {limit}"),
        params)
    cal = load_calendar(ctx.db)
    soon = int(ctx.config["deadlines.due_soon_days"])
    result = []
    counted: dict[str, int] = {}
    for case in rows:
        left, alert = _alerts(case, now_day, cal, soon, counted)
        result.append({
            "id": case["id"], "county": case["county_code"], "window": case["window_code"],
            "item": case["item_code"], "level": _level_name(case["level"]), "rated_at": case["rated_at"],
            "state": case["state"], "状态": STATES[case["state"]],
            "real_name": bool(case["real_name"]), "phone": case["phone_masked"],
            "revisit_due": case["revisit_due"], "revisit": case["revisit_outcome"],
            "rectify_due": case["rectify_due"], "workdays_left": left, "alert": alert,
            "calendar_note": case["calendar_note"],  # set when a deadline was counted without its year's notice
            "post": case["post"],  # 责任岗位 (问题责任清单)
        })
    return {"rows": result, "total": total, "limit": limit}


_NOTES = ("classify_reason", "revisit_note", "measures", "responsible", "calendar_note", "rerate_caller")


def show_case(ctx: Context, case_id: int) -> dict[str, Any]:
    """A case with its rating, appeals, the actions allowed now and its history (the audit trail)."""
    case = visible_case(ctx, case_id)
    rating = dict(next(iter(ctx.db.query(
        "SELECT r.source, r.rating_id, r.rated_at, r.channel, r.mode, r.level, r.rating_index, r.scores,"
        " r.problems, r.case_no, r.rating_round, r.comment, r.anonymous, r.excluded, r.excluded_at,"
        " k.phone_masked FROM ratings r LEFT JOIN contacts k ON k.id = r.contact_id WHERE r.id = ?",
        [case["rating_id"]]))))
    rating["level"] = _level_name(rating["level"])
    rating["comment"] = mask_numbers(rating["comment"])  # the phone is read with `cases contact`, audited
    cal = load_calendar(ctx.db)
    left, alert = _alerts(case, today(), cal, int(ctx.config["deadlines.due_soon_days"]))
    shown = {k: v for k, v in case.items() if k not in ("contact_id",)}
    # The notes are free text too: a phone written into them is masked like the comment's.
    shown.update({k: mask_numbers(case[k]) for k in _NOTES})
    shown.update(state_name=STATES[case["state"]], level=_level_name(case["level"]),
                 classification_name=CLASSES.get(case["classification"] or "", None),
                 rerate_source_name=RERATE_SOURCES.get(case["rerate_source"] or "", None),
                 workdays_left=left, alert=alert)
    appeals = [{**a, **{k: mask_numbers(a[k]) for k in ("reason", "evidence", "decision_reason")}}
               for a in ctx.db.query("SELECT * FROM appeals WHERE case_id = ? ORDER BY id", [case_id])]
    history = [{**e, "before": mask_json(e["before"]), "after": mask_json(e["after"])}
               for e in audit.case_history(ctx.db, case_id)]
    from haocha_cli.service_lists import case_standards  # 服务标准清单: what the review is about

    standards = case_standards(ctx.db, case["item_code"], rating["mode"], _problem_codes(case["problems"]))
    return {"case": shown, "rating": rating, "appeals": appeals, "allowed": allowed_actions(case),
            "history": history, "standards": standards}


# --- rates --------------------------------------------------------------------------------------------------

_COUNTS = ("cases", "due", "closed", "closed_on_time", "overdue", "real_name", "revisited", "revisited_on_time",
           "rerated", "rerate_satisfied", "rerated_followup", "rerate_satisfied_followup", "rerated_phone",
           "rerate_satisfied_phone", "reopened", "appeals_filed", "appeals_upheld")


def _rate(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def case_stats(ctx: Context, county: str | None = None, date_from: str | date | None = None,
               date_to: str | date | None = None, by: str = "county") -> list[dict[str, Any]]:
    """Closed-loop figures per county for the cases opened (rated) in [date_from, date_to], as of today.

    - cases: counted cases (a rating excluded by an upheld appeal is out, reported as appeals_upheld);
    - due: resolved cases plus open ones past their rectification deadline; overdue: the latter;
    - closed: resolved (closed, re-rated, unrectifiable, approved no-action); closed_on_time: by the deadline;
    - 整改率 = closed / due; 按时整改率 = closed_on_time / due;
    - 实名差评回访率 = real-name cases with a return visit (reached or not) / real-name cases;
    - 复评满意率 = cases whose latest re-rating is 满意 or 基本满意 / cases re-rated; and the same by the latest
      re-rating's source: the rater's 追评 (``_followup``) or a call to a real-name rater (``_phone``) — a
      re-rating recorded before sources were kept counts in the first only;
    - appeals filed and upheld (appeals on the period's cases).
    A rate with a zero denominator is None. The last row is the city total.

    ``by="post"``: the same figures per responsible post (责任岗位; a case routed to none counts under
    未定岗位), for the city or the one county asked (a county operator: its own); the last row the total.
    """
    if by not in BY:
        raise InvalidInput(f"--by {by!r} is not known", "use county or post")
    return _case_stats(ctx, _visible_county(ctx, county), date_from, date_to, by)


BY = ("county", "post")
NO_POST = "未定岗位"


def city_case_stats(ctx: Context, date_from: str | date | None = None,
                    date_to: str | date | None = None) -> dict[str, Any]:
    """The city's (全市) closed-loop totals, as ``case_stats``'s last row, for every operator: a county's report
    sets its own rates beside the city's, as benchmarking sets its gaps beside the city mean (a total over the
    counties, none of them apart)."""
    return _case_stats(ctx, None, date_from, date_to)[-1]


def _case_stats(ctx: Context, county: str | None, date_from: str | date | None,
                date_to: str | date | None, by: str = "county") -> list[dict[str, Any]]:
    start = _as_day(date_from, "--from")
    end = _as_day(date_to, "--to")
    if start and end and end < start:
        raise InvalidInput(f"--to {end} is before --from {start}", "swap the dates")
    counties = list(ctx.db.query("SELECT code, name FROM counties" + (" WHERE code = ?" if county else "")
                                 + " ORDER BY code", [county] if county else []))
    if county and not counties:
        raise NotFound(f"county {county} does not exist", "`haocha org show --part counties` lists them")
    table = {c["code"]: {"county": c["code"], "name": c["name"], **dict.fromkeys(_COUNTS, 0)} for c in counties}
    where, params = [], []
    if by == "post":
        table = {}
        if county:
            where.append("c.county_code = ?")
            params.append(county)
    # By the rating time's range (index cases_rated_at, migration 14), not substr() of it: a scan of every
    # case the bureau ever had, for a month's figures (the monthly report asks twice).
    if start:
        where.append("c.rated_at >= ?")
        params.append(start.isoformat())
    if end:
        where.append("c.rated_at < ?")
        params.append((end + timedelta(days=1)).isoformat())
    # Only the columns counted: a month's cases as dicts of every column cost more than the query (5,589 cases:
    # 77 ms against 6 ms).
    sql = ("SELECT c.county_code, c.post, c.department, c.state, c.rectify_due, c.on_time, c.reopen_count,"
           " c.real_name, c.revisit_first_at, c.revisit_due, c.rerate_level, c.rerate_source,"
           " (SELECT count(*) FROM appeals a WHERE a.case_id = c.id) AS appeals_filed,"
           " (SELECT count(*) FROM appeals a WHERE a.case_id = c.id AND a.decision = 'upheld') AS appeals_upheld"
           " FROM cases c" + (" WHERE " + " AND ".join(where) if where else ""))
    now_day = today()
    for case in ctx.db.query(sql, params):
        if by == "post":
            row = table.setdefault(case["post"] or "", {"post": case["post"] or NO_POST,
                                                        "department": case["department"] or "",
                                                        **dict.fromkeys(_COUNTS, 0)})
        else:
            row = table.get(case["county_code"])
        if row is None:
            continue
        row["appeals_filed"] += case["appeals_filed"]
        row["appeals_upheld"] += case["appeals_upheld"]
        if case["state"] == "excluded":
            continue
        row["cases"] += 1
        resolved = case["state"] in RESOLVED_STATES
        late = case["state"] in OPEN_STATES and now_day > date.fromisoformat(case["rectify_due"])
        row["due"] += resolved or late
        row["overdue"] += late
        row["closed"] += resolved
        row["closed_on_time"] += bool(resolved and case["on_time"])
        row["reopened"] += case["reopen_count"] > 0
        if case["real_name"]:
            row["real_name"] += 1
            if case["revisit_first_at"]:
                row["revisited"] += 1
                row["revisited_on_time"] += _on_time(case["revisit_first_at"], case["revisit_due"])
        if case["rerate_level"]:
            satisfied = case["rerate_level"] in SATISFIED_RERATES
            row["rerated"] += 1
            row["rerate_satisfied"] += satisfied
            if case["rerate_source"] in RERATE_SOURCES:
                row[f"rerated_{case['rerate_source']}"] += 1
                row[f"rerate_satisfied_{case['rerate_source']}"] += satisfied
    rows = list(table.values())
    if by == "post":
        rows = [table[k] for k in sorted(table, key=lambda k: (k == "", k))]
        rows.append({"post": "合计", "department": "", **{k: sum(r[k] for r in rows) for k in _COUNTS}})
    elif county is None:
        total = {"county": "total", "name": "全市", **{k: sum(r[k] for r in rows) for k in _COUNTS}}
        rows.append(total)
    for row in rows:
        row["rectify_rate"] = _rate(row["closed"], row["due"])  # 整改率
        row["on_time_rate"] = _rate(row["closed_on_time"], row["due"])  # 按时整改率
        row["revisit_rate"] = _rate(row["revisited"], row["real_name"])  # 实名差评回访率
        row["rerate_satisfaction"] = _rate(row["rerate_satisfied"], row["rerated"])  # 复评满意率
        for source in RERATE_SOURCES:  # by source: 追评, 电话回访
            row[f"rerate_satisfaction_{source}"] = _rate(row[f"rerate_satisfied_{source}"], row[f"rerated_{source}"])
    return rows


def _as_day(value: str | date | None, what: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return parse_day(value, what)


def states_table() -> list[dict[str, Any]]:
    """Each state with the actions it allows (for docs and `cases show`)."""
    return [{"state": s, "名称": STATES[s],
             "actions": ", ".join(f"{a.name} ({a.role})" for a in ACTIONS.values() if s in a.states)}
            for s in STATES]

