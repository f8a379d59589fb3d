"""Spot-checks: a reproducible sample whose composition follows the risk levels; outcomes and their effects."""

from __future__ import annotations

import json
import sqlite3

import pytest

from haocha_cli import cases
from haocha_cli.context import open_context
from haocha_cli.flags import scan_flags
from tests.oversight_support import add_ratings

LC, SN, HD = "370213", "370202", "370211"


def _times(day: str, n: int, start_hour: int = 9) -> list[str]:
    """n rating times 20 minutes apart (no burst), from start_hour on the day."""
    return [f"{day} {start_hour + (20 * i) // 60:02d}:{(20 * i) % 60:02d}:00" for i in range(n)]


def _bad(window: str, day: str, n: int, start_hour: int = 9, phones: bool = False) -> list[dict]:
    return [{"rated_at": t, "window": window, "level": "不满意", **({"phone": f"1365{window[-2:]}{i:05d}"}
            if phones else {})} for i, t in enumerate(_times(day, n, start_hour))]


def _case_ids(db_path, county: str) -> list[int]:
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM cases WHERE county_code = ? ORDER BY id", [county])]
    finally:
        conn.close()


def _close_all(db_path, county: str, ids: list[int]) -> None:
    ctx = open_context(db_path, f"county:{county}")
    for case_id in ids:
        cases.classify(ctx, case_id, "rectifiable")
        cases.close(ctx, case_id, "explained the rule again and posted the guide", "科长")
    ctx.db.close()


@pytest.fixture
def month(db_path, monkeypatch):
    """May 2024: ten closed cases in each of three counties, two no-action classifications in 市南区,
    非常满意 ratings (40 in 李沧区, 20 in 市南区) and one flagged rating in 黄岛区. Risk levels: 李沧区 high,
    市南区 medium (the default), 黄岛区 low."""
    for window in ("LC01", "SN01", "HD01"):
        add_ratings(db_path, _bad(window, "2024-05-06", 10, phones=window == "LC01"))
    add_ratings(db_path, _bad("SN02", "2024-05-07", 2))
    add_ratings(db_path, [{"rated_at": t, "window": "LC02", "level": "非常满意"}
                          for d in ("2024-05-09", "2024-05-10") for t in _times(d, 20)])
    add_ratings(db_path, [{"rated_at": t, "window": "SN02", "level": "非常满意"} for t in _times("2024-05-10", 20)])
    flagged = add_ratings(db_path, [{"rated_at": "2024-05-13 10:00:00", "window": "HD01", "level": "满意",
                                     "qr_token": "FORGED0000", "token_ok": 0}])
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-08 10:00:00")
    for county in (LC, SN, HD):
        _close_all(db_path, county, _case_ids(db_path, county)[:10])
    sn = open_context(db_path, f"county:{SN}")
    city = open_context(db_path, "city")
    no_action = _case_ids(db_path, SN)[-2:]
    for case_id in no_action:
        cases.classify(sn, case_id, "no-action", "the rater asked for something the law forbids")
    cases.approve(city, no_action[0])
    scan_flags(city, "2024-05-01", "2024-05-31")  # (the import may have flagged it already)
    assert city.db.execute("SELECT count(*) FROM counties").fetchone()[0] == 10
    city.db.execute("UPDATE counties SET risk_level = 'high' WHERE code = ?", [LC])
    city.db.execute("UPDATE counties SET risk_level = 'low' WHERE code = ?", [HD])
    city.db.close()
    sn.db.close()
    monkeypatch.setenv("HAOCHA_NOW", "2024-06-03 09:00:00")
    return {"no_action": no_action, "flagged": flagged}


def _checks(cli, *args) -> list[dict]:
    result = cli("spotcheck", "list", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _composition(checks: list[dict]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for c in checks:
        counts[(c["county"], c["reason"])] = counts.get((c["county"], c["reason"]), 0) + 1
    return counts


def test_sample_composition_follows_the_risk_levels(cli, month, db_path):
    result = cli("spotcheck", "sample", "--period", "2024-05", "--seed", "42", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["sample"], data["version"], data["seed"], data["checks"]) == (1, 1, 42, 15)
    rows = {r["county"]: r for r in data["by_county"]}
    # closed cases: ceil(rate × 10) with rate 50 % (high), 25 % (medium), 10 % (low)
    assert (rows[LC]["closed_case"], rows[SN]["closed_case"], rows[HD]["closed_case"]) == (5, 3, 1)
    assert rows[LC]["closed_case_pool"] == rows[SN]["closed_case_pool"] == rows[HD]["closed_case_pool"] == 10
    # 非常满意: ceil(5 % × 40) = 2 and ceil(5 % × 20) = 1
    assert (rows[LC]["very_satisfied"], rows[SN]["very_satisfied"], rows[HD]["very_satisfied"]) == (2, 1, 0)
    assert _composition(_checks(cli)) == {
        (LC, "closed_case"): 5, (LC, "very_satisfied"): 2,
        (SN, "no_action"): 2, (SN, "closed_case"): 3, (SN, "very_satisfied"): 1,
        (HD, "flagged"): 1, (HD, "closed_case"): 1,
    }
    checks = _checks(cli)
    assert sorted(c["case"] for c in checks if c["reason"] == "no_action") == month["no_action"]
    assert [c["rating"] for c in checks if c["reason"] == "flagged"] == month["flagged"]
    assert cli("spotcheck", "list", operator=f"county:{LC}").exit_code == 1


def test_same_seed_same_sample_and_a_second_sample_is_a_new_version(cli, month):
    assert cli("spotcheck", "sample", "--period", "2024-05", "--seed", "42").exit_code == 0
    first = [(c["rating"], c["reason"]) for c in _checks(cli, "--sample", "1")]
    again = cli("spotcheck", "sample", "--period", "2024-05", "--seed", "42")
    assert again.exit_code == 1
    assert again.stderr.strip() == (
        "Error: the period 2024-05 has a sample already (sample 1, version 1, seed 42, drawn 2024-06-03 09:00:00) "
        "(`haocha spotcheck list --sample 1` shows it; --new-version draws version 2)")
    assert cli("spotcheck", "sample", "--period", "2024-05", "--seed", "42", "--new-version").exit_code == 0
    assert [(c["rating"], c["reason"]) for c in _checks(cli, "--sample", "2")] == first
    assert cli("spotcheck", "sample", "--period", "2024-05", "--seed", "7", "--new-version").exit_code == 0
    other = [(c["rating"], c["reason"]) for c in _checks(cli, "--sample", "3")]
    assert other != first
    assert _composition(_checks(cli, "--sample", "3")) == _composition(_checks(cli, "--sample", "1"))
    samples = json.loads(cli("spotcheck", "samples", "--format", "json").stdout)
    assert [(s["id"], s["period"], s["version"], s["seed"], s["checks"]) for s in samples] == [
        (1, "2024-05", 1, 42, 15), (2, "2024-05", 2, 42, 15), (3, "2024-05", 3, 7, 15)]


def test_failed_checks_exclude_a_false_rating_or_send_back_a_classification(cli, month, db_path):
    assert cli("spotcheck", "sample", "--period", "2024-05", "--seed", "42").exit_code == 0
    checks = _checks(cli)
    praise = next(c for c in checks if c["reason"] == "very_satisfied" and c["county"] == LC)
    no_action = {c["case"]: c for c in checks if c["reason"] == "no_action"}
    waiting = no_action[month["no_action"][1]]

    no_note = cli("spotcheck", "record", str(praise["id"]), "--outcome", "failed")
    assert no_note.exit_code == 1
    assert no_note.stderr.strip() == "Error: a failed check needs a note saying what was found (give --note)"
    done = cli("spotcheck", "record", str(praise["id"]), "--outcome", "failed", "--note", "rater never came")
    assert done.exit_code == 0, done.output
    assert done.stderr.strip() == (f"spot-check {praise['id']}: failed; rating {praise['rating']} excluded as "
                                   "confirmed false")
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT excluded FROM ratings WHERE id = ?", [praise["rating"]]).fetchone()[0] == \
        "confirmed_false"
    # out of the figures, kept in the database: 40 非常满意 at LC02 became 39 counted and 1 excluded
    assert conn.execute("SELECT sum(l5), sum(excluded_n) FROM daily_agg WHERE window_code = 'LC02'").fetchone() == \
        (39, 1)

    sent_back = cli("spotcheck", "record", str(waiting["id"]), "--outcome", "failed", "--note",
                    "the rater's request was lawful")
    assert sent_back.exit_code == 0, sent_back.output
    assert conn.execute("SELECT state, classification FROM cases WHERE id = ?", [waiting["case"]]).fetchone() == \
        ("new", None)

    twice = cli("spotcheck", "record", str(praise["id"]), "--outcome", "confirmed")
    assert twice.exit_code == 1
    assert twice.stderr.strip() == (
        f"Error: spot-check {praise['id']} is recorded already: failed at 2024-06-03 09:00:00 (a confirmed or "
        "failed check is final; only an unreachable one can be recorded again)")
    one = next(c for c in checks if c["reason"] == "closed_case" and c["county"] == SN)
    assert cli("spotcheck", "record", str(one["id"]), "--outcome", "unreachable").exit_code == 0
    assert cli("spotcheck", "record", str(one["id"]), "--outcome", "confirmed", "--note", "reached").exit_code == 0
    refused = cli("spotcheck", "record", str(one["id"]), "--outcome", "confirmed", operator=f"county:{SN}")
    assert refused.exit_code == 1 and "is the city bureau's (市局) task" in refused.stderr

    stats = {r["county"]: r for r in json.loads(cli("spotcheck", "stats", "--format", "json").stdout)}
    assert (stats[LC]["checks"], stats[LC]["failed"], stats[LC]["pass_rate"]) == (7, 1, 0.0)
    assert (stats[SN]["confirmed"], stats[SN]["failed"], stats[SN]["pending"], stats[SN]["pass_rate"]) == \
        (1, 1, 4, 0.5)
    assert (stats[HD]["checks"], stats[HD]["pass_rate"]) == (2, None)
    assert (stats["total"]["checks"], stats["total"]["confirmed"], stats["total"]["failed"]) == (15, 1, 2)
    # the city calls the rater back: the phone is shown on request, and the reading is audited
    call = next(c for c in checks if c["reason"] == "closed_case" and c["county"] == LC)
    phone = f"136501{call['rating'] - 1:05d}"  # LC01's bad reviews were the first batch: ratings 1 … 10
    assert call["phone"] == phone[:3] + "****" + phone[-4:]
    shown = cli("spotcheck", "contact", str(call["id"]))
    assert (shown.exit_code, shown.stdout.strip()) == (0, phone)
    assert cli("spotcheck", "contact", str(call["id"]), operator=f"county:{LC}").exit_code == 1
    anonymous = cli("spotcheck", "contact", str(praise["id"]))
    assert anonymous.exit_code == 1
    assert anonymous.stderr.strip() == (f"Error: the rating of spot-check {praise['id']} is anonymous: no phone was "
                                        "given (record the check as unreachable, or check it on the spot)")
    assert conn.execute("SELECT count(*) FROM audit_events WHERE action = 'spotcheck.contact'").fetchone()[0] == 1
    # one audit event per recorded outcome (the unreachable attempt included)
    assert conn.execute("SELECT count(*) FROM audit_events WHERE action = 'spotcheck.record'").fetchone()[0] == 4
    assert conn.execute("SELECT count(*) FROM audit_events WHERE action = 'spotcheck.sample'").fetchone()[0] == 1


def test_a_failed_check_reopens_its_case(cli, month, db_path):
    assert cli("spotcheck", "sample", "--period", "2024-05", "--seed", "42").exit_code == 0
    check = next(c for c in _checks(cli) if c["reason"] == "closed_case" and c["county"] == HD)
    assert check["case_state"] == "closed"
    result = cli("spotcheck", "record", str(check["id"]), "--outcome", "failed", "--note",
                 "the rater says nobody called and nothing changed")
    assert result.exit_code == 0, result.output
    # 15 working days from 2024-06-03: the Dragon Boat Festival (2024-06-10) is a day off
    done = f"case {check['case']} reopened: to be rectified again by 2024-06-25"
    assert result.stderr.strip() == f"spot-check {check['id']}: failed; {done}"
    conn = sqlite3.connect(db_path)
    state, reopened, start, resolved = conn.execute(
        "SELECT state, reopen_count, rectify_from, resolved_at FROM cases WHERE id = ?", [check["case"]]).fetchone()
    # back to rectification with a new deadline counted from the day of the check; counted against the county
    assert (state, reopened, start, resolved) == ("reopened", 1, "2024-06-03", None)
    shown = json.loads(cli("cases", "show", str(check["case"]), "--format", "json").stdout)
    assert shown["case"]["state"] == "reopened"
    listed = {c["id"]: c for c in _checks(cli)}
    assert listed[check["id"]]["consequence"] == done
    assert listed[check["id"]]["case_state"] == "reopened"
    stats = {r["county"]: r for r in json.loads(cli("spotcheck", "stats", "--format", "json").stdout)}
    assert (stats[HD]["failed"], stats[HD]["pass_rate"]) == (1, 0.0)
    # an approved no-action classification that does not hold goes back to the county to classify again
    approved = next(c for c in _checks(cli) if c["case"] == month["no_action"][0])
    assert approved["case_state"] == "no_action"
    result = cli("spotcheck", "record", str(approved["id"]), "--outcome", "failed", "--note", "the shop was wronged")
    assert result.stderr.strip() == (f"spot-check {approved['id']}: failed; case {approved['case']} reopened: back "
                                     "to the county to classify again")
    assert conn.execute("SELECT state, classification, reopen_count FROM cases WHERE id = ?",
                        [approved["case"]]).fetchone() == ("new", None, 1)
