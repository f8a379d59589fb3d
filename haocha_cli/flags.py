"""Suspicious-rating flags (评价信息不实): rules that point the city's spot-checks at ratings worth a call.

A flag names its rule and its evidence (JSON, phones masked). It is a prompt to check, never an exclusion:
only a failed spot-check excludes a rating (haocha_cli.spotchecks). A rating carries at most one flag per
rule, so scanning a period again adds nothing. ``scan_flags`` runs after each import, inside the import's
transaction; `haocha flags scan` runs it over any period. The rules and their settings (``flags.*``) are
documented in docs/method.md section 7.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from datetime import date, time, timedelta
from functools import cache, lru_cache
from typing import Any

from haocha_cli import audit
from haocha_cli.catalogue import parse_opening_hours
from haocha_cli.clock import now_text, today
from haocha_cli.context import Context
from haocha_cli.db import transaction, visible_ratings
from haocha_cli.errors import ConfigError, InvalidInput
from haocha_cli.periods import Period
from haocha_cli.privacy import mask_numbers
from haocha_cli.visibility import own_evidence

# rule -> what it means
RULES: dict[str, str] = {
    "same_phone": "several ratings from one phone on one day",
    "burst": "a burst of ratings at one offline window within minutes",
    "off_hours": "a rating on the hall's own device (评价器, 平板) outside the window's opening hours",
    "staff_phone": "the rater's phone is a staff member's",
    "repeated_comment": "the same comment text again and again",
    "bad_token": "the QR token did not verify",
    "old_token": "the QR token is an old sticker's: it verified only by the previous secret, in the grace period"
                 " after `qr rotate`",
    "followup_orphan": "a follow-up rating (追评) of a service case whose first rating is not in the database",
}
# old_token is a prompt of its own: where an old sticker is still up. It is listed and reported like the others
# but is no sign of a doubtful rating, so spot-check samples and the FMEA flag rate leave it out.
# The rules' Chinese names, for what staff read (the workbench, reports).
RULE_NAMES: dict[str, str] = {
    "same_phone": "同一电话多次评价", "burst": "同一窗口短时集中评价", "off_hours": "非办公时间评价",
    "staff_phone": "工作人员电话评价", "repeated_comment": "重复文字评价", "bad_token": "二维码校验未通过",
    "old_token": "旧版二维码",
    "followup_orphan": "追评无首次评价",
}
_MAX_LISTED = 20  # rating ids listed in one piece of evidence
_TAGS = re.compile(r"<[^>]*>")
_DROPPED = ("P", "Z", "C")


def _settings(ctx: Context) -> dict[str, Any]:
    c = ctx.config
    values = {k: c[f"flags.{k}"] for k in ("phone_per_day", "burst_count", "burst_minutes", "off_hours_grace_minutes",
                                           "comment_min_length", "comment_repeats", "comment_days")}
    for key in ("phone_per_day", "burst_count", "comment_repeats"):
        if values[key] < 2:
            raise ConfigError(f"flags.{key} must be at least 2", "one rating alone is never a pattern")
    if values["comment_min_length"] < 1:
        raise ConfigError("flags.comment_min_length must be at least 1", "the default is 10")
    channels = c["flags.hall_channels"]
    if not all(isinstance(x, str) for x in channels):
        raise ConfigError("flags.hall_channels must be a list of channel names", "e.g. [\"政务大厅平板电脑\"]")
    values["hall_channels"] = list(channels)
    values["off_hours_non_workdays"] = bool(c["flags.off_hours_non_workdays"])
    return values


@cache
def _dropped_bmp() -> dict[int, None]:
    """str.translate table removing punctuation, separators and controls of the BMP (built once)."""
    return {cp: None for cp in range(0x10000) if unicodedata.category(chr(cp))[0] in _DROPPED}


def normalise_comment(text: str | None) -> str:
    """The comment as compared: tags dropped, NFKC, lower case, without spaces, punctuation or controls."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", _TAGS.sub("", str(text))).lower().translate(_dropped_bmp())
    if text and max(text) > "\uffff":
        text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in _DROPPED)
    return text


# The columns of a rating as the scan reads it: plain tuples, cheap for a million-rating import.
_ID, _DAY, _AT, _WINDOW, _COUNTY, _MODE, _CHANNEL, _CONTACT, _TOKEN_OK, _TOKEN, _SECOND, _COMMENT = range(12)
# _SECOND: the second of the day (a rating time is always 'YYYY-MM-DD HH:MM:SS'), computed by SQLite.
_COLUMNS = ("id, day, rated_at, window_code, county_code, mode, channel, contact_id, token_ok, qr_token,"
            " CAST(substr(rated_at, 12, 2) AS INTEGER) * 3600 + CAST(substr(rated_at, 15, 2) AS INTEGER) * 60"
            " + CAST(substr(rated_at, 18, 2) AS INTEGER)")


def _rows(ctx: Context, start: str, end: str, min_comment: int, own: bool = False) -> list[tuple]:
    """The counted ratings of the days, in id order; a comment too short to count is left out (NULL).
    ``own``: the staged batch of the importer asking is read too (see ``find_flags``)."""
    return ctx.db.execute(
        f"SELECT {_COLUMNS}, CASE WHEN length(comment) >= ?1 THEN comment END FROM {'rating_rows' if own else 'ratings'}"
        " WHERE day BETWEEN ?2 AND ?3 AND excluded IS NULL ORDER BY id", [min_comment, start, end]).fetchall()


def _commented_rows(ctx: Context, start: str, end: str, min_comment: int, own: bool = False) -> list[tuple]:
    """Just the counted ratings with a comment long enough to count (the repeated-comment look-back)."""
    return ctx.db.execute(
        f"SELECT {_COLUMNS}, comment FROM rating_rows INDEXED BY ratings_commented"
        " WHERE day BETWEEN ?2 AND ?3 AND comment IS NOT NULL AND length(comment) >= ?1 AND excluded IS NULL"
        f"{'' if own else ' AND ' + visible_ratings()} ORDER BY id", [min_comment, start, end]).fetchall()


def _as_dict(row: tuple) -> dict[str, Any]:
    return {"id": row[_ID], "day": row[_DAY], "rated_at": row[_AT], "window_code": row[_WINDOW],
            "county_code": row[_COUNTY]}


Hit = tuple[dict[str, Any], str, dict[str, Any]]


def find_flags(ctx: Context, start_day: date, end_day: date, batch: tuple[int, list[tuple]] | None = None,
               own: bool = False) -> tuple[list[Hit], dict[str, Any]]:
    """(rating, rule, evidence) for every rule hit among the counted ratings of the days, and notes.

    ``batch`` is (first id, rows) from the importer: the days' ratings from that id on are the batch's rows it
    holds (as ``_COLUMNS`` reads them, in id order, the whole comment), not read back from the table; only the
    days' ratings stored before (lower ids) are read, picked in the day index. ``own``: the importer of a staged
    batch (migration 13) asks, and its ratings not yet visible are read with the others (there is one staged batch
    at a time: the rows not visible are its own).

    One read of the days' ratings serves every rule (plus the commented ratings of the days before the
    period that the repeated-comment rule looks back on), so that the scan after a large import stays cheap.
    (Each rule as its own SQL query, with window functions for the bursts, was slower: SQLite then reads the
    days' ratings once per rule.)
    """
    s = _settings(ctx)
    start, end = start_day.isoformat(), end_day.isoformat()
    if batch is None:
        rows = _rows(ctx, start, end, s["comment_min_length"], own)
    else:
        least = s["comment_min_length"]
        rows = ctx.db.execute(  # below the batch's first id: only visible ratings (a staged batch's are above)
            f"SELECT {_COLUMNS}, CASE WHEN length(comment) >= ?1 THEN comment END FROM rating_rows"
            " INDEXED BY ratings_day_window WHERE day BETWEEN ?2 AND ?3 AND id < ?4 AND excluded IS NULL"
            f"{'' if own else ' AND ' + visible_ratings()}"
            " ORDER BY id", [least, start, end, batch[0]]).fetchall()
        rows += [r if r[_COMMENT] is None or len(r[_COMMENT]) >= least else (*r[:_COMMENT], None) for r in batch[1]]
    hits: list[Hit] = []
    notes: dict[str, Any] = {"ratings": len(rows)}

    # same_phone: ≥ phone_per_day ratings from one phone on one day.
    by_phone: dict[tuple[int, str], list[tuple]] = defaultdict(list)
    for r in rows:
        if r[_CONTACT] is not None:
            by_phone[(r[_CONTACT], r[_DAY])].append(r)
    groups = [g for g in by_phone.values() if len(g) >= s["phone_per_day"]]
    masked = _masks(ctx, {g[0][_CONTACT] for g in groups})
    for group in sorted(groups, key=lambda g: (g[0][_DAY], g[0][_ID])):
        evidence = {"phone": masked[group[0][_CONTACT]], "day": group[0][_DAY], "count": len(group),
                    "threshold": s["phone_per_day"], "ratings": [g[_ID] for g in group][:_MAX_LISTED]}
        hits += [(_as_dict(r), "same_phone", evidence) for r in group]

    # burst: ≥ burst_count ratings at one offline window within burst_minutes. Times as seconds since the
    # start of the period's first day.
    span = s["burst_minutes"] * 60
    least = s["burst_count"]
    day_start: dict[str, int] = {}
    first = start_day.toordinal()
    by_window: dict[str, list[tuple[int, int, tuple]]] = defaultdict(list)
    for r in rows:
        if r[_MODE] == "offline":
            base = day_start.get(r[_DAY])
            if base is None:
                base = day_start[r[_DAY]] = (date.fromisoformat(r[_DAY]).toordinal() - first) * 86400
            by_window[r[_WINDOW]].append((base + r[_SECOND], r[_ID], r))
    threshold = f"{s['burst_count']} within {s['burst_minutes']} min"
    for window in sorted(by_window):
        seq = sorted(by_window[window])  # by time, then id (ids are unique: the rows are never compared)
        for k, lo, hi in _bursts([x[0] for x in seq], span, least):
            hits.append((_as_dict(seq[k][2]), "burst", {"window": window, "from": seq[lo][2][_AT],
                                                        "to": seq[hi][2][_AT], "count": hi - lo + 1,
                                                        "threshold": threshold}))

    # off_hours, staff_phone: each rating on its own.
    hits += _hours_and_staff_hits(ctx, rows, s, notes)

    # repeated_comment: the same normalised text ≥ comment_repeats times from comment_days before the period
    # on. Normalising only shortens a text, so the raw length already leaves the short ones out.
    lookback_day = start_day - timedelta(days=s["comment_days"])
    lookback = lookback_day.isoformat()
    earlier = _commented_rows(ctx, lookback, (start_day - timedelta(days=1)).isoformat(),
                              s["comment_min_length"], own) if s["comment_days"] else []
    texts: dict[str, list[tuple]] = defaultdict(list)
    normalised: dict[str, str] = {}
    for r in (*earlier, *rows):
        comment = r[_COMMENT]
        if comment is None:
            continue
        norm = normalised.get(comment)
        if norm is None:
            norm = normalised[comment] = normalise_comment(comment)
        if len(norm) >= s["comment_min_length"]:
            texts[norm].append(r)
    for norm in sorted(texts, key=lambda t: texts[t][0][_ID]):
        group = texts[norm]
        if len(group) >= s["comment_repeats"] and any(r[_DAY] >= start for r in group):
            evidence = {"text": mask_numbers(norm)[:60], "count": len(group), "threshold": s["comment_repeats"],
                        "since": lookback, "ratings": [g[_ID] for g in group][:_MAX_LISTED]}
            hits += [(_as_dict(r), "repeated_comment", evidence) for r in group]

    # bad_token, old_token: the ratings' own QR tokens.
    hits += _token_hits(rows)

    # followup_orphan: a 追评 (评价次数 2, with its 办件编号) whose case has no first rating from the same source
    # in the database (一事一评). The import accepts it; the first rating may have been lost, or never made. The
    # follow-ups of the days are few: read by their own index, not with every rating above.
    for rid, day, at, window, county, source, case_no in ctx.db.execute(
            "SELECT r.id, r.day, r.rated_at, r.window_code, r.county_code, r.source, r.case_no FROM rating_rows r"
            " INDEXED BY ratings_followups WHERE r.day BETWEEN ? AND ? AND r.rating_round = 2"
            f" AND r.case_no IS NOT NULL AND r.excluded IS NULL{'' if own else ' AND ' + visible_ratings('r')}"
            f" AND NOT EXISTS (SELECT 1 FROM {'rating_rows' if own else 'ratings'} f"
            " WHERE f.source = r.source AND f.case_no = r.case_no AND f.rating_round = 1) ORDER BY r.id",
            [start, end]):
        hits.append(({"id": rid, "day": day, "rated_at": at, "window_code": window, "county_code": county},
                     "followup_orphan", {"case_no": mask_numbers(case_no), "source": source}))
    return hits, notes


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _masks(ctx: Context, contact_ids: set[int]) -> dict[int, str]:
    ids = sorted(contact_ids)
    result: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        result.update(ctx.db.execute(f"SELECT id, phone_masked FROM contacts WHERE id IN ({','.join('?' * len(chunk))})",
                                     chunk).fetchall())
    return result


def _hours_and_staff_hits(ctx: Context, rows: list[tuple], s: dict[str, Any], notes: dict[str, Any]) -> list[Hit]:
    """The rules that judge a rating on its own, for the scan and for one submission alike.

    off_hours: a hall-device rating outside its window's opening hours (or on a non-working day)."""
    hits: list[Hit] = []
    channels = set(s["hall_channels"])
    hall = [r for r in rows if r[_CHANNEL] in channels]
    windows = dict(ctx.db.execute("SELECT code, opening_hours FROM windows").fetchall())
    grace = s["off_hours_grace_minutes"] * 60
    # Each window's open spans in seconds of the day, widened by the grace.
    spans_of: dict[str, list[tuple[int, int]] | None] = {}
    for code, hours in windows.items():
        spans = parse_opening_hours(hours)
        spans_of[code] = None if spans is None else [(_seconds(a) - grace, _seconds(b) + grace) for a, b in spans]
    workday: dict[str, bool] = {}
    if hall and s["off_hours_non_workdays"]:
        from haocha_cli.bureau_calendar import load_calendar

        calendar = load_calendar(ctx.db)
        workday = {d: calendar.is_workday(date.fromisoformat(d)) for d in sorted({r[_DAY] for r in hall})}
    unreadable = set()
    for r in hall:
        spans = spans_of.get(r[_WINDOW])
        if spans is None:
            if windows.get(r[_WINDOW]):
                unreadable.add(r[_WINDOW])
            continue
        at = r[_AT]
        if s["off_hours_non_workdays"] and not workday[r[_DAY]]:
            reason = "non-working day"
        else:
            second = r[_SECOND]
            if any(lo <= second <= hi for lo, hi in spans):
                continue
            reason = "outside opening hours"
        hits.append((_as_dict(r), "off_hours", {"window": r[_WINDOW], "rated_at": at, "channel": r[_CHANNEL],
                                                "opening_hours": windows[r[_WINDOW]],
                                                "grace_minutes": s["off_hours_grace_minutes"], "why": reason}))
    if unreadable:
        notes["unreadable_opening_hours"] = sorted(unreadable)

    # staff_phone: the rater's phone hash is a staff member's.
    staff: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for contact, code, county in ctx.db.execute(
            "SELECT k.id, s.code, s.county_code FROM staff s JOIN contacts k ON k.phone_hash = s.phone_hash"
            " ORDER BY s.code"):
        staff[contact].append((code, county))
    staff_masks = _masks(ctx, {r[_CONTACT] for r in rows if r[_CONTACT] in staff})
    for r in rows:
        if r[_CONTACT] in staff:
            members = staff[r[_CONTACT]]
            hits.append((_as_dict(r), "staff_phone", {"phone": staff_masks[r[_CONTACT]],
                                                      "staff": [m[0] for m in members],
                                                      "staff_county": [m[1] for m in members],
                                                      "same_county": any(m[1] == r[_COUNTY] for m in members)}))
    return hits


def _token_hits(rows: list[tuple]) -> list[Hit]:
    """bad_token: a QR token that did not verify; old_token: one that verified by the previous secret only, in
    the grace period after a rotation (token_ok 2: an old sticker still up, accepted so that no rating is lost)."""
    hits: list[Hit] = []
    for r in rows:
        if r[_TOKEN_OK] == 0:
            hits.append((_as_dict(r), "bad_token", {"qr_token": r[_TOKEN], "window": r[_WINDOW]}))
        elif r[_TOKEN_OK] == 2:
            hits.append((_as_dict(r), "old_token", {"qr_token": r[_TOKEN], "window": r[_WINDOW]}))
    return hits


def scan_flags(ctx: Context, start_day: date | str, end_day: date | str,
               batch: tuple[int, list[tuple]] | None = None, *, own: bool = False,
               defer: list[Prepared] | None = None) -> dict[str, Any]:
    """Flag the ratings of [start_day, end_day] (inclusive) by every rule; returns a summary. ``batch``: the
    importer's rows of the days, held in memory (``find_flags``); ``own``: the importer of a staged batch asks.

    Joins the caller's transaction (the importer calls it in its batch transaction). Flags already there
    stay as they are; one audit event ``flags.scan`` when anything new was flagged. No permission check:
    the importer runs it for whoever imports; the command checks the city. ``defer``: the flags are not
    written but added to the list, for ``store_prepared`` later (a staged batch writes them in its last
    transaction); the summary's ``new_total`` then counts the hits.
    """
    start = start_day if isinstance(start_day, date) else date.fromisoformat(str(start_day))
    end = end_day if isinstance(end_day, date) else date.fromisoformat(str(end_day))
    if end < start:
        raise InvalidInput(f"the scan ends ({end}) before it starts ({start})", "swap the dates")
    hits, notes = find_flags(ctx, start, end, batch, own)
    prepared = _prepare(hits, notes, start, end)
    if defer is None:
        return store_prepared(ctx, prepared)
    defer.append(prepared)
    return {"new_total": len(hits)}


# The flags of one scan ready to be written: rows per rule, and the summary without the counts of new flags.
Prepared = tuple[dict[str, list[tuple[Any, ...]]], dict[str, Any]]


def _prepare(hits: list[Hit], notes: dict[str, Any], start: date, end: date) -> Prepared:
    now = now_text()
    by_rule: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for rating, rule, evidence in hits:
        by_rule[rule].append((rating["id"], rule, rating["county_code"], rating["window_code"], rating["day"],
                              json.dumps(evidence, ensure_ascii=False, sort_keys=True), now))
    summary = {"from": start.isoformat(), "to": end.isoformat(), "ratings": notes["ratings"],
               "hits": len(hits), "ratings_flagged": len({r["id"] for r, _, _ in hits})}
    if "unreadable_opening_hours" in notes:
        summary["unreadable_opening_hours"] = notes["unreadable_opening_hours"]
    return dict(by_rule), summary


def store_prepared(ctx: Context, prepared: Prepared) -> dict[str, Any]:
    """Store a scan's hits as flags (those already there stay as they are) and audit what was new."""
    by_rule, summary = prepared
    new = dict.fromkeys(RULES, 0)
    with transaction(ctx.db):
        conn = ctx.db.conn
        for rule, rows in by_rule.items():
            before = conn.total_changes
            conn.executemany(f"INSERT OR IGNORE INTO flags ({_FLAG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            new[rule] = conn.total_changes - before
        return _stored(ctx, summary, new)


def store_held(ctx: Context, table: str, block: int, rules: list[str], summary: dict[str, Any]) -> dict[str, Any]:
    """``store_prepared`` of a scan whose flag rows wait in ``table`` (a temporary table of the connection
    with the flags' columns and ``block``; a staged import's, haocha_cli.importer): copied by SQLite, rule by
    rule in ``rules``' order, without a row passing through Python."""
    new = dict.fromkeys(RULES, 0)
    with transaction(ctx.db):
        conn = ctx.db.conn
        for rule in rules:
            before = conn.total_changes
            conn.execute(f"INSERT OR IGNORE INTO flags ({_FLAG_COLUMNS}) SELECT {_FLAG_COLUMNS} FROM {table}"
                         " WHERE block = ? AND rule = ? ORDER BY rowid", [block, rule])
            new[rule] = conn.total_changes - before
        return _stored(ctx, summary, new)


_FLAG_COLUMNS = "rating_id, rule, county_code, window_code, day, evidence, created_at"


def _stored(ctx: Context, summary: dict[str, Any], new: dict[str, int]) -> dict[str, Any]:
    """The summary of a scan stored (``new``: flags added per rule), audited when anything was new; in the
    caller's transaction."""
    summary = {**{k: summary[k] for k in ("from", "to", "ratings", "hits")}, "new": new,
               "new_total": sum(new.values()), "ratings_flagged": summary["ratings_flagged"],
               **({k: summary[k]} if (k := "unreadable_opening_hours") in summary else {})}
    if summary["new_total"]:
        audit.record(ctx.db, ctx.operator, "flags.scan", "flags", f"{summary['from']}..{summary['to']}", None,
                     {k: v for k, v in summary.items() if k != "hits"})
    return summary


def scan(ctx: Context, period: Period) -> dict[str, Any]:
    """`haocha flags scan`: the city's scan of a period."""
    ctx.require_city("scanning for suspicious ratings")
    summary = scan_flags(ctx, period.start, period.end)
    summary["window_flags"] = scan_window_flags(ctx, months_of(period))
    return summary


def list_flags(ctx: Context, period: Period | None = None, rule: str | None = None,
               county: str | None = None) -> list[dict[str, Any]]:
    """Flags with their rating, newest day first. A county operator sees its own county's only, and of the
    ratings and staff a piece of evidence lists, its own (``visibility.own_evidence``)."""
    county = ctx.county_scope(county, "see the flags")
    where, params = [], []
    if rule:
        if rule not in RULES:
            raise InvalidInput(f"rule {rule!r} is not known", f"rules: {', '.join(RULES)}")
        where.append("f.rule = ?")
        params.append(rule)
    if county:
        where.append("f.county_code = ?")
        params.append(county)
    if period:
        where.append("f.day BETWEEN ? AND ?")
        params += [period.start.isoformat(), period.end.isoformat()]
    sql = ("SELECT f.id, f.rule, f.rating_id AS rating, r.source, r.rating_id AS source_id, f.county_code AS county,"
           " f.window_code AS window, r.rated_at, r.channel, r.level, r.excluded, f.evidence, f.created_at"
           " FROM flags f JOIN ratings r ON r.id = f.rating_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY f.day DESC, f.rating_id, f.rule")
    rows = []
    for row in ctx.db.query(sql, params):
        row["evidence"] = json.loads(row["evidence"])
        if "text" in row["evidence"]:  # masked when the flag was raised; again, by today's rules
            row["evidence"]["text"] = mask_numbers(row["evidence"]["text"])
        rows.append(row)
    return own_evidence(ctx, rows)


def describe(rule: str, evidence: dict[str, Any]) -> str:
    """One line of evidence for a table."""
    e = evidence
    if rule == "same_phone":
        return f"{e['count']} ratings from {e['phone']} on {e['day']}"
    if rule == "burst":
        return f"{e['count']} ratings at {e['window']} {e['from'][11:]}–{e['to'][11:]} ({e['threshold']})"
    if rule == "off_hours":
        return f"{e['channel']} at {e['rated_at']}: {e['why']} ({e['opening_hours']})"
    if rule == "staff_phone":
        return f"{e['phone']} is staff {', '.join(e['staff']) or 'of another county'}"
    if rule == "repeated_comment":
        return f"{e['count']} times since {e['since']}: {e['text']}"
    if rule == "bad_token":
        return f"token {e['qr_token']!r} did not verify"
    if rule == "old_token":
        return f"token {e['qr_token']!r} of window {e['window']} is an old sticker's (previous QR secret)"
    if rule == "followup_orphan":
        return f"追评 of case {e['case_no']}: no first rating of it from {e['source']}"
    return json.dumps(e, ensure_ascii=False)


# --- window flags: the rating rate (主动评价率) ---------------------------------------------------------
# A window that hands the QR code only to happy customers has a good index and few ratings for its services.
# These rules flag a window's month (not a rating) for the city, in the table window_flags; docs/method.md
# section 8. They run after every `volumes import` (for its months and the month after each) and in `flags scan`.
WINDOW_RULES: dict[str, str] = {
    "low_rating_rate": "a window's rating rate in a month is under flags.rating_rate_ratio of its county's",
    "rating_rate_drop": "a window's rating rate fell under flags.rating_rate_drop of its previous month's",
}
WINDOW_RULE_NAMES: dict[str, str] = {"low_rating_rate": "主动评价率远低于本县", "rating_rate_drop": "主动评价率骤降"}


def months_of(period: Period) -> list[str]:
    """The months (YYYY-MM) a period touches."""
    months, day = [], period.start.replace(day=1)
    while day <= period.end:
        months.append(day.isoformat()[:7])
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def _rate_settings(ctx: Context) -> tuple[float, float, int]:
    c = ctx.config
    ratio, drop, least = c["flags.rating_rate_ratio"], c["flags.rating_rate_drop"], c["flags.rating_rate_min_services"]
    for key, value in (("flags.rating_rate_ratio", ratio), ("flags.rating_rate_drop", drop)):
        if not 0 <= value < 1:
            raise ConfigError(f"{key} must be a share from 0 up to (not including) 1, not {value}",
                              "the default 0.5 flags a rate under half; 0 switches the rule off")
    return float(ratio), float(drop), int(least)


def find_window_flags(ctx: Context, months: list[str]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(window month, rule, evidence) for every window rule hit in the months."""
    from haocha_cli.volumes import window_months

    ratio, drop, least = _rate_settings(ctx)
    hits = []
    for month in months:
        rows = window_months(ctx.db, month)
        first = date.fromisoformat(f"{month}-01")
        before = {r["window_code"]: r for r in window_months(ctx.db, (first - timedelta(days=1)).isoformat()[:7])}
        for r in rows:
            if r["services"] < least:
                continue
            figures = {"month": month, "ratings": r["n"], "services": r["services"], "rating_rate": r["rating_rate"]}
            if ratio and r["county_rate"] and r["rating_rate"] < ratio * r["county_rate"]:
                hits.append((r, "low_rating_rate", {**figures, "county_ratings": r["county_n"],
                                                    "county_services": r["county_services"],
                                                    "county_rate": r["county_rate"], "ratio": ratio}))
            p = before.get(r["window_code"])
            if drop and p and p["services"] >= least and p["rating_rate"] and r["rating_rate"] < drop * p["rating_rate"]:
                hits.append((r, "rating_rate_drop", {**figures, "previous_month": p["month"],
                                                     "previous_ratings": p["n"], "previous_services": p["services"],
                                                     "previous_rate": p["rating_rate"], "ratio": drop}))
    return hits


def scan_window_flags(ctx: Context, months: list[str]) -> dict[str, Any]:
    """Flag the windows of the months by the rating-rate rules; joins the caller's transaction. Flags already
    there stay (a prompt once raised stays on the list, as a rating's does); one audit event when any is new."""
    hits = find_window_flags(ctx, months)
    new = dict.fromkeys(WINDOW_RULES, 0)
    now = now_text()
    with transaction(ctx.db):
        conn = ctx.db.conn
        for r, rule, evidence in hits:
            before = conn.total_changes
            conn.execute("INSERT OR IGNORE INTO window_flags (rule, county_code, window_code, month, evidence,"
                         " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                         [rule, r["county_code"], r["window_code"], evidence["month"],
                          json.dumps(evidence, ensure_ascii=False, sort_keys=True), now])
            new[rule] += conn.total_changes - before
        summary = {"months": months, "hits": len(hits), "new": new, "new_total": sum(new.values())}
        if summary["new_total"]:
            audit.record(ctx.db, ctx.operator, "flags.scan_windows", "window_flags", ",".join(months), None, summary)
    return summary


def list_window_flags(ctx: Context, period: Period | None = None, rule: str | None = None) -> list[dict[str, Any]]:
    """`haocha flags windows`: the flagged window months, newest first — the city's (a county operator is
    refused: the rule compares a county's windows and judges the county's own figures)."""
    ctx.require_city("seeing the windows flagged by their rating rate")
    where, params = [], []
    if rule:
        if rule not in WINDOW_RULES:
            raise InvalidInput(f"rule {rule!r} is not a window rule", f"window rules: {', '.join(WINDOW_RULES)}")
        where.append("f.rule = ?")
        params.append(rule)
    if period:
        where.append("f.month BETWEEN ? AND ?")
        params += [period.start.isoformat()[:7], period.end.isoformat()[:7]]
    sql = ("SELECT f.id, f.rule, f.month, f.county_code AS county, f.window_code AS window, w.name AS window_name,"
           " f.evidence, f.created_at FROM window_flags f LEFT JOIN windows w ON w.code = f.window_code"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY f.month DESC, f.county_code,"
           " f.window_code, f.rule")
    rows = []
    for row in ctx.db.query(sql, params):
        e = json.loads(row.pop("evidence"))
        row.update(rule_name=WINDOW_RULE_NAMES[row["rule"]], ratings=e["ratings"], services=e["services"],
                   rating_rate=e["rating_rate"],
                   compared_rate=e["county_rate"] if row["rule"] == "low_rating_rate" else e["previous_rate"],
                   evidence=e)
        rows.append(row)
    return rows


def describe_window(rule: str, e: dict[str, Any]) -> str:
    """One line of a window flag's evidence, in the bureau's words, for a table."""
    if rule == "low_rating_rate":
        return (f"{e['month']} 主动评价率 {e['ratings']}/{e['services']} = {e['rating_rate']:.1%}，本县 "
                f"{e['county_ratings']}/{e['county_services']} = {e['county_rate']:.1%}，低于其 {e['ratio']:.0%}")
    return (f"{e['month']} 主动评价率 {e['ratings']}/{e['services']} = {e['rating_rate']:.1%}，上月 {e['previous_month']} "
            f"{e['previous_ratings']}/{e['previous_services']} = {e['previous_rate']:.1%}，低于其 {e['ratio']:.0%}")


def _bursts(times: list[int], span: int, least: int) -> list[tuple[int, int, int]]:
    """The ratings in a burst among one window's ``times`` (sorted): each one that some ``span`` seconds holding
    ≥ ``least`` ratings holds, as (its index, and the first and last index of the ratings within ``span`` of
    it: its evidence, which does not grow with a busy day the way a run of bursts chained all day would)."""
    n = len(times)
    marked = [False] * n
    i = done = 0  # items before ``done`` are marked already where they must be: each item is marked once
    for j, t in enumerate(times):
        while t - times[i] > span:
            i += 1
        if j - i + 1 >= least:
            start = max(i, done)
            marked[start:j + 1] = [True] * (j + 1 - start)
            done = j + 1
    out = []
    lo = hi = 0
    for k in range(n):
        if not marked[k]:
            continue
        while times[k] - times[lo] > span:
            lo += 1
        hi = max(hi, k)
        while hi + 1 < n and times[hi + 1] - times[k] <= span:
            hi += 1
        out.append((k, lo, hi))
    return out


def _near(sorted_seconds: list[int], second: int, span: int) -> bool:
    """Whether ``second`` is within ``span`` of one of ``sorted_seconds``."""
    at = bisect_left(sorted_seconds, second - span)
    return at < len(sorted_seconds) and sorted_seconds[at] <= second + span


# --- one submission's flags (the rating page) -----------------------------------------------------------------
# A batch of at most this many new ratings, all of one day, is checked rating by rating (``flag_new_ratings``):
# the rating page's one-rating batches. A larger batch scans its days (``scan_flags``).
INCREMENTAL_MAX = 50


@lru_cache(maxsize=65536)
def _normalised(text: str) -> str:
    return normalise_comment(text)


def find_new_flags(ctx: Context, ids: list[int]) -> tuple[list[Hit], dict[str, Any]]:
    """The hits that the new ratings ``ids`` (all of one day) add to what the day's scan found before them:
    the same (rating, rule, evidence) that ``find_flags`` over that day would give for them and for the
    ratings they join in a pattern, read through indexes from the ratings they can join only — the phone's
    ratings of the day (ratings_contact_day), the window's offline ratings of the day (ratings_day_window),
    the commented ratings with the same text of the look-back (ratings_commented) — so that a submission costs
    the same at the start and at the end of a busy day. (Every rule's hits grow with the ratings: a rating
    added never takes a hit away, and a new hit always involves a new rating; flags already raised stay.)"""
    s = _settings(ctx)
    listed = ",".join(str(int(i)) for i in ids)
    new = ctx.db.execute(
        f"SELECT {_COLUMNS}, CASE WHEN length(comment) >= ? THEN comment END FROM ratings"
        f" WHERE id IN ({listed}) AND excluded IS NULL ORDER BY id", [s["comment_min_length"]]).fetchall()
    hits: list[Hit] = []
    notes: dict[str, Any] = {"ratings": len(new)}
    if not new:
        return hits, notes
    days = {r[_DAY] for r in new}
    if len(days) != 1:
        raise InvalidInput("the new ratings checked together must be of one day", "scan their days instead")
    day = notes["day"] = days.pop()
    start_day = date.fromisoformat(day)

    # same_phone: the phone's counted ratings of the day.
    contacts = sorted({r[_CONTACT] for r in new if r[_CONTACT] is not None})
    groups = []
    for contact in contacts:
        group = ctx.db.execute(
            f"SELECT {_COLUMNS} FROM rating_rows INDEXED BY ratings_contact_day WHERE contact_id = ? AND day = ?"
            f" AND excluded IS NULL AND {visible_ratings()} ORDER BY id", [contact, day]).fetchall()
        if len(group) >= s["phone_per_day"]:
            groups.append(group)
    masked = _masks(ctx, {g[0][_CONTACT] for g in groups})
    for group in groups:
        evidence = {"phone": masked[group[0][_CONTACT]], "day": day, "count": len(group),
                    "threshold": s["phone_per_day"], "ratings": [g[_ID] for g in group][:_MAX_LISTED]}
        hits += [(_as_dict(r), "same_phone", evidence) for r in _unflagged(ctx, "same_phone", group)]

    # burst: the window's offline ratings within 2 × burst_minutes of the new ones (by time, through
    # ratings_day_window): only a rating within burst_minutes of a new one can be newly in a burst, and what
    # decides that, and its evidence, lies within burst_minutes of it — a read that does not grow with the day.
    span, least = s["burst_minutes"] * 60, s["burst_count"]
    threshold = f"{s['burst_count']} within {s['burst_minutes']} min"
    for window in sorted({r[_WINDOW] for r in new if r[_MODE] == "offline"}):
        seconds = sorted(r[_SECOND] for r in new if r[_MODE] == "offline" and r[_WINDOW] == window)
        seq = sorted(ctx.db.execute(
            "SELECT CAST(substr(rated_at, 12, 2) AS INTEGER) * 3600 + CAST(substr(rated_at, 15, 2) AS INTEGER) * 60"
            " + CAST(substr(rated_at, 18, 2) AS INTEGER), id, rated_at FROM rating_rows INDEXED BY ratings_day_window"
            " WHERE day = ? AND window_code = ? AND mode = 'offline' AND excluded IS NULL AND rated_at BETWEEN ? AND ?"
            f" AND {visible_ratings()}",
            [day, window, _at(day, max(0, seconds[0] - 2 * span)), _at(day, min(86399, seconds[-1] + 2 * span))]))
        if len(seq) < least:
            continue
        found = {seq[k][1]: (lo, hi) for k, lo, hi in _bursts([x[0] for x in seq], span, least)
                 if _near(seconds, seq[k][0], span)}
        if not found:
            continue
        members = ctx.db.execute(
            f"SELECT {_COLUMNS} FROM ratings WHERE id IN (SELECT value FROM json_each(?)) AND id NOT IN"
            " (SELECT rating_id FROM flags WHERE rule = 'burst' AND rating_id IN (SELECT value FROM json_each(?)))",
            [json.dumps(list(found))] * 2).fetchall()
        for r in sorted(members, key=lambda r: (r[_SECOND], r[_ID])):
            lo, hi = found[r[_ID]]
            hits.append((_as_dict(r), "burst", {"window": window, "from": seq[lo][2], "to": seq[hi][2],
                                                "count": hi - lo + 1, "threshold": threshold}))

    # off_hours, staff_phone: the new ratings on their own, as the scan judges each rating.
    hits += _hours_and_staff_hits(ctx, new, s, notes)

    # repeated_comment: the commented ratings of the look-back and the day with a new rating's text.
    wanted = {}
    for r in new:
        if r[_COMMENT] is not None and len(norm := _normalised(r[_COMMENT])) >= s["comment_min_length"]:
            wanted.setdefault(norm, r[_ID])
    if wanted:
        lookback = (start_day - timedelta(days=s["comment_days"])).isoformat()
        earlier = _commented_rows(ctx, lookback, (start_day - timedelta(days=1)).isoformat(),
                                  s["comment_min_length"]) if s["comment_days"] else []
        texts: dict[str, list[tuple]] = defaultdict(list)
        for r in (*earlier, *_commented_rows(ctx, day, day, s["comment_min_length"])):
            norm = _normalised(r[_COMMENT])
            if norm in wanted:
                texts[norm].append(r)
        for norm in sorted(texts, key=lambda t: texts[t][0][_ID]):
            group = texts[norm]
            if len(group) >= s["comment_repeats"]:
                evidence = {"text": mask_numbers(norm)[:60], "count": len(group), "threshold": s["comment_repeats"],
                            "since": lookback, "ratings": [g[_ID] for g in group][:_MAX_LISTED]}
                hits += [(_as_dict(r), "repeated_comment", evidence) for r in _unflagged(ctx, "repeated_comment", group)]

    # bad_token, old_token: the new ratings' own tokens.
    hits += _token_hits(new)

    # followup_orphan: a new 追评 whose first rating is not in the database.
    for rid, rday, at, window, county, source, case_no in ctx.db.execute(
            "SELECT r.id, r.day, r.rated_at, r.window_code, r.county_code, r.source, r.case_no FROM ratings r"
            f" WHERE r.id IN ({listed}) AND r.rating_round = 2 AND r.case_no IS NOT NULL AND r.excluded IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM ratings f WHERE f.source = r.source AND f.case_no = r.case_no"
            " AND f.rating_round = 1) ORDER BY r.id"):
        hits.append(({"id": rid, "day": rday, "rated_at": at, "window_code": window, "county_code": county},
                     "followup_orphan", {"case_no": mask_numbers(case_no), "source": source}))
    return hits, notes


def _at(day: str, second: int) -> str:
    return f"{day} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


def _unflagged(ctx: Context, rule: str, rows: list[tuple]) -> list[tuple]:
    """The rows of a pattern not flagged by ``rule`` yet: a busy window's burst can run all day, and its
    earlier ratings keep the flag (and evidence) they have, as the scan's INSERT OR IGNORE keeps them."""
    flagged = {i for (i,) in ctx.db.execute(
        "SELECT rating_id FROM flags WHERE rule = ? AND rating_id IN (SELECT value FROM json_each(?))",
        [rule, json.dumps([r[_ID] for r in rows])])}
    return [r for r in rows if r[_ID] not in flagged]


def flag_new_ratings(ctx: Context, ids: list[int]) -> dict[str, Any]:
    """Flag what the new ratings ``ids`` (all of one day) add, as ``scan_flags`` of their day would, reading
    only the ratings they can form a pattern with (``find_new_flags``); the same summary as ``scan_flags``
    (its ``ratings``: the new ratings checked). Joins the caller's transaction."""
    hits, notes = find_new_flags(ctx, ids)
    day = date.fromisoformat(notes.get("day") or today().isoformat())
    return store_prepared(ctx, _prepare(hits, notes, day, day))

