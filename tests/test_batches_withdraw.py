"""`haocha batches withdraw`: a batch imported by mistake goes out as if it had never come in."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from import_support import NOW, good, write_csv
from support import ok
from typer.testing import CliRunner

from haocha_cli.cli import app
from haocha_cli.context import os_person

AGGREGATES = {
    "daily_agg": "SELECT day, window_code, item_code, channel, county_code, mode, n, l1, l2, l3, l4, l5, index_sum,"
                 " index_sq, excluded_n FROM daily_agg ORDER BY 1, 2, 3, 4",
    "daily_indicator_agg": "SELECT day, window_code, item_code, channel, indicator_code, county_code, mode, n,"
                           " score_sum, score_sq, level_sum, level_sq, cross_sum FROM daily_indicator_agg"
                           " ORDER BY 1, 2, 3, 4, 5",
}


def _state(db_path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db_path) as conn:
        state = {name: conn.execute(sql).fetchall() for name, sql in AGGREGATES.items()}
        state["ratings"] = conn.execute("SELECT rating_id FROM ratings ORDER BY rating_id").fetchall()
        state["cases"] = conn.execute("SELECT r.rating_id, c.state FROM cases c JOIN ratings r ON r.id = c.rating_id"
                                      " ORDER BY 1").fetchall()
        state["flags"] = conn.execute("SELECT r.rating_id, f.rule FROM flags f JOIN ratings r ON r.id = f.rating_id"
                                      " ORDER BY 1, 2").fetchall()
    return state


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert len(a[name]) == len(b[name]), name
        for x, y in zip(a[name], b[name], strict=True):
            assert x == pytest.approx(y, abs=1e-9), name


@pytest.fixture
def files(tmp_path):
    # A: a day at LC01; B: the same day and keys plus another, with bad reviews, scores and a busy phone.
    a = write_csv(tmp_path / "a.csv", [good(i, level=["满意", "不满意", "非常满意"][i % 3], C1=str(2 + i % 4))
                                       for i in range(1, 10)])
    b = write_csv(tmp_path / "b.csv", [
        *[good(100 + i, level=["非常不满意", "满意"][i % 2], C1=str(1 + i % 5), D1="3", rater_phone="13812345678")
          for i in range(6)],
        good(200, rated_at="2024-05-07 10:00:00", level="基本满意", A1="4")])
    return a, b


def test_a_withdrawn_batch_leaves_what_the_other_batches_made(db_path, tmp_path, files, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    a, b = files
    only_a = tmp_path / "only-a.db"
    shutil.copy(db_path, only_a)
    shutil.copy(str(db_path) + ".key", str(only_a) + ".key")
    runner = CliRunner()

    def cli(*args, db=db_path, operator="city"):
        return runner.invoke(app, ["--db", str(db), "--operator", operator, *args])

    ok(cli("import", str(a), db=only_a))
    ok(cli("import", str(a)))
    ok(cli("import", str(b)))
    both = _state(db_path)
    assert len(both["cases"]) == 3 + 3 and both["flags"]

    refused = cli("batches", "withdraw", "2", "--reason", "测试", operator="county:370213")
    assert refused.exit_code == 1 and "is the city bureau's (市局) task" in refused.stderr
    blank = cli("batches", "withdraw", "2", "--reason", "  ")
    assert blank.stderr == "Error: withdrawing a batch needs a reason (--reason) (e.g. --reason \"导入了错误的文件\")\n"

    result = ok(cli("batches", "withdraw", "2", "--reason", "导入了测试文件"))  # flags: 6 same phone, 6 burst
    assert result.stderr == ("batch 2 (b.csv) withdrawn: 7 ratings, 3 cases and 12 flags removed; the file can be"
                             " imported again\n")
    _same(_state(db_path), _state(only_a))  # aggregates, ratings, cases and flags: as if B never came
    listing = json.loads(ok(cli("batches", "list", "--format", "json")).stdout)
    assert [(x["batch"], x["withdrawn"]) for x in listing] == [(1, None), (2, NOW)]
    shown = json.loads(ok(cli("batches", "show", "2", "--format", "json")).stdout)
    assert (shown["withdrawn_by"], shown["withdraw_reason"]) == (f"city ({os_person()})", "导入了测试文件")
    assert shown["sha256"].startswith("withdrawn:2:")
    with sqlite3.connect(db_path) as conn:
        events = conn.execute("SELECT action, entity_id FROM audit_events WHERE action LIKE '%.withdraw'"
                              " ORDER BY id").fetchall()
    assert [e[0] for e in events] == ["case.withdraw"] * 3 + ["batch.withdraw"] and events[-1][1] == "2"
    assert ok(cli("audit", "verify")).stderr.startswith("audit trail intact")
    again = cli("batches", "withdraw", "2", "--reason", "再次")
    assert again.stderr == f"Error: batch 2 was withdrawn on {NOW} by city ({os_person()}) (nothing is left to withdraw)\n"

    # the file imports again, as a new batch, and everything is as it was with both
    assert json.loads(ok(cli("import", str(b), "--format", "json")).stdout)[0]["batch"] == 3
    _same(_state(db_path), both)


def test_a_batch_something_has_happened_to_is_not_withdrawn(db_path, files, cli, monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)
    a, b = files
    ok(cli("import", str(a)))
    ok(cli("import", str(b)))
    with sqlite3.connect(db_path) as conn:
        case = conn.execute("SELECT c.id FROM cases c JOIN ratings r ON r.id = c.rating_id WHERE r.batch_id = 2"
                            " ORDER BY c.id").fetchone()[0]
    ok(cli("cases", "classify", str(case), "rectifiable", operator="county:370213"))
    before = _state(db_path)
    result = cli("batches", "withdraw", "2", "--reason", "导入了测试文件")
    assert result.exit_code == 1
    assert result.stderr == ("Error: batch 2 (b.csv) cannot be withdrawn: 1 of its cases have been worked on by a"
                             " county (a batch is withdrawn only while nothing has happened to it; settle those"
                             " first)\n")
    assert _state(db_path) == before


# The tables a withdrawal deletes from: SQLite checks, for every row it deletes, the foreign keys that refer to it.
WITHDRAW_DELETES_FROM = ("rating_rows", "cases", "flags")


def test_every_foreign_key_to_what_a_withdrawal_deletes_has_an_index(db_path):
    """Without an index on the referring column, SQLite scans the referring table once per deleted row: 100,000
    ratings beside 150,000 spot-checks took 526 s holding the write lock (issue 17). A new table that refers to
    ratings, cases or flags fails here until it has its index."""
    with sqlite3.connect(db_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        referring = [(t, fk[3], fk[2]) for t in tables for fk in conn.execute(f"PRAGMA foreign_key_list({t})")
                     if fk[2] in WITHDRAW_DELETES_FROM]
        leading = {(t, conn.execute(f"PRAGMA index_info('{i[1]}')").fetchone()[2])
                   for t in tables for i in conn.execute(f"PRAGMA index_list({t})")}
    assert sorted(referring) == [("appeals", "case_id", "cases"), ("cases", "rating_id", "rating_rows"),
                                 ("cases", "rerate_rating_id", "rating_rows"),  # the 追评 that re-rated a case
                                 ("flags", "rating_id", "rating_rows"), ("spot_checks", "case_id", "cases"),
                                 ("spot_checks", "rating_id", "rating_rows")]
    assert [(t, column) for t, column, _ in referring if (t, column) not in leading] == []


def test_every_statement_of_a_withdrawal_finds_its_rows_by_an_index(db_path, files, cli, monkeypatch):
    """The query plan of every statement a withdrawal runs, its foreign-key checks included (SQLite shows them
    in a DELETE's plan), searches by an index and scans no table; so does the trigger that cancels the
    notifications of the withdrawn cases."""
    from haocha_cli.batches import withdraw_batch
    from haocha_cli.context import open_context

    monkeypatch.setenv("HAOCHA_NOW", NOW)
    a, b = files
    ok(cli("import", str(a)))
    ok(cli("import", str(b)))
    ctx = open_context(db_path, "city")
    try:
        statements: list[str] = []
        ctx.db.conn.set_trace_callback(statements.append)
        assert withdraw_batch(ctx, 2, "测试")["cases"] == 3
        ctx.db.conn.set_trace_callback(None)
        plans = {sql: [row[3] for row in ctx.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
                 for sql in statements if sql.lstrip().split(" ", 1)[0].upper() in ("SELECT", "UPDATE", "DELETE")}
        trigger = ctx.db.execute("SELECT sql FROM sqlite_master WHERE name = 'notifications_case_withdrawn'").fetchone()[0]
        cancel = trigger.split("BEGIN", 1)[1].rsplit("END", 1)[0].strip().rstrip(";").replace("OLD.id", "1")
        plans[cancel] = [row[3] for row in ctx.db.conn.execute(f"EXPLAIN QUERY PLAN {cancel}")]
    finally:
        ctx.db.close()
    assert {sql: plan for sql, plan in plans.items() if any(step.startswith("SCAN") for step in plan)} == {}
    delete_ratings = next(plan for sql, plan in plans.items() if sql.startswith("DELETE FROM rating_rows"))
    assert "SEARCH spot_checks USING COVERING INDEX spot_checks_rating (rating_id=?)" in delete_ratings
    assert "SEARCH rating_rows USING COVERING INDEX ratings_batch (batch_id=?)" in delete_ratings
    delete_cases = next(plan for sql, plan in plans.items() if sql.startswith("DELETE FROM cases"))
    assert "SEARCH spot_checks USING COVERING INDEX spot_checks_case (case_id=?)" in delete_cases
    assert plans[cancel] == ["SEARCH notifications USING INDEX notifications_waiting (case_id=?)"]
