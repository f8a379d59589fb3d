"""一事一评 (issue 18): one first rating and one 追评 per service case (办件编号) and source; a second one is
rejected case_rated_twice naming the earlier rating, in one file, across files and across groups of rows; a
追评 whose first rating is not in the database is accepted and flagged followup_orphan."""

from __future__ import annotations

import json

import pytest
from import_support import NOW, good, query, write_csv
from support import imported, ok

from haocha_cli.flags import RULE_NAMES, RULES


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setenv("HAOCHA_NOW", NOW)


def rejects(db_path, batch: int) -> list[tuple]:
    return query(db_path, "SELECT line, code, reason FROM rejects WHERE batch_id = ? ORDER BY line", (batch,))


def test_three_first_ratings_and_two_follow_ups_of_one_case_leave_one_of_each(cli, db_path, tmp_path):
    # The example: all five were accepted; only the burst flag noticed.
    path = write_csv(tmp_path / "bxj1.csv", [
        good(1, case_no="BXJ1", rating_round="1"), good(2, case_no="BXJ1", rating_round="1"),
        good(3, case_no="BXJ1", rating_round="首次", level="非常满意"),
        good(4, case_no="BXJ1", rating_round="2", level="不满意"), good(5, case_no="BXJ1", rating_round="追评"),
    ])
    [summary] = imported(cli, str(path))
    assert (summary["accepted"], summary["rejected"], summary["reasons"]) == (2, 3, {"case_rated_twice": 3})
    assert query(db_path, "SELECT rating_id, rating_round FROM ratings ORDER BY id") == [("R00001", 1), ("R00004", 2)]
    first = "办件 BXJ1 already has a first rating from canonical (一事一评): rating R00001, earlier in this file (line 2)"
    again = ("办件 BXJ1 already has a follow-up rating (追评) from canonical (一事一评): rating R00004, earlier in this"
             " file (line 5)")
    assert rejects(db_path, 1) == [(3, "case_rated_twice", first), (4, "case_rated_twice", first),
                                   (6, "case_rated_twice", again)]
    # The 追评 is a bad review: it opens its case, the refused ones open none.
    assert query(db_path, "SELECT r.rating_id FROM cases c JOIN ratings r ON r.id = c.rating_id") == [("R00004",)]


def test_a_later_file_is_refused_naming_the_earlier_rating_and_its_batch(cli, db_path, tmp_path):
    imported(cli, str(write_csv(tmp_path / "monday.csv", [
        good(1, case_no="BJ20240506001"), good(2, case_no="BJ20240506001", rating_round="2")])))
    later = write_csv(tmp_path / "tuesday.csv", [
        good(1, case_no="BJ20240506001"),  # the same rating again (an overlapping export): a duplicate
        good(3, case_no="BJ20240506001"), good(4, case_no="BJ20240506001", rating_round="2"),
        good(5, case_no="BJ20240506002"),
    ])
    [summary] = imported(cli, str(later))
    assert (summary["accepted"], summary["duplicate"], summary["rejected"]) == (1, 1, 2)
    assert rejects(db_path, 2) == [
        (3, "case_rated_twice", "办件 BJ20240506001 already has a first rating from canonical (一事一评): rating R00001"
                                " of batch 1"),
        (4, "case_rated_twice", "办件 BJ20240506001 already has a follow-up rating (追评) from canonical (一事一评):"
                                " rating R00002 of batch 1")]
    # The same files again: nothing added, nothing rejected twice.
    assert [s["status"] for s in imported(cli, str(later))] == ["already imported"]
    copy = tmp_path / "tuesday-again.csv"
    copy.write_bytes(later.read_bytes() + b"\r\n")
    [again] = imported(cli, str(copy))
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 2, 2)
    assert query(db_path, "SELECT count(*) FROM ratings") == [(3,)]


def test_a_clash_in_a_later_group_of_rows_names_its_line(cli, db_path, tmp_path):
    # Rows are written 1,000 at a time: the first rating of BJX7 is in the first group, its second in the second.
    rows = [good(i, rating_id=f"R{i:05d}", case_no=f"BJ{i:05d}") for i in range(1, 1101)]
    rows[1049][6] = "BJ00007"  # case_no of rating R01050
    [summary] = imported(cli, str(write_csv(tmp_path / "big.csv", rows)))
    assert (summary["accepted"], summary["rejected"]) == (1099, 1)
    assert rejects(db_path, 1) == [(1051, "case_rated_twice", "办件 BJ00007 already has a first rating from canonical"
                                                              " (一事一评): rating R00007, earlier in this file (line 8)")]


def test_another_source_and_ratings_without_a_case_number_are_not_affected(cli, db_path, tmp_path):
    imported(cli, str(write_csv(tmp_path / "hall.csv", [good(1, case_no="BXJ1")])))
    [other] = imported(cli, str(write_csv(tmp_path / "sms.csv", [good(1, case_no="BXJ1", channel="短信评价")])),
                       "--source", "sms")
    assert (other["accepted"], other["rejected"]) == (1, 0)
    [plain] = imported(cli, str(write_csv(tmp_path / "plain.csv", [
        good(i, rating_id=f"P{i}", rating_round=rnd) for i, rnd in ((1, "1"), (2, "1"), (3, "2"), (4, "2"), (5, ""))])))
    assert (plain["accepted"], plain["rejected"]) == (5, 0)
    assert query(db_path, "SELECT source, count(*) FROM ratings GROUP BY source ORDER BY source") == [
        ("canonical", 6), ("sms", 1)]
    # Without a case number a 追评 has no first rating to miss: no followup_orphan flag.
    assert query(db_path, "SELECT count(*) FROM flags WHERE rule = 'followup_orphan'") == [(0,)]


def test_a_follow_up_without_its_first_rating_is_accepted_and_flagged(cli, db_path, tmp_path):
    assert "followup_orphan" in RULES and RULE_NAMES["followup_orphan"] == "追评无首次评价"
    path = write_csv(tmp_path / "followups.csv", [
        good(1, case_no="BJ-A", rating_round="2", rated_at="2024-05-06 10:00:00"),  # its first rating is lost
        good(2, case_no="BJ-B", rating_round="2", rated_at="2024-05-07 10:00:00"),  # its first rating comes after it
        good(3, case_no="BJ-B", rated_at="2024-05-07 09:00:00"),
    ])
    [summary] = imported(cli, str(path))
    assert (summary["accepted"], summary["rejected"]) == (3, 0)
    flags = json.loads(ok(cli("flags", "list", "--rule", "followup_orphan", "--format", "json")).stdout)
    assert [(f["source_id"], f["evidence"]) for f in flags] == [("R00001", {"case_no": "BJ-A", "source": "canonical"})]
    table = ok(cli("flags", "list", "--rule", "followup_orphan")).stdout
    assert "追评 of case BJ-A: no first rating of it from canonical" in table
    # Its first rating arrives in a later file: accepted, and the flag stays a prompt to check, as every flag.
    [late] = imported(cli, str(write_csv(tmp_path / "late.csv", [good(4, case_no="BJ-A", rated_at="2024-05-06 09:00:00")])))
    assert (late["accepted"], late["rejected"]) == (1, 0)
    assert ok(cli("flags", "scan", "--period", "2024-05", "--format", "json")).stdout.count('"followup_orphan": 0') == 1
