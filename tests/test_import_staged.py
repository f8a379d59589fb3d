"""A staged import (issue 22, migration 13): a file's batch is written in short transactions while it is read,
and nobody sees any of it until its last one. Meanwhile the rating page writes, and readers see the database as
it was; a staged batch stores exactly what the same file imported in one transaction stores; a batch whose
import died is removed at the next open; a second import waits for the first to finish."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from datetime import date, timedelta

import pytest
from import_support import row, write_csv
from support import ok

from haocha_cli import import_writer, importer, staging
from haocha_cli.batches import withdraw_batch
from haocha_cli.context import open_context
from haocha_cli.db import transaction
from haocha_cli.errors import InvalidTransition
from haocha_cli.importer import import_file, import_records, list_batches
from haocha_cli.ratings import exclude_rating
from haocha_cli.status import status

NOW = "2024-06-30 22:00:00"
FIRST = date(2024, 4, 1)
COMMENTS = ["窗口服务热情周到，办事效率很高！", "材料一次告知清楚，非常感谢", "等候时间太长了，希望改进一下", "很好"]


def _file(path, days: int = 30, seed: int = 22):
    """A channel's file over ``days`` days in time order: bad reviews (some real-name, some with problems
    ticked), 追评 of earlier service cases, bursts at a counter, phones several times a day, repeated comments,
    a duplicate row and a rejected one."""
    rng = random.Random(seed)
    rows, n, followed = [], 0, set()
    for d in range(days):
        day = FIRST + timedelta(days=d)
        for _ in range(rng.randrange(10, 40)):
            n += 1
            minute = rng.randrange(9 * 60, 17 * 60) if rng.random() < 0.9 else rng.randrange(18 * 60, 22 * 60)
            window = rng.choice(["LC01", "LC02", "SN01", "HD01"])
            values = {"rating_id": f"F{n:05d}", "rated_at": f"{day} {minute // 60:02d}:{minute % 60:02d}:{rng.randrange(60):02d}",
                      "window_code": window, "channel": rng.choice(["二维码", "窗口评价器"]), "item_code": "XK01",
                      "level": rng.choice(["满意"] * 6 + ["非常满意"] * 3 + ["不满意", "非常不满意", "基本满意"])}
            if rng.random() < 0.3:
                values["rater_phone"] = f"1380000{rng.randrange(8):04d}"
                values["anonymous"] = "否"
            if values["level"] in ("不满意", "非常不满意") and rng.random() < 0.5:
                values["problems"] = "C1"
            if rng.random() < 0.05:
                values["comment"] = rng.choice(COMMENTS)
            if rng.random() < 0.2:
                values["case_no"] = f"BJ{d:03d}{n:05d}"
                values["A1"] = str(rng.randrange(1, 6))
            rows.append(values)
        if d % 5 == 2:  # a burst at a counter
            for m in range(6):
                n += 1
                rows.append({"rating_id": f"F{n:05d}", "rated_at": f"{day} 10:{m:02d}:00", "window_code": "HD01",
                             "channel": "二维码", "item_code": "XK01", "level": "满意"})
        if d % 7 == 6:  # a 追评 of a case of earlier in the file
            earlier = next(r for r in rows if r.get("case_no") and r.get("rating_round") != "2"
                           and r["case_no"] not in followed)
            followed.add(earlier["case_no"])
            n += 1
            rows.append({"rating_id": f"F{n:05d}", "rated_at": f"{day} 16:00:00", "window_code": earlier["window_code"],
                         "channel": "二维码", "item_code": "XK01", "level": "不满意", "case_no": earlier["case_no"],
                         "rating_round": "2"})
    rows.sort(key=lambda r: r["rated_at"])
    rows.append(dict(rows[5]))  # the same rating twice in the file
    rows.append({"rating_id": "BAD1", "rated_at": f"{FIRST} 10:00:00", "window_code": "QD99", "channel": "二维码",
                 "item_code": "XK01", "level": "满意"})  # a window of another city
    return write_csv(path, [row(**r) for r in rows])


def _stored(db_path) -> dict:
    """What a user would compare between two databases, rating row ids replaced by source/rating id."""
    with sqlite3.connect(db_path) as conn:
        named = {i: f"{s}/{r}" for i, s, r in conn.execute("SELECT id, source, rating_id FROM ratings")}
        ratings = conn.execute(
            "SELECT r.source, r.rating_id, r.line, r.rated_at, r.window_code, r.level, round(r.rating_index, 6),"
            " r.scores, r.problems, r.case_no, r.rating_round, r.comment, r.anonymous, k.phone_masked"
            " FROM ratings r LEFT JOIN contacts k ON k.id = r.contact_id ORDER BY r.source, r.rating_id").fetchall()
        agg = conn.execute(
            "SELECT day, window_code, item_code, channel, sum(n), sum(l1), sum(l2), sum(l3), sum(l4), sum(l5),"
            " round(sum(index_sum), 6), sum(excluded_n) FROM daily_agg GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4").fetchall()
        ind = conn.execute(
            "SELECT day, window_code, item_code, channel, indicator_code, sum(n), sum(score_sum), sum(cross_sum)"
            " FROM daily_indicator_agg GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5").fetchall()
        cases = [(named[rid], *rest) for rid, *rest in conn.execute(
            "SELECT rating_id, state, rectify_due, revisit_due, real_name, post, rerate_source, rerate_level"
            " FROM cases ORDER BY rating_id")]
        flags = []
        for rid, rule, evidence in conn.execute("SELECT rating_id, rule, evidence FROM flags"):
            evidence = json.loads(evidence)
            if "ratings" in evidence:
                evidence["ratings"] = sorted(named[i] for i in evidence["ratings"])
            flags.append((named[rid], rule, json.dumps(evidence, sort_keys=True, ensure_ascii=False)))
        events = conn.execute("SELECT action, count(*) FROM audit_events GROUP BY action ORDER BY action").fetchall()
        rejects = conn.execute("SELECT line, code FROM rejects ORDER BY line").fetchall()
        batches = conn.execute("SELECT rows_read, accepted, rejected, duplicate FROM batches").fetchall()
    return {"ratings": ratings, "agg": agg, "ind": ind, "cases": cases, "flags": sorted(flags), "events": events,
            "rejects": rejects, "batches": batches}


def _twin(db_path, tmp_path, name="twin.db"):
    twin = tmp_path / name
    shutil.copy(db_path, twin)
    shutil.copy(str(db_path) + ".key", str(twin) + ".key")
    return twin


def test_a_staged_batch_stores_what_the_same_file_in_one_transaction_stores(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    monkeypatch.setattr(import_writer, "GROUP_ROWS", 50)  # many short transactions, several aggregate flushes
    monkeypatch.setattr(import_writer, "STAGE_ROWS", 120)
    monkeypatch.setattr(import_writer, "AGG_FLUSH_KEYS", 60)
    monkeypatch.setattr(import_writer, "CASE_FLUSH", 7)
    path = _file(tmp_path / "channel.csv")
    twin = _twin(db_path, tmp_path)
    ctx = open_context(db_path, "city")
    try:
        staged = import_file(ctx, path)
        assert ctx.db.execute("SELECT staged FROM batches").fetchone()[0] == 1
    finally:
        ctx.db.close()
    ctx = open_context(twin, "city")
    try:
        with transaction(ctx.db):  # inside the caller's transaction: one transaction, as before migration 13
            whole = import_file(ctx, path)
        assert ctx.db.execute("SELECT staged FROM batches").fetchone()[0] == 0
    finally:
        ctx.db.close()
    staged.pop("seconds"), whole.pop("seconds")
    assert staged == whole
    assert staged["cases_opened"] > 20 and staged["flags_raised"] > 20 and staged["duplicate"] == 0
    assert staged["reasons"] == {"duplicate_in_file": 1, "window_unknown": 1}
    assert staged["cases_rerated"] == 0
    assert _stored(db_path) == _stored(twin)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM pending_imports").fetchone()[0] == 0
        assert conn.execute("SELECT DISTINCT part FROM daily_agg_rows").fetchall() == [(1,)]  # its own part
    excluded = _twin(db_path, tmp_path, "excluded.db")
    ctx = open_context(excluded, "city")
    try:  # an upheld appeal takes a rating of the staged batch out of its own part of the aggregates
        rating = ctx.db.execute("SELECT id, day, window_code FROM ratings WHERE level = 1 LIMIT 1").fetchone()
        figures = ("SELECT sum(n), sum(l1), sum(excluded_n) FROM daily_agg WHERE day = ? AND window_code = ?")
        before = ctx.db.execute(figures, rating[1:]).fetchone()
        exclude_rating(ctx.db, rating[0], "appeal_upheld")
        assert ctx.db.execute(figures, rating[1:]).fetchone() == (before[0] - 1, before[1] - 1, before[2] + 1)
    finally:
        ctx.db.close()
    ctx = open_context(db_path, "city")
    try:  # and withdrawing it leaves nothing behind
        ctx.db.execute("DELETE FROM flags")  # flags do not block a withdrawal; cases untouched do not
        withdraw_batch(ctx, 1, "测试")
    finally:
        ctx.db.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM rating_rows").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM daily_agg_rows").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM daily_indicator_agg_rows").fetchone()[0] == 0


def _import_file(db_path, path) -> dict:
    """`import_file` of ``path`` as the city, in a connection of its own (as `haocha import` runs it)."""
    ctx = open_context(db_path, "city")
    try:
        return import_file(ctx, path)
    finally:
        ctx.db.close()


def _pause_after(monkeypatch, groups: int, action):
    """Run ``action(job)`` once, after the import's ``groups``-th short transaction of rows (STAGE_ROWS) is
    written."""
    real = importer._Job._consume
    seen = {"n": 0}

    def consume(job, messages, progress):
        real(job, messages, progress)
        seen["n"] += 1
        if seen["n"] == groups:
            action(job)

    monkeypatch.setattr(importer._Job, "_consume", consume)


def test_while_a_file_is_imported_readers_see_nothing_of_it_and_the_rating_page_writes(db_path, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    monkeypatch.setattr(import_writer, "GROUP_ROWS", 40)
    monkeypatch.setattr(import_writer, "STAGE_ROWS", 40)  # a short transaction per group
    path = _file(tmp_path / "channel.csv")
    seen = {}

    def meanwhile(job):
        assert not job.conn.in_transaction  # between two short transactions: the lock is free
        with sqlite3.connect(db_path) as conn:
            seen["stored"] = conn.execute("SELECT count(*) FROM rating_rows").fetchone()[0]
            seen["visible"] = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
            seen["agg"] = conn.execute("SELECT coalesce(sum(n), 0) FROM daily_agg").fetchone()[0]
            seen["v_ratings"] = conn.execute("SELECT count(*) FROM v_ratings").fetchone()[0]
            seen["cases"] = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
            seen["accepted"] = conn.execute("SELECT coalesce(sum(accepted), 0) FROM batches").fetchone()[0]
        page = open_context(db_path, "city")  # the rating page's own connection
        try:
            page.db.conn.execute("PRAGMA busy_timeout = 200")  # it must not have to wait for the import
            seen["page"] = import_records(page, [{"rating_id": "P1", "rated_at": "2024-04-03 10:00:00",
                                                  "window_code": "LC01", "channel": "二维码", "item_code": "XK01",
                                                  "level": "非常不满意"}], source="serve", file_name="serve:1")
            seen["status"] = page.db.execute("SELECT count(*) FROM ratings").fetchone()[0]
            seen["running"] = status(page)
            with pytest.raises(InvalidTransition, match=r"^batch 1 \(channel.csv\) is still being imported \(wait until its import"):
                withdraw_batch(page, 1, "测试")
            seen["batches"] = list_batches(page)
        finally:
            page.db.close()

    _pause_after(monkeypatch, 5, meanwhile)
    summary = _import_file(db_path, path)
    assert seen["stored"] >= 5 * 40 - 2  # written, committed …
    assert (seen["visible"], seen["agg"], seen["v_ratings"], seen["cases"], seen["accepted"]) == (0, 0, 0, 0, 0)
    assert seen["page"]["accepted"] == 1 and seen["page"]["cases_opened"] == 1
    assert seen["status"] == 1  # the page's rating is visible at once; the file's are not
    assert seen["running"]["import_running"].startswith("since 2024-06-30 22:00:00 (process ")
    assert (seen["running"]["batches"], seen["running"]["ratings"]) == (1, 1)  # the page's own batch
    assert [b["file_name"] for b in seen["batches"]] == ["serve:1"]
    with sqlite3.connect(db_path) as conn:
        ids = dict(conn.execute("SELECT source = 'serve', max(id) FROM ratings GROUP BY 1").fetchall())
        total = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
        agg = conn.execute("SELECT sum(n) FROM daily_agg").fetchone()[0]
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    assert total == summary["accepted"] + 1 == agg
    assert cases == summary["cases_opened"] + 1
    assert ids[1] > ids[0]  # the page's rating took an id after those the file reserved


def test_an_import_that_fails_half_way_leaves_nothing(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    monkeypatch.setattr(import_writer, "GROUP_ROWS", 40)
    monkeypatch.setattr(import_writer, "STAGE_ROWS", 40)
    path = _file(tmp_path / "channel.csv")

    def fail(job):
        raise importer.InvalidInput("the file broke off", "export it again")

    _pause_after(monkeypatch, 6, fail)
    ctx = open_context(db_path, "city")
    try:
        with pytest.raises(importer.InvalidInput, match="the file broke off"):
            import_file(ctx, path)
    finally:
        ctx.db.close()
    with sqlite3.connect(db_path) as conn:
        for table in ("rating_rows", "daily_agg_rows", "daily_indicator_agg_rows", "rejects", "batches", "cases",
                      "flags", "pending_imports"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_a_batch_whose_import_died_is_invisible_and_removed_at_the_next_open(db_path, tmp_path, monkeypatch, cli):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    monkeypatch.setattr(import_writer, "GROUP_ROWS", 40)
    path = _file(tmp_path / "channel.csv")

    monkeypatch.setattr(import_writer, "STAGE_ROWS", 40)

    class Killed(BaseException):
        pass

    def die(job):
        raise Killed

    with monkeypatch.context() as m:  # a kill -9: nothing of the import's own clean-up runs
        m.setattr(staging, "clear_locked", lambda db: None)
        _pause_after(m, 6, die)
        ctx = open_context(db_path, "city")
        try:
            with pytest.raises(Killed):
                import_file(ctx, path)
        finally:
            ctx.db.close()
    with sqlite3.connect(db_path) as conn:  # left behind, and invisible
        assert conn.execute("SELECT count(*) FROM rating_rows").fetchone()[0] >= 6 * 40 - 2
        assert conn.execute("SELECT count(*) FROM pending_imports").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM daily_agg").fetchone()[0] == 0
    status = json.loads(ok(cli("status", "--format", "json")).stdout)  # the next command opens the database
    assert status["ratings"] == 0
    with sqlite3.connect(db_path) as conn:
        for table in ("rating_rows", "daily_agg_rows", "daily_indicator_agg_rows", "rejects", "batches",
                      "pending_imports"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    result = ok(cli("import", str(path)))  # and the file imports whole
    assert "imported" in result.stderr + result.stdout
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] > 6 * 40


def test_a_second_import_while_one_runs_is_refused_and_changes_nothing(db_path, tmp_path, cli):
    path = _file(tmp_path / "channel.csv", days=3)
    with staging.import_lock(db_path):  # another process's import holds the lock
        result = cli("import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: channel.csv: another import into this database is running")
    assert "wait until it has finished" in result.stderr
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 0
    ok(cli("import", str(path)))  # once it has finished


def test_the_same_file_again_while_it_is_being_imported_is_refused_not_taken_as_done(db_path, tmp_path, monkeypatch,
                                                                                       cli):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    monkeypatch.setattr(import_writer, "GROUP_ROWS", 40)
    monkeypatch.setattr(import_writer, "STAGE_ROWS", 40)
    path = _file(tmp_path / "channel.csv")
    seen = {}

    def again(job):
        seen["result"] = cli("import", str(path))

    _pause_after(monkeypatch, 3, again)
    summary = _import_file(db_path, path)
    result = seen["result"]
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: channel.csv: another import into this database is running")
    assert summary["status"] == "imported" and summary["batch"] == 1
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 1
