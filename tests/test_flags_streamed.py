"""The flag scan of a large batch in day order (issue 22): each block of days is scanned from the batch's rows
the importer holds, plus the days' ratings stored before, instead of reading the days back from the table.
The flags are those the table's scan raises, rule by rule, with the same evidence; scanning the period again
finds nothing new; and the same file out of day order flags the same ratings by the same rules."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from datetime import date, timedelta

from haocha_cli import importer
from haocha_cli.context import open_context
from haocha_cli.importer import import_records

FIRST = date(2024, 4, 1)
COMMENTS = ["窗口服务热情周到，办事效率很高！", "材料一次告知清楚，非常感谢", "等候时间太长了，希望改进一下", "很好"]


def _rows(rng: random.Random, days: int, prefix: str) -> list[dict]:
    """Ratings over ``days`` days from FIRST, in time order: bursts, phones several times a day, comments
    repeated across the days (and the blocks), hall devices in the evening."""
    rows = []
    for d in range(days):
        day = FIRST + timedelta(days=d)
        for _ in range(rng.randrange(5, 30)):
            minute = rng.randrange(9 * 60, 17 * 60) if rng.random() < 0.9 else rng.randrange(18 * 60, 22 * 60)
            row = {"rated_at": f"{day} {minute // 60:02d}:{minute % 60:02d}:{rng.randrange(60):02d}",
                   "window_code": rng.choice(["LC01", "LC02", "SN01", "HD01", "LCWS"])}
            row["channel"] = "PC端" if row["window_code"] == "LCWS" else rng.choice(["二维码", "政务大厅平板电脑"])
            if rng.random() < 0.3:
                row["rater_phone"] = f"1380000{rng.randrange(8):04d}"
            if rng.random() < 0.05:
                row["comment"] = rng.choice(COMMENTS)
            rows.append(row)
        if d % 7 == 3:  # a QR token that does not verify
            rows.append({"rated_at": f"{day} 11:11:11", "window_code": "LC01", "channel": "二维码",
                         "qr_token": "AAAAAAAAAA"})
        if d % 5 == 2:  # a burst at a counter
            rows += [{"rated_at": f"{day} 10:{m:02d}:00", "window_code": "HD01", "channel": "二维码"} for m in range(6)]
    rows.sort(key=lambda r: r["rated_at"])
    return [{"rating_id": f"{prefix}{i:05d}", "item_code": "XK01", "level": "满意", **r} for i, r in enumerate(rows, 1)]


def _import(db_path, records: list[dict], source: str) -> dict:
    ctx = open_context(db_path, "city")
    try:
        summary = import_records(ctx, records, source=source, file_name="test.jsonl")
        assert (summary["accepted"], summary["rejected"]) == (len(records), 0), summary
        return summary
    finally:
        ctx.db.close()


def _flags(db_path) -> list[tuple]:
    """Each flag by its rating's source and rating id, the evidence's ratings named so too (the row ids of the
    same ratings differ between the two databases)."""
    with sqlite3.connect(db_path) as conn:
        named = {i: f"{s}/{r}" for i, s, r in conn.execute("SELECT id, source, rating_id FROM ratings")}
        flags = []
        for row in conn.execute("SELECT r.source, r.rating_id, f.rule, f.day, f.county_code, f.window_code,"
                                " f.evidence FROM flags f JOIN ratings r ON r.id = f.rating_id"
                                " ORDER BY r.source, r.rating_id, f.rule"):
            evidence = json.loads(row[-1])
            if "ratings" in evidence:
                evidence["ratings"] = sorted(named[i] for i in evidence["ratings"])
            flags.append((*row[:-1], evidence))
        return flags


def test_a_batch_in_day_order_is_flagged_as_the_tables_scan_flags_it(run, db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", "2024-06-30 22:00:00")
    rng = random.Random(22)
    stored = _rows(rng, 12, "E")[::3]  # ratings of the same days stored before, by another channel
    batch = _rows(rng, 40, "B")  # six blocks of seven days
    _import(db_path, stored, "other")
    twin, shuffled_db = tmp_path / "twin.db", tmp_path / "shuffled.db"
    for copy in (twin, shuffled_db):
        shutil.copy(db_path, copy)
        shutil.copy(str(db_path) + ".key", str(copy) + ".key")

    before = len(_flags(db_path))
    summary = _import(db_path, batch, "test")
    with monkeypatch.context() as m:  # the reference: the batch's days read back from the table at the end
        m.setattr(importer._Job, "_hold_for_flags", lambda job, group: setattr(job, "flag_stream", False))
        _import(twin, batch, "test")
    shuffled = list(batch)
    random.Random(1).shuffle(shuffled)  # out of day order: scanned from the table at the end as well
    _import(shuffled_db, shuffled, "test")

    raised = _flags(db_path)
    assert raised == _flags(twin)
    assert {f[:3] for f in _flags(shuffled_db)} == {f[:3] for f in raised}
    assert summary["flags_raised"] == len(raised) - before > 0
    rules = {rule for _, _, rule, *_ in raised}
    assert {"same_phone", "burst", "off_hours", "repeated_comment", "bad_token"} <= rules
    # a comment repeated across two blocks, and a phone's day shared with the stored ratings, are flagged
    assert any(rule == "repeated_comment" and ev["count"] >= 3 for _, _, rule, _, _, _, ev in raised)
    result = run("2024-06-30 22:00:00", "flags", "scan", "--period", "2024-04", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new_total"] == 0

