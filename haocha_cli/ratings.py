"""Ratings once stored: excluding one from the figures (an upheld appeal 申诉成立, or a rating confirmed
as false 评价信息不实) while keeping it, as DOMAIN section 4 asks.

The figures read the daily aggregates only, so an exclusion moves the rating there too: out of the level
counts and index sums of ``daily_agg`` into its ``excluded_n``, and out of ``daily_indicator_agg`` (the rows of
the tables under those views, ``*_rows``, of the part the rating's batch was written to: migration 13).
``take_out_of_aggregates`` does that for one rating or many; a withdrawn batch (haocha_cli.batches) uses it
to take its ratings out altogether.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from haocha_cli.clock import now_text
from haocha_cli.db import transaction
from haocha_cli.errors import DatabaseError, InvalidInput, InvalidTransition, NotFound

EXCLUSION_REASONS = {
    "appeal_upheld": "申诉成立 (appeal upheld)",
    "confirmed_false": "评价信息不实 (confirmed false)",
}


def get_rating(db: sqlite_utils.Database, rating_id: int) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM ratings WHERE id = ?", [rating_id]))
    if not rows:
        raise NotFound(f"rating {rating_id} does not exist", "the number is the rating's row id")
    return rows[0]


def exclude_rating(db: sqlite_utils.Database, rating_id: int, reason: str) -> dict[str, Any]:
    """Mark a rating as excluded and take it out of the daily aggregates, in one transaction
    (joining the caller's). Returns the rating as it was before.

    ``reason`` is ``appeal_upheld`` or ``confirmed_false``. The caller records the audit event: the
    exclusion is part of its action (an appeal decision, an oversight finding).
    """
    if reason not in EXCLUSION_REASONS:
        raise InvalidInput(f"{reason!r} is not a reason to exclude a rating",
                           f"use one of {', '.join(EXCLUSION_REASONS)}")
    with transaction(db):
        rating = get_rating(db, rating_id)
        if rating["excluded"]:
            raise InvalidTransition(
                f"rating {rating_id} is already excluded ({rating['excluded']}, {rating['excluded_at']})",
                "an excluded rating stays excluded",
            )
        take_out_of_aggregates(db, [rating], excluded=True, what=f"rating {rating_id}")
        db.execute("UPDATE rating_rows SET excluded = ?, excluded_at = ? WHERE id = ?", [reason, now_text(), rating_id])
    return rating


def take_out_of_aggregates(db: sqlite_utils.Database, ratings: Iterable[dict[str, Any]], *, excluded: bool,
                           what: str) -> None:
    """Take counted ratings out of the daily aggregates: their level counts, index sums and indicator sums.

    ``excluded``: they stay in the database, not counted, and move to ``excluded_n`` (an upheld appeal, a
    false rating; an emptied indicator row stays, at 0); otherwise they are gone (a withdrawn batch) and rows
    left holding nothing are removed, as if those ratings had never come. Emptied index sums are set to
    exactly 0. Raises DatabaseError when an aggregate does not hold them (``what`` names them); the caller's
    transaction then changes nothing.
    """
    sums: dict[tuple, list] = {}
    ind: dict[tuple, list] = {}
    staged: dict[int, int] = {}  # batch -> the part its aggregates are in (migration 13)
    for r in ratings:
        batch = r["batch_id"]
        part = staged.get(batch)
        if part is None:
            row = db.execute("SELECT staged FROM batches WHERE id = ?", [batch]).fetchone()
            part = staged[batch] = batch if row and row[0] else 0
        key = (r["day"], r["window_code"], r["item_code"], r["channel"], part)
        level, index = int(r["level"]), float(r["rating_index"])
        entry = sums.setdefault(key, [0, 0, 0, 0, 0, 0, 0.0, 0.0])
        entry[0] += 1
        entry[level] += 1
        entry[6] += index
        entry[7] += index * index
        for code, score in sorted(json.loads(r["scores"] or "{}").items()):
            s = float(score)
            e = ind.setdefault((*key[:4], code, part), [0, 0.0, 0.0, 0.0, 0.0, 0.0])
            e[0] += 1
            e[1] += s
            e[2] += s * s
            e[3] += level
            e[4] += level * level
            e[5] += s * level
    problem = "the aggregates are out of step with the ratings; nothing was changed"
    for key, (n, l1, l2, l3, l4, l5, index_sum, index_sq) in sums.items():
        cursor = db.execute(
            "UPDATE daily_agg_rows SET n = n - ?, l1 = l1 - ?, l2 = l2 - ?, l3 = l3 - ?, l4 = l4 - ?, l5 = l5 - ?,"
            " index_sum = index_sum - ?, index_sq = index_sq - ?, excluded_n = excluded_n + ?"
            " WHERE day = ? AND window_code = ? AND item_code = ? AND channel = ? AND part = ?"
            " AND n >= ? AND l1 >= ? AND l2 >= ? AND l3 >= ? AND l4 >= ? AND l5 >= ?",
            [n, l1, l2, l3, l4, l5, index_sum, index_sq, n if excluded else 0, *key, n, l1, l2, l3, l4, l5])
        if cursor.rowcount != 1:
            raise DatabaseError(f"the daily aggregate {', '.join(map(str, key[:4]))} does not hold {what}", problem)
        # Floating-point sums of an emptied group are set to exactly 0 rather than left at 1e-14.
        db.execute("UPDATE daily_agg_rows SET index_sum = 0, index_sq = 0"
                   " WHERE day = ? AND window_code = ? AND item_code = ? AND channel = ? AND part = ? AND n = 0", key)
        db.execute("DELETE FROM daily_agg_rows WHERE day = ? AND window_code = ? AND item_code = ? AND channel = ?"
                   " AND part = ? AND n = 0 AND excluded_n = 0", key)
    for key, (n, score_sum, score_sq, level_sum, level_sq, cross_sum) in ind.items():
        cursor = db.execute(
            "UPDATE daily_indicator_agg_rows SET n = n - ?, score_sum = score_sum - ?, score_sq = score_sq - ?,"
            " level_sum = level_sum - ?, level_sq = level_sq - ?, cross_sum = cross_sum - ?"
            " WHERE day = ? AND window_code = ? AND item_code = ? AND channel = ? AND indicator_code = ? AND part = ?"
            " AND n >= ?",
            [n, score_sum, score_sq, level_sum, level_sq, cross_sum, *key, n])
        if cursor.rowcount != 1:
            raise DatabaseError(f"the indicator aggregate {', '.join(map(str, key[:5]))} does not hold {what}",
                                problem)
        if not excluded:
            db.execute("DELETE FROM daily_indicator_agg_rows WHERE day = ? AND window_code = ? AND item_code = ?"
                       " AND channel = ? AND indicator_code = ? AND part = ? AND n = 0", key)
