"""Ratings once stored: excluding one from the figures (an upheld appeal 申诉成立, or a rating confirmed
as false 评价信息不实) while keeping it, as DOMAIN section 4 asks.

The figures read the daily aggregates only, so an exclusion moves the rating there too: out of the level
counts and index sums of ``daily_agg`` into its ``excluded_n``, and out of ``daily_indicator_agg``.
"""

from __future__ import annotations

import json
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
        key = [rating["day"], rating["window_code"], rating["item_code"], rating["channel"]]
        index = float(rating["rating_index"])
        level = int(rating["level"])
        cursor = db.execute(
            f"UPDATE daily_agg SET n = n - 1, l{level} = l{level} - 1, index_sum = index_sum - ?,"
            " index_sq = index_sq - ?, excluded_n = excluded_n + 1"
            " WHERE day = ? AND window_code = ? AND item_code = ? AND channel = ?"
            f" AND n > 0 AND l{level} > 0",
            [index, index * index, *key],
        )
        if cursor.rowcount != 1:
            raise DatabaseError(
                f"the daily aggregate of rating {rating_id} ({', '.join(key)}) does not hold it",
                "the aggregates are out of step with the ratings; nothing was changed",
            )
        # Floating-point sums of an emptied group are set to exactly 0 rather than left at 1e-14.
        db.execute(
            "UPDATE daily_agg SET index_sum = 0, index_sq = 0"
            " WHERE day = ? AND window_code = ? AND item_code = ? AND channel = ? AND n = 0",
            key,
        )
        for code, score in sorted(json.loads(rating["scores"] or "{}").items()):
            s = float(score)
            cursor = db.execute(
                "UPDATE daily_indicator_agg SET n = n - 1, score_sum = score_sum - ?, score_sq = score_sq - ?,"
                " level_sum = level_sum - ?, level_sq = level_sq - ?, cross_sum = cross_sum - ?"
                " WHERE day = ? AND window_code = ? AND item_code = ? AND channel = ? AND indicator_code = ?"
                " AND n > 0",
                [s, s * s, level, level * level, s * level, *key, code],
            )
            if cursor.rowcount != 1:
                raise DatabaseError(
                    f"the indicator aggregate {code} of rating {rating_id} ({', '.join(key)}) does not hold it",
                    "the aggregates are out of step with the ratings; nothing was changed",
                )
        db.execute("UPDATE ratings SET excluded = ?, excluded_at = ? WHERE id = ?", [reason, now_text(), rating_id])
    return rating
