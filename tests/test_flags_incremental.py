"""One submission's flags (issue 22): the rating page checks a new rating against the rater's phone's, the
window's and the comment's ratings through indexes, not the whole day; the flags are the ones the day's
scan raises, for every rule, with the same evidence."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3

import pytest

from haocha_cli import flags
from haocha_cli.context import open_context
from haocha_cli.errors import InvalidInput
from haocha_cli.flags import RULES
from haocha_cli.importer import import_records
from haocha_cli.privacy import load_keys
from haocha_cli.qr_tokens import make_token

DAY = "2024-05-15"  # a Wednesday, a working day
ROTATED = "2024-05-06 09:00:00"  # the QR secret rotated: the old stickers are in their grace period on DAY
HALL = "政务大厅平板电脑"


def _earlier() -> list[dict]:
    """Commented ratings of the days before, that the repeated-comment rule looks back on."""
    return [
        {"rated_at": "2024-05-01 10:00:00", "window_code": "LC01", "comment": "窗口服务热情周到，办事效率很高！"},
        {"rated_at": "2024-05-10 11:00:00", "window_code": "SN01", "comment": "窗口服务热情周到 办事效率很高!!"},
        {"rated_at": "2024-04-10 11:00:00", "window_code": "SN01", "comment": "材料一次告知清楚，非常感谢"},  # too early
        {"rated_at": "2024-05-14 09:00:00", "window_code": "LC01", "rater_phone": "13700000003"},
    ]


def _day(old_token: str, new_token: str) -> list[dict]:
    """DAY's ratings, with every rule's pattern and near misses, in no particular order of time."""
    rng = random.Random(22)
    rows: list[dict] = []
    # bursts that form, grow and merge at two offline windows (and a rating at an online window: never one)
    for window, count in (("LC02", 30), ("HD01", 20)):
        for _ in range(count):
            minute = rng.randrange(9 * 60, 10 * 60 + 40)
            rows.append({"rated_at": f"{DAY} {minute // 60:02d}:{minute % 60:02d}:{rng.randrange(60):02d}",
                         "window_code": window})
    rows += [{"rated_at": f"{DAY} 21:0{m}:00", "window_code": "LCWS", "channel": "PC端"} for m in range(6)]
    # a burst that runs all afternoon at SN02 (one rating every 2 minutes for three hours: a submission's
    # read of the window widens until it finds the gaps around it), with an isolated rating 11 minutes after it
    rows += [{"rated_at": f"{DAY} {13 + m // 30:02d}:{m * 2 % 60:02d}:30", "window_code": "SN02"} for m in range(90)]
    rows += [{"rated_at": f"{DAY} 16:09:30", "window_code": "SN02"}, {"rated_at": f"{DAY} 12:45:00", "window_code": "SN02"}]
    # same_phone: four from one phone, two from another (near miss), a third phone once today and once yesterday
    rows += [{"rated_at": f"{DAY} {h}:10:00", "window_code": w, "rater_phone": "13812345678"}
             for h, w in (("09", "LC01"), ("14", "SN01"), ("15", "HD01"), ("16", "LC01"))]
    rows += [{"rated_at": f"{DAY} {h}:15:00", "window_code": "SN01", "rater_phone": "13655550001"} for h in ("10", "11")]
    rows += [{"rated_at": f"{DAY} 10:40:00", "window_code": "LC01", "rater_phone": "13700000003"}]
    # off_hours: a hall device in the evening, another within the opening hours
    rows += [{"rated_at": f"{DAY} 19:30:00", "window_code": "LC01", "channel": HALL},
             {"rated_at": f"{DAY} 10:30:00", "window_code": "LC01", "channel": HALL}]
    # staff_phone: a staff member's phone, and a phone that is not
    rows += [{"rated_at": f"{DAY} 10:05:00", "window_code": "SN01", "rater_phone": "13900000401"},
             {"rated_at": f"{DAY} 10:06:00", "window_code": "SN01", "rater_phone": "13900000499"}]
    # repeated_comment: a third time after two earlier days; another text twice today and once too early
    rows += [{"rated_at": f"{DAY} 10:01:00", "window_code": "HD01", "comment": "<b>窗口服务热情周到，办事效率很高</b>"},
             {"rated_at": f"{DAY} 10:02:00", "window_code": "LC01", "comment": "材料一次告知清楚，非常感谢"},
             {"rated_at": f"{DAY} 10:03:00", "window_code": "SN01", "comment": "材料一次告知清楚 非常感谢。"},
             {"rated_at": f"{DAY} 10:04:00", "window_code": "SN01", "comment": "很好"}]
    # bad_token, old_token, and a good token
    rows += [{"rated_at": f"{DAY} 10:07:00", "window_code": "HD01", "qr_token": "AAAAAAAAAA"},
             {"rated_at": f"{DAY} 10:08:00", "window_code": "LC01", "qr_token": old_token},
             {"rated_at": f"{DAY} 10:09:00", "window_code": "LC01", "qr_token": new_token}]
    # followup_orphan: a 追评 whose first rating is not in the database, and one whose first rating is
    rows += [{"rated_at": f"{DAY} 11:20:00", "window_code": "SN01", "case_no": "BJ001", "rating_round": "2"},
             {"rated_at": f"{DAY} 09:20:00", "window_code": "SN01", "case_no": "BJ002", "rating_round": "1"},
             {"rated_at": f"{DAY} 11:21:00", "window_code": "SN01", "case_no": "BJ002", "rating_round": "2"}]
    rng.shuffle(rows)
    return rows


def _records(rows: list[dict], prefix: str) -> list[dict]:
    return [{"rating_id": f"{prefix}{i:04d}", "channel": "二维码", "item_code": "XK01", "level": "满意", **r}
            for i, r in enumerate(rows, 1)]


def _import(db_path, batches: list[list[dict]]) -> None:
    ctx = open_context(db_path, "city")
    try:
        for records in batches:
            summary = import_records(ctx, records, source="test", file_name="test.jsonl")
            assert (summary["accepted"], summary["rejected"]) == (len(records), 0), summary
    finally:
        ctx.db.close()


def _flags(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT r.rating_id, f.rule, f.day, f.county_code, f.window_code, f.evidence"
                            " FROM flags f JOIN ratings r ON r.id = f.rating_id ORDER BY r.rating_id, f.rule").fetchall()


def test_one_submission_raises_what_the_days_scan_raises_for_every_rule(run, db_path, tmp_path, monkeypatch):
    assert run(ROTATED, "qr", "rotate", "--yes").exit_code == 0
    monkeypatch.setenv("HAOCHA_NOW", f"{DAY} 22:00:00")
    keys = load_keys(db_path)
    old = make_token(keys.qr_previous, "LC01")
    new = make_token(keys.qr_secret, "LC01")
    twin = tmp_path / "twin.db"
    shutil.copy(db_path, twin)
    shutil.copy(str(db_path) + ".key", str(twin) + ".key")
    earlier, day = _records(_earlier(), "E"), _records(_day(old, new), "D")

    # The reference: each rating in its own batch, the day scanned whole after each (as before issue 22).
    with monkeypatch.context() as m:
        m.setattr(flags, "INCREMENTAL_MAX", 0)
        _import(twin, [earlier, *([r] for r in day)])

    # The rating page's way: each submission checked by itself, and never the day's scan.
    _import(db_path, [earlier])
    scans = []
    with monkeypatch.context() as m:
        m.setattr(flags, "scan_flags", lambda *a: scans.append(a))
        _import(db_path, [[r] for r in day])
    assert scans == []

    raised = _flags(db_path)
    assert raised == _flags(twin)  # the same ratings, rules, days and evidence
    assert {rule for _, rule, *_ in raised} == set(RULES)  # every rule has hits here
    assert ("E0001", "repeated_comment") in {(r, rule) for r, rule, *_ in raised}  # an earlier day's rating too
    # and the day's scan finds nothing more
    result = run(f"{DAY} 22:00:00", "flags", "scan", "--period", DAY, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new_total"] == 0


def test_new_ratings_of_several_days_are_refused_as_one_check(db_path):
    _import(db_path, [_records(_earlier(), "E")])
    ctx = open_context(db_path, "city")
    try:
        with pytest.raises(InvalidInput) as err:
            flags.find_new_flags(ctx, [1, 2])  # 2024-05-01 and 2024-05-10: the importer scans such batches
    finally:
        ctx.db.close()
    assert str(err.value) == "the new ratings checked together must be of one day (scan their days instead)"
