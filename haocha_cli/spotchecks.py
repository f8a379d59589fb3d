"""The city's spot-checks (抽查回访): a reproducible, risk-based sample per period, and the outcomes.

A sample of a period holds every no-action classification (无需整改, the city controls this class), every
flagged rating, a share of the closed cases of each county set by its risk level (``sampling.closed_rate.*``,
the level set by `haocha risk assess`) and a share of the 非常满意 ratings (``sampling.very_satisfied_rate``,
against false praise). The shares are drawn per county with ``random.Random`` seeded by the sample's seed,
the pool and the county, over rows in id order, so the same seed over the same data gives the same sample.
A failed check reopens the case (a case was checked) or excludes the rating as confirmed false (a rating
was checked), kept in the database. docs/method.md section 7 has the details.
"""

from __future__ import annotations

import json
import math
import random
import secrets
from decimal import Decimal
from typing import Any

from haocha_cli import audit
from haocha_cli.clock import now_text
from haocha_cli.config import LEVELS
from haocha_cli.context import Context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidInput, InvalidTransition, NotFound
from haocha_cli.periods import Period
from haocha_cli.privacy import mask_numbers

# reason -> what was drawn; the order is the precedence when an item is drawn for several reasons
REASONS: dict[str, str] = {
    "no_action": "无需整改 classification (all)",
    "flagged": "flagged rating (all)",
    "closed_case": "closed case (share by the county's risk level)",
    "very_satisfied": "非常满意 rating (share)",
}
CASE_REASONS = ("no_action", "closed_case")
# Closed cases (the quality of closure is checked): rectified, re-rated, or recorded as unrectifiable.
CLOSED_STATES = ("closed", "rerated", "unrectifiable")
OUTCOMES = {"confirmed": "核实无误", "failed": "核实不符", "unreachable": "联系不上"}
_OUTCOME_NAMES = {"confirmed": "confirmed", "核实无误": "confirmed", "属实": "confirmed", "passed": "confirmed",
                  "failed": "failed", "核实不符": "failed", "不属实": "failed",
                  "unreachable": "unreachable", "联系不上": "unreachable", "无法联系": "unreachable"}


# A county learns of a spot-check of its cases when a failed check reopens one (its history says so).
_CITY_HINT = "the spot-checks are the city's oversight of the counties; a county sees a failed check in its case's history"


def sample_size(rate: float, n: int) -> int:
    """ceil(rate × n): any county with an item in a pool and a non-zero rate gets at least one checked."""
    return min(n, math.ceil(Decimal(str(rate)) * n))


def _pools(ctx: Context, period: Period) -> dict[str, list[tuple[int, int | None, str]]]:
    """pool -> [(rating id, case id, county)] in id order."""
    start, end = period.start.isoformat(), period.end.isoformat()
    closed = ",".join("?" * len(CLOSED_STATES))
    db = ctx.db
    return {
        "no_action": [tuple(r) for r in db.execute(
            "SELECT rating_id, id, county_code FROM cases WHERE classification = 'no_action'"
            " AND state IN ('awaiting_approval', 'no_action') AND substr(classified_at, 1, 10) BETWEEN ? AND ?"
            " ORDER BY id", [start, end])],
        "flagged": [tuple(r) for r in db.execute(
            "SELECT r.id, c.id, r.county_code FROM ratings r"
            " LEFT JOIN cases c ON c.rating_id = r.id AND c.state != 'excluded'"
            # old_token (an old sticker in the grace period after `qr rotate`) tells where to swap a sticker,
            # not that a rating is doubtful: not drawn for a check.
            " WHERE r.excluded IS NULL AND r.id IN (SELECT rating_id FROM flags WHERE day BETWEEN ? AND ?"
            " AND rule != 'old_token')"
            " ORDER BY r.id", [start, end])],
        "closed_case": [tuple(r) for r in db.execute(
            f"SELECT rating_id, id, county_code FROM cases WHERE state IN ({closed})"
            " AND substr(resolved_at, 1, 10) BETWEEN ? AND ? ORDER BY id", [*CLOSED_STATES, start, end])],
        "very_satisfied": [tuple(r) for r in db.execute(
            "SELECT r.id, c.id, r.county_code FROM ratings r"
            " LEFT JOIN cases c ON c.rating_id = r.id AND c.state != 'excluded'"
            " WHERE r.level = 5 AND r.excluded IS NULL AND r.day BETWEEN ? AND ? ORDER BY r.id", [start, end])],
    }


def draw_sample(ctx: Context, period: Period, seed: int | None = None, new_version: bool = False) -> dict[str, Any]:
    """Draw and store the spot-check sample of a period (city's task). One audit event.

    A period has one sample; drawing again is refused unless ``new_version``, which keeps the earlier
    sample and its checks and adds version n + 1.
    """
    ctx.require_city("drawing a spot-check sample")
    if seed is None:
        seed = secrets.randbelow(2**31)
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput(f"seed {seed!r} is not valid", "give a whole number ≥ 0")
    vs_rate = float(ctx.config["sampling.very_satisfied_rate"])
    closed_rates = {level: float(ctx.config[f"sampling.closed_rate.{level}"]) for level in ("low", "medium", "high")}
    for key, rate in [("very_satisfied_rate", vs_rate), *((f"closed_rate.{k}", v) for k, v in closed_rates.items())]:
        if not 0 <= rate <= 1:
            raise InvalidInput(f"sampling.{key} = {rate} is not a share", "use a number from 0 to 1")
    with transaction(ctx.db):
        last = ctx.db.execute("SELECT id, version, seed, created_at FROM samples WHERE period = ?"
                              " ORDER BY version DESC LIMIT 1", [period.label]).fetchone()
        if last and not new_version:
            raise InvalidTransition(
                f"the period {period.label} has a sample already (sample {last[0]}, version {last[1]}, "
                f"seed {last[2]}, drawn {last[3]})",
                f"`haocha spotcheck list --sample {last[0]}` shows it; --new-version draws version {last[1] + 1}")
        version = last[1] + 1 if last else 1
        counties = list(ctx.db.query("SELECT code, name, risk_level FROM counties ORDER BY code"))
        levels = {c["code"]: c["risk_level"] for c in counties}
        pools = _pools(ctx, period)
        items: dict[int, dict[str, Any]] = {}
        table = {c["code"]: {"county": c["code"], "name": c["name"], "risk_level": c["risk_level"],
                             "closed_rate": closed_rates[c["risk_level"]]} for c in counties}

        def add(rating_id: int, case_id: int | None, county: str, reason: str) -> None:
            item = items.setdefault(rating_id, {"rating_id": rating_id, "case_id": case_id, "county_code": county,
                                                "reason": reason, "reasons": []})
            item["reasons"].append(reason)

        for reason in REASONS:
            for code in table:
                pool = [p for p in pools[reason] if p[2] == code]
                if reason in ("no_action", "flagged"):
                    chosen = pool
                else:
                    rate = closed_rates[levels[code]] if reason == "closed_case" else vs_rate
                    k = sample_size(rate, len(pool))
                    rng = random.Random(f"{seed}:{reason}:{code}")
                    chosen = sorted(rng.sample(pool, k))
                table[code][f"{reason}_pool"] = len(pool)
                table[code][reason] = len(chosen)
                for rating_id, case_id, county in chosen:
                    add(rating_id, case_id, county, reason)
        settings = {"very_satisfied_rate": vs_rate, "closed_rate": closed_rates, "risk_levels": levels,
                    "drawn": {code: {r: row[r] for r in REASONS} for code, row in table.items()},
                    "pools": {code: {r: row[f"{r}_pool"] for r in REASONS} for code, row in table.items()}}
        now = now_text()
        sample_id = ctx.db["samples"].insert({
            "period": period.label, "date_from": period.start.isoformat(), "date_to": period.end.isoformat(),
            "version": version, "seed": seed, "settings": json.dumps(settings, ensure_ascii=False, sort_keys=True),
            "operator": ctx.operator.label, "created_at": now}).last_pk
        ctx.db["spot_checks"].insert_all(
            [{"sample_id": sample_id, "reason": it["reason"], "reasons": json.dumps(it["reasons"]),
              "rating_id": it["rating_id"], "case_id": it["case_id"], "county_code": it["county_code"]}
             for it in sorted(items.values(), key=lambda it: it["rating_id"])])
        by_county = []
        for row in table.values():
            row["checks"] = sum(1 for it in items.values() if it["county_code"] == row["county"])
            by_county.append(row)
        audit.record(ctx.db, ctx.operator, "spotcheck.sample", "samples", sample_id, None,
                     {"period": period.label, "version": version, "seed": seed, "checks": len(items),
                      "drawn": settings["drawn"], "risk_levels": levels})
    return {"sample": sample_id, "period": period.as_dict(), "version": version, "seed": seed,
            "checks": len(items), "by_county": by_county}


def get_sample(ctx: Context, sample_id: int) -> dict[str, Any]:
    rows = list(ctx.db.query("SELECT * FROM samples WHERE id = ?", [sample_id]))
    if not rows:
        raise NotFound(f"sample {sample_id} does not exist", "`haocha spotcheck samples` lists them")
    row = rows[0]
    row["settings"] = json.loads(row["settings"])
    return row


def list_samples(ctx: Context) -> list[dict[str, Any]]:
    ctx.require_city("reading the spot-checks", _CITY_HINT)
    return list(ctx.db.query(
        "SELECT s.id, s.period, s.version, s.seed, s.date_from, s.date_to, s.operator, s.created_at,"
        " count(c.id) AS checks, sum(c.outcome IS NULL) AS pending FROM samples s"
        " LEFT JOIN spot_checks c ON c.sample_id = s.id GROUP BY s.id ORDER BY s.id"))


def _sample_ids(ctx: Context, sample_id: int | None, period: Period | None) -> list[int] | None:
    """The samples to read: the one given, those drawn within the period, or None for all."""
    if sample_id is not None:
        get_sample(ctx, sample_id)
        return [sample_id]
    if period is not None:
        return [r[0] for r in ctx.db.execute("SELECT id FROM samples WHERE date_from >= ? AND date_to <= ?",
                                             [period.start.isoformat(), period.end.isoformat()])]
    return None


def list_checks(ctx: Context, sample_id: int | None = None, period: Period | None = None, county: str | None = None,
                outcome: str | None = None) -> list[dict[str, Any]]:
    """The checks with what to check (rating, case, masked phone) and their outcome. City only."""
    ctx.require_city("reading the spot-checks", _CITY_HINT)
    where, params = [], []
    ids = _sample_ids(ctx, sample_id, period)
    if ids is not None:
        where.append(f"k.sample_id IN ({','.join('?' * len(ids))})")
        params += ids
    if county:
        from haocha_cli.catalogue import resolve_county

        where.append("k.county_code = ?")
        params.append(resolve_county(ctx.db, county))  # 李沧区 or 李沧 as well as 370213
    if outcome:
        if outcome == "pending":
            where.append("k.outcome IS NULL")
        elif outcome in OUTCOMES:
            where.append("k.outcome = ?")
            params.append(outcome)
        else:
            raise InvalidInput(f"outcome {outcome!r} is not known", f"use pending or {', '.join(OUTCOMES)}")
    rows = ctx.db.query(
        "SELECT k.id, k.sample_id AS sample, k.reason, k.reasons, k.county_code AS county, r.window_code AS window,"
        " k.rating_id AS rating, r.rating_id AS source_id, r.rated_at, r.level, r.excluded, k.case_id AS 'case',"
        " c.state AS case_state, p.phone_masked AS phone, k.outcome, k.note, k.consequence, k.checked_by, k.checked_at"
        " FROM spot_checks k JOIN ratings r ON r.id = k.rating_id LEFT JOIN cases c ON c.id = k.case_id"
        " LEFT JOIN contacts p ON p.id = r.contact_id"
        + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY k.id", params)
    result = []
    for row in rows:
        row["reasons"] = json.loads(row["reasons"])
        row["level"] = LEVELS[row["level"] - 1]
        # The city's note of the call-back is free text: a phone written into it is masked.
        row["note"], row["consequence"] = mask_numbers(row["note"]), mask_numbers(row["consequence"])
        result.append(row)
    return result


def _get_check(ctx: Context, check_id: int) -> dict[str, Any]:
    rows = list(ctx.db.query("SELECT * FROM spot_checks WHERE id = ?", [check_id]))
    if not rows:
        raise NotFound(f"spot-check {check_id} does not exist", "`haocha spotcheck list` lists them")
    return rows[0]


def contact(ctx: Context, check_id: int) -> dict[str, Any]:
    """The rater's phone for the city's return visit (抽查回访); the reading is itself an audit event."""
    ctx.require_city("reading a rater's phone for a spot-check")
    with transaction(ctx.db):
        check = _get_check(ctx, check_id)
        row = ctx.db.execute("SELECT k.phone_enc, k.phone_masked FROM ratings r JOIN contacts k"
                             " ON k.id = r.contact_id WHERE r.id = ?", [check["rating_id"]]).fetchone()
        if row is None:
            raise NotFound(f"the rating of spot-check {check_id} is anonymous: no phone was given",
                           "record the check as unreachable, or check it on the spot")
        phone = ctx.vault.reveal(row[0])
        audit.record(ctx.db, ctx.operator, "spotcheck.contact", "spot_checks", check_id, None,
                     {"revealed": "phone", "phone_masked": row[1]})
    return {"check": check_id, "phone": phone, "phone_masked": row[1]}


def _reopen(ctx: Context, case_id: int, why: str) -> str:
    """A failed check of a case: back to rectification, through the closed-loop module."""
    from haocha_cli import cases

    case = cases.get_case(ctx.db, case_id)
    state = case["state"]
    if state == "awaiting_approval":
        cases.reject(ctx, case_id, why)
        return f"no-action classification of case {case_id} rejected: back to the county to classify"
    if state in cases.OPEN_STATES:
        return f"case {case_id} is open already ({state})"
    if state == "excluded":
        return f"case {case_id} is excluded already"
    reopened = cases.reopen(ctx, case_id, why)
    if reopened["state"] == "reopened":
        return f"case {case_id} reopened: to be rectified again by {reopened['rectify_due']}"
    return f"case {case_id} reopened: back to the county to classify again"


def _exclude(ctx: Context, rating_id: int) -> str:
    """A failed check of a rating: confirmed false (评价信息不实), out of the figures, kept in the database."""
    from haocha_cli.cases import exclude_for_rating
    from haocha_cli.ratings import exclude_rating, get_rating

    rating = get_rating(ctx.db, rating_id)
    if rating["excluded"]:
        return f"rating {rating_id} is excluded already ({rating['excluded']})"
    exclude_rating(ctx.db, rating_id, "confirmed_false")
    case_id = exclude_for_rating(ctx, rating_id, "confirmed_false")
    text = f"rating {rating_id} excluded as confirmed false"
    return text + (f"; its case {case_id} ended" if case_id else "")


def record_check(ctx: Context, check_id: int, outcome: str, note: str | None = None) -> dict[str, Any]:
    """Record a check's outcome (city's task). confirmed and failed are final; unreachable may be followed
    by another attempt. A failed check reopens the case (no-action or closed case drawn) or excludes the
    rating as confirmed false (flagged or 非常满意 rating drawn). One audit event for the check; the case's
    own change is in its history too."""
    ctx.require_city("recording a spot-check")
    key = str(outcome).strip()
    result = _OUTCOME_NAMES.get(key) or _OUTCOME_NAMES.get(key.lower())
    if result is None:
        raise InvalidInput(f"outcome {outcome!r} is not known", f"use one of {', '.join(OUTCOMES)}")
    note = (note or "").strip() or None
    if result == "failed" and not note:
        raise InvalidInput("a failed check needs a note saying what was found", "give --note")
    with transaction(ctx.db):
        check = _get_check(ctx, check_id)
        if check["outcome"] in ("confirmed", "failed"):
            raise InvalidTransition(
                f"spot-check {check_id} is recorded already: {check['outcome']} at {check['checked_at']}",
                "a confirmed or failed check is final; only an unreachable one can be recorded again")
        consequence = None
        if result == "failed":
            why = f"spot-check {check_id} failed: {note}"
            if check["reason"] in CASE_REASONS and check["case_id"]:
                consequence = _reopen(ctx, check["case_id"], why)
            else:
                consequence = _exclude(ctx, check["rating_id"])
        changes = {"outcome": result, "note": note, "consequence": consequence, "checked_by": ctx.operator.label,
                   "checked_at": now_text()}
        ctx.db["spot_checks"].update(check_id, changes)
        audit.record(ctx.db, ctx.operator, "spotcheck.record", "spot_checks", check_id,
                     {k: check[k] for k in ("outcome", "note", "consequence")},
                     {k: changes[k] for k in ("outcome", "note", "consequence")})
    return {**check, **changes}


def check_stats(ctx: Context, sample_id: int | None = None, period: Period | None = None) -> list[dict[str, Any]]:
    """Per county: checks, confirmed, failed, unreachable, pending and the pass rate
    confirmed ÷ (confirmed + failed) (None while nothing is decided); the last row is the city."""
    ctx.require_city("reading the spot-checks", _CITY_HINT)
    return _check_table(ctx, _sample_ids(ctx, sample_id, period))


def county_results(ctx: Context, county: str, period: Period) -> dict[str, dict[str, Any]]:
    """A county's spot-check results of the samples drawn for the period, beside the city's, as its county
    report shows them (``{"county": …, "city": …}``, rows as ``check_stats``'s): the counts and the pass rate,
    never which ratings and cases were drawn (the samples stay the city's). A county operator reads its own."""
    county = ctx.county_scope(county, "see the spot-check results")
    rows = _check_table(ctx, _sample_ids(ctx, None, period))
    return {"county": next(r for r in rows if r["county"] == county), "city": rows[-1]}


def _check_table(ctx: Context, ids: list[int] | None) -> list[dict[str, Any]]:
    where = f" AND k.sample_id IN ({','.join('?' * len(ids))})" if ids is not None else ""
    counts = {row[0]: row[1:] for row in ctx.db.execute(
        "SELECT k.county_code, count(*), sum(k.outcome = 'confirmed'), sum(k.outcome = 'failed'),"
        " sum(k.outcome = 'unreachable'), sum(k.outcome IS NULL) FROM spot_checks k WHERE 1" + where
        + " GROUP BY k.county_code", ids or [])}
    rows = []
    for code, name in ctx.db.execute("SELECT code, name FROM counties ORDER BY code"):
        n, confirmed, failed, unreachable, pending = counts.get(code, (0, 0, 0, 0, 0))
        rows.append({"county": code, "name": name, "checks": n, "confirmed": confirmed or 0, "failed": failed or 0,
                     "unreachable": unreachable or 0, "pending": pending or 0})
    total = {"county": "total", "name": "全市", **{k: sum(r[k] for r in rows) for k in
                                                     ("checks", "confirmed", "failed", "unreachable", "pending")}}
    rows.append(total)
    for row in rows:
        decided = row["confirmed"] + row["failed"]
        row["pass_rate"] = row["confirmed"] / decided if decided else None
    return rows
