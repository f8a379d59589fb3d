"""What a county operator may read (可见范围), decided in one place.

``Context`` answers the single questions (``county_scope``, ``sees_county``, ``visible``, ``require_city``);
this module holds what the reads share beyond them: the condition that limits the audit trail to a county's
own events, the history of one case, and the cuts of city-wide results (the ranking of counties,
benchmarking, the evidence of a flag) down to what a county may see. For the city (roles ``city`` and
``admin``) every function here changes nothing.

A county sees its own county: its cases, windows, staff, accounts and ratings and the figures computed from
them. Of the ranking of counties it sees its own row with its rank number (名次) and how many counties were
ranked; the other counties' names and figures are the city's to publish. Of benchmarking it sees its own
gaps to the best county and to the city mean, not which county is the best. Of the city's spot-checks it
sees, in its county report, how many of its cases and ratings were checked and with what outcome
(``spotchecks.county_results``), not which. City-wide totals (the city's index, closed-loop rates and
spot-check counts) stand beside its own. City-wide records (import batches, which mix counties; flag scans;
spot-check samples; every county's risk level; calendar changes, which move every county's deadlines) are
the city's.

The county report (``reports.county``) follows these rules whoever makes it, so that the report the city
makes for a county is the one the county makes itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from haocha_cli.context import Context

# The county an event names itself: a case's opening and withdrawal, a window's or staff member's row.
_EVENT_COUNTY = "coalesce(json_extract(after, '$.county_code'), json_extract(before, '$.county_code'))"

# The events of the case that has the number entity_id now. A withdrawn batch's cases are deleted and their
# numbers can be given again to new cases (of any county): a case's history starts after the last withdrawal
# of its number. For a condition on the audit_events table (unaliased), as ``audit.events`` queries it.
CURRENT_CASE = ("id > coalesce((SELECT max(w.id) FROM audit_events w WHERE w.entity = 'cases'"
                " AND w.entity_id = audit_events.entity_id AND w.action = 'case.withdraw'), 0)")


def own_county(ctx: Context) -> str | None:
    """The county a county operator is limited to; None for the city, which sees every county."""
    return None if ctx.operator.is_city else ctx.operator.county_code


def audit_scope(ctx: Context) -> tuple[str, list[Any]] | None:
    """The audit events this operator may read, as an (SQL condition, parameters) over ``audit_events``:
    None (all of them) for the city; for a county the events of its own cases (their opening and
    withdrawal included), windows, staff and workbench accounts."""
    county = own_county(ctx)
    if county is None:
        return None
    sql = (
        "(entity = 'cases' AND (action IN ('case.open', 'case.withdraw') AND " + _EVENT_COUNTY + " = ?"
        " OR entity_id IN (SELECT CAST(id AS TEXT) FROM cases WHERE county_code = ?) AND " + CURRENT_CASE + ")"
        " OR entity IN ('windows', 'staff') AND " + _EVENT_COUNTY + " = ?"
        " OR entity = 'windows' AND action = 'catalogue.deactivate'"
        " AND entity_id IN (SELECT code FROM windows WHERE county_code = ?)"
        " OR entity = 'accounts' AND entity_id IN (SELECT username FROM accounts WHERE county_code = ?))")
    return sql, [county] * 5


def own_ranking(ctx: Context, ranking: dict[str, Any]) -> dict[str, Any]:
    """A ranking of counties as a county sees it: its own row, with its rank number; ``ranked`` (how many
    counties were ranked) stays. A ranking of windows is scoped before it is computed (``county_scope``)."""
    county = own_county(ctx)
    if county is None or ranking["by"] != "county":
        return ranking
    return {**ranking, "rows": [r for r in ranking["rows"] if r["county"] == county]}


def own_benchmark(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Benchmarking as a county sees it: its own rows and weakest indicators, with the gaps to the best county
    and to the city mean, but not which county is the best (``best_county`` is None)."""
    county = own_county(ctx)
    if county is None:
        return data
    return {**data, "rows": [dict(r, best_county=None) for r in data["rows"] if r["county"] == county],
            "indicators": [dict(i, best_county=None) for i in data.get("indicators", [])],
            "weakest": {k: v for k, v in data["weakest"].items() if k == county}}


def own_evidence(ctx: Context, flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags (with their evidence parsed) as a county sees them: the ratings listed in a piece of evidence
    (one phone's ratings of a day, a repeated comment) and the staff members a phone belongs to are another
    county's too at times; a county sees its own of them. The counts stay."""
    county = own_county(ctx)
    if county is None:
        return flags
    listed = sorted({i for f in flags for i in f["evidence"].get("ratings", [])})
    own: set[int] = set()
    for start in range(0, len(listed), 500):
        chunk = listed[start:start + 500]
        own.update(r[0] for r in ctx.db.execute(
            f"SELECT id FROM ratings WHERE county_code = ? AND id IN ({','.join('?' * len(chunk))})", [county, *chunk]))
    for flag in flags:
        evidence = flag["evidence"]
        if "ratings" in evidence:
            evidence["ratings"] = [i for i in evidence["ratings"] if i in own]
        if "staff_county" in evidence:
            keep = [i for i, code in enumerate(evidence["staff_county"]) if code == county]
            evidence["staff"] = [evidence["staff"][i] for i in keep]
            evidence["staff_county"] = [evidence["staff_county"][i] for i in keep]
    return flags
