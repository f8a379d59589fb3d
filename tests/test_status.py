"""`haocha status`: the figures of a small hand-made database, the to-do list, and a county's own view."""

from __future__ import annotations

import json
import os

from cases_support import add_ratings
from support import ok

from haocha_cli.db import schema_version

LC = "county:370213"


def _status(run, when, operator="city"):
    return json.loads(ok(run(when, "status", "--format", "json", operator=operator)).stdout)


def test_status_counts_what_waits_and_says_what_to_do(db_path, run):
    add_ratings(db_path, [
        {"rated_at": "2026-03-02 10:00:00", "window": "LC01", "level": "不满意", "phone": "13812341234"},
        {"rated_at": "2026-03-02 11:00:00", "window": "LC01", "level": "满意"},
        {"rated_at": "2026-03-02 12:00:00", "window": "SN01", "level": "非常不满意"},
    ])
    # Monday 2026-03-02: the return visit of case 1 is due on the 3rd, rectification (15 working days) the 23rd.
    early = _status(run, "2026-03-02 15:00:00")
    assert {k: early[k] for k in ("ratings", "batches", "open_cases", "overdue", "due_soon", "revisits_late",
                                  "waiting_for_city", "schema")} == {
        "ratings": 3, "batches": 1, "open_cases": 2, "overdue": 0, "due_soon": 0, "revisits_late": 0,
        "waiting_for_city": 0, "schema": f"{schema_version()} of {schema_version()}"}
    assert early["to_do"] == []
    ok(run("2026-03-02 16:00:00", "cases", "classify", "2", "no-action", "--reason", "误评", operator="county:370202"))
    late = _status(run, "2026-03-20 09:00:00")  # Friday: the 23rd is 1 working day away
    assert {k: late[k] for k in ("open_cases", "overdue", "due_soon", "revisits_late", "waiting_for_city")} == {
        "open_cases": 2, "overdue": 0, "due_soon": 2, "revisits_late": 1, "waiting_for_city": 1}
    assert late["to_do"] == [
        "1 real-name bad review(s) not return-visited in time: haocha cases list",
        "1 case(s) wait for the city (no-action approvals, appeals): haocha cases list --status awaiting_approval,"
        " and --status appealed"]
    after = _status(run, "2026-03-24 09:00:00")
    assert (after["overdue"], after["to_do"][0]) == (
        2, "2 case(s) past their rectification deadline: haocha cases list --status open")
    # a county sees its own cases only, and nothing that waits for the city
    county = _status(run, "2026-03-24 09:00:00", operator=LC)
    assert (county["open_cases"], county["overdue"], county["operator"]) == (1, 1, LC)
    assert not any("wait for the city" in line for line in county["to_do"])


def test_status_says_when_the_key_file_is_missing(db_path, run):
    os.rename(str(db_path) + ".key", str(db_path) + ".key.moved")
    data = _status(run, "2026-03-02 15:00:00")
    assert data["key_file"] == "missing"
    assert data["to_do"][-1] == (f"the key file {db_path}.key is missing; the phone numbers in {db_path} cannot be"
                                 " read without it (restore it from the backup: `haocha backup` copies it beside the"
                                 " backup, as <backup>.key)")
    table = ok(run("2026-03-02 15:00:00", "status"))
    assert "to do: the key file" in table.stderr and "│ 评价数" in table.stdout and "│ 密钥文件 " in table.stdout


def test_status_counts_the_ratings_without_scanning_them(db_path, run):
    # The count comes from the batches (and a county's from its daily aggregates), the first and last time
    # through an index (issue 22): the same figures as counting the ratings, after a withdrawal and an exclusion.
    import sqlite_utils

    from haocha_cli.ratings import exclude_rating

    add_ratings(db_path, [{"rated_at": "2026-03-02 10:00:00", "window": "LC01", "level": "满意"},
                          {"rated_at": "2026-03-03 11:00:00", "window": "SN01", "level": "满意"}])
    add_ratings(db_path, [{"rated_at": "2026-02-27 09:00:00", "window": "LC01", "level": "满意"},
                          {"rated_at": "2026-03-05 16:00:00", "window": "LC01", "level": "满意"}])
    add_ratings(db_path, [{"rated_at": "2026-03-04 10:00:00", "window": "LC02", "level": "基本满意"}])
    ok(run("2026-03-06 09:00:00", "batches", "withdraw", "3", "--reason", "导入了测试文件"))
    db = sqlite_utils.Database(db_path)
    exclude_rating(db, 1, "appeal_upheld")  # kept, not counted: still a rating in the database
    db.conn.commit()
    city, county = _status(run, "2026-03-06 09:00:00"), _status(run, "2026-03-06 09:00:00", operator=LC)
    counted = db.execute("SELECT count(*), min(rated_at), max(rated_at) FROM ratings").fetchone()
    assert (city["ratings"], city["rated_from"], city["rated_to"]) == counted == (4, "2026-02-27 09:00:00",
                                                                                   "2026-03-05 16:00:00")
    assert (county["ratings"], county["rated_from"], county["rated_to"]) == db.execute(
        "SELECT count(*), min(rated_at), max(rated_at) FROM ratings WHERE county_code = '370213'").fetchone()
