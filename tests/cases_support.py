"""Test support for the closed loop: ratings go in through the import pipeline's core
(``importer.import_records``), which writes the ratings, the daily aggregates and the cases of the bad
reviews in one transaction, as a real import does."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from haocha_cli.context import open_context
from haocha_cli.importer import import_records

_counter = {"n": 0}


def add_ratings(db_path: Path, ratings: list[dict[str, Any]]) -> list[int]:
    """Import ratings as one batch; returns their row ids (cases are numbered in the same order).

    Each rating: rated_at, window, level (a name such as 不满意), and optionally phone (real-name), item,
    problems (list of indicator codes), scores ({indicator: 1..5}), staff, comment, round (2 = 追评), case_no
    (办件编号: a 追评 of the same 办件 re-rates its case).
    "Now" is set just after the latest rating for the import (a rating in the future is refused).
    """
    records = []
    for r in ratings:
        _counter["n"] += 1
        record = {"rating_id": f"R{_counter['n']:05d}", "rated_at": r["rated_at"], "window_code": r["window"],
                  "channel": "二维码", "item_code": r.get("item", "XK01"), "level": r["level"]}
        if r.get("phone"):
            record["rater_phone"] = r["phone"]
        if r.get("problems"):
            record["problems"] = " ".join(r["problems"])
        if r.get("scores"):
            record["scores"] = json.dumps(r["scores"])
        for key, field in (("staff", "staff_code"), ("comment", "comment"), ("round", "rating_round"),
                           ("case_no", "case_no")):
            if r.get(key) is not None:
                record[field] = str(r[key])
        records.append(record)
    latest = max(datetime.fromisoformat(r["rated_at"]) for r in ratings) + timedelta(hours=1)
    saved = os.environ.get("HAOCHA_NOW")
    os.environ["HAOCHA_NOW"] = latest.isoformat(sep=" ")
    ctx = open_context(db_path, "city")
    try:
        summary = import_records(ctx, records, source="test")
    finally:
        ctx.db.close()
        if saved is None:
            del os.environ["HAOCHA_NOW"]
        else:
            os.environ["HAOCHA_NOW"] = saved
    assert summary["rejected"] == 0, summary["first_rejects"]
    return summary["ids"]
