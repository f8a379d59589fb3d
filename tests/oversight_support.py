"""Test support for oversight: ratings entered through the importer's core (haocha_cli.importer), one batch
per call, so that ratings, contacts, daily aggregates and cases are written as an import writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from haocha_cli.config import LEVELS
from haocha_cli.context import open_context
from haocha_cli.importer import import_records
from haocha_cli.qr_tokens import make_token


def add_ratings(db_path: Path, ratings: list[dict[str, Any]]) -> list[int]:
    """Import ratings as one batch; returns their row ids in order.

    Each rating: rated_at, window, level (a name or a code 1 = 非常不满意 … 5 = 非常满意); optional channel
    (a national channel, default 二维码), phone, comment, item, and token_ok: 1 carries the window's valid QR
    token, 0 a forged one (qr_token, default FORGED0000).
    """
    ctx = open_context(db_path, "city")
    try:
        start = ctx.db.execute("SELECT count(*) FROM ratings").fetchone()[0]
        length = int(ctx.config["qr.token_length"])
        records = []
        for i, r in enumerate(ratings, start + 1):
            level = r["level"] if isinstance(r["level"], str) else LEVELS[r["level"] - 1]
            record = {"rating_id": f"T{i:06d}", "rated_at": r["rated_at"], "window_code": r["window"],
                      "channel": r.get("channel", "二维码"), "item_code": r.get("item", "XK01"), "level": level}
            if r.get("phone"):
                record["rater_phone"] = r["phone"]
            if r.get("comment"):
                record["comment"] = r["comment"]
            if r.get("token_ok") == 1:
                record["qr_token"] = make_token(ctx.keys.qr_secret, r["window"], length)
            elif r.get("token_ok") == 0:
                record["qr_token"] = r.get("qr_token", "FORGED0000")
            records.append(record)
        summary = import_records(ctx, records, source="test", file_name="test.jsonl")
        assert (summary["accepted"], summary["rejected"]) == (len(records), 0), summary
        return list(summary["ids"])
    finally:
        ctx.db.close()
