"""Suspicious-rating flags: planted patterns are found exactly, clean data (with near misses) gives none."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import date, timedelta

import chinese_calendar
import pytest

from tests.oversight_support import add_ratings

SLOTS = ["09:05", "09:30", "09:55", "10:20", "10:45", "11:10", "11:35", "13:40", "14:05", "14:30", "14:55",
         "15:20", "15:45", "16:10", "16:35"]
HALL = ["政务大厅平板电脑", "政务大厅其他终端"]


def clean_month() -> list[dict]:
    """May 2024 at four hall windows: hall-device ratings in opening hours on working days, QR and SMS
    ratings at any time, distinct phones, unique or short comments, plus near misses of every rule."""
    rng = random.Random(20240501)
    rows: list[dict] = []
    phone = 0
    day = date(2024, 5, 1)
    while day.month == 5:
        for window in ("LC01", "LC02", "SN01", "HD01"):
            if not chinese_calendar.is_workday(day):
                continue
            for slot in sorted(rng.sample(SLOTS, 8)):
                phone += 1
                channel = rng.choice(["二维码", *HALL])
                kind = rng.random()
                comment = ("很好" if kind < 0.3 else f"第{phone}位办事人：材料一次告知清楚" if kind < 0.5 else None)
                row = {"rated_at": f"{day} {slot}:00", "window": window, "level": rng.choice([3, 4, 5, 5, 5]),
                       "channel": channel, "comment": comment}
                if rng.random() < 0.5:
                    row["phone"] = f"137{phone:08d}"
                if channel == "二维码":
                    row.update(qr_token=f"TOKEN{phone:05d}", token_ok=1)
                rows.append(row)
        # an SMS rating sent from home in the evening, every day: normal
        rows.append({"rated_at": f"{day} 20:15:00", "window": "LC01", "level": 4, "channel": "短信"})
        day += timedelta(days=1)
    rows += [
        # same_phone near miss: two ratings from one phone on one day
        {"rated_at": "2024-05-13 09:12:00", "window": "LC01", "level": 5, "phone": "13655550001"},
        {"rated_at": "2024-05-13 15:02:00", "window": "SN01", "level": 4, "phone": "13655550001"},
        # burst near miss: four QR ratings at LC02 within ten minutes (lunch time, no other ratings)
        *({"rated_at": f"2024-05-14 12:{m}:00", "window": "LC02", "level": 4} for m in (20, 23, 26, 29)),
        # an online channel takes many ratings at once: never a burst
        *({"rated_at": f"2024-05-22 21:0{m}:00", "window": "LCWS", "level": 5, "channel": "PC端"} for m in range(6)),
        # hall devices just inside the grace minutes, on the make-up Saturday 2024-05-11 (调休, a working day)
        {"rated_at": "2024-05-15 12:10:00", "window": "LC01", "level": 5, "channel": HALL[0]},
        {"rated_at": "2024-05-15 08:50:00", "window": "HD01", "level": 5, "channel": HALL[1]},
        {"rated_at": "2024-05-11 10:00:00", "window": "LC01", "level": 5, "channel": HALL[0]},
        # a QR rating at night and on a holiday: the rater is at home
        {"rated_at": "2024-05-16 21:30:00", "window": "LC01", "level": 2, "channel": "二维码"},
        {"rated_at": "2024-05-02 11:00:00", "window": "SN01", "level": 5, "channel": "二维码"},
        # a long comment twice (below the three repeats), a short one six times
        {"rated_at": "2024-05-20 09:17:00", "window": "LC01", "level": 5, "comment": "大厅环境整洁，排队秩序良好"},
        {"rated_at": "2024-05-21 09:17:00", "window": "HD01", "level": 5, "comment": "大厅环境整洁，排队秩序良好"},
        *({"rated_at": f"2024-05-2{d} 16:50:00", "window": "SN01", "level": 5, "comment": "满意"} for d in range(6)),
        # a phone that is not a staff member's
        {"rated_at": "2024-05-17 10:03:00", "window": "LC01", "level": 5, "phone": "13900000499"},
    ]
    return rows


def planted() -> dict[str, list[dict]]:
    return {
        "same_phone": [
            {"rated_at": "2024-05-14 09:10:00", "window": "LC01", "level": 5, "phone": "13812345678"},
            {"rated_at": "2024-05-14 14:00:00", "window": "SN01", "level": 5, "phone": "13812345678"},
            {"rated_at": "2024-05-14 15:31:00", "window": "HD01", "level": 5, "phone": "138 1234 5678"},
        ],
        "burst": [{"rated_at": f"2024-05-15 12:2{m}:00", "window": "LC02", "level": 5} for m in (0, 2, 4, 6, 8)],
        "off_hours": [
            {"rated_at": "2024-05-16 19:30:00", "window": "LC01", "level": 5, "channel": "政务大厅平板电脑"},
            {"rated_at": "2024-05-19 10:00:00", "window": "LC01", "level": 5, "channel": "政务大厅其他终端"},
        ],
        "staff_phone": [{"rated_at": "2024-05-17 10:05:00", "window": "SN01", "level": 5, "phone": "13900000401"}],
        "repeated_comment": [
            {"rated_at": "2024-05-20 10:01:00", "window": "LC01", "level": 5, "comment": "窗口服务热情周到，办事效率很高！"},
            {"rated_at": "2024-05-21 10:01:00", "window": "SN01", "level": 5, "comment": "窗口服务热情周到 办事效率很高!!"},
            {"rated_at": "2024-05-22 10:01:00", "window": "HD01", "level": 5,
             "comment": "<b>窗口服务热情周到，办事效率很高</b>"},
        ],
        "bad_token": [{"rated_at": "2024-05-23 10:07:00", "window": "HD01", "level": 5, "qr_token": "AAAAAAAAAA",
                       "token_ok": 0}],
    }


def flag_pairs(cli, *args, operator: str = "city") -> set[tuple[int, str]]:
    result = cli("flags", "list", "--format", "json", *args, operator=operator)
    assert result.exit_code == 0, result.output
    return {(f["rating"], f["rule"]) for f in json.loads(result.stdout)}


def test_clean_month_raises_no_flag(cli, db_path):
    add_ratings(db_path, clean_month())
    result = cli("flags", "scan", "--period", "2024-05", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ratings"] == len(clean_month())
    assert summary["new_total"] == 0
    assert flag_pairs(cli) == set()


def test_planted_patterns_are_found_exactly(cli, db_path):
    add_ratings(db_path, clean_month())
    plants = planted()
    ids = {rule: add_ratings(db_path, rows) for rule, rows in plants.items()}
    result = cli("flags", "scan", "--period", "2024-05", "--format", "json")
    assert result.exit_code == 0, result.output
    expected = {(rating, rule) for rule, rating_ids in ids.items() for rating in rating_ids}
    assert flag_pairs(cli) == expected

    flags = {(f["rating"], f["rule"]): f for f in json.loads(cli("flags", "list", "--format", "json").stdout)}
    phone = flags[(ids["same_phone"][0], "same_phone")]["evidence"]
    assert phone == {"phone": "138****5678", "day": "2024-05-14", "count": 3, "threshold": 3,
                     "ratings": ids["same_phone"]}
    burst = flags[(ids["burst"][2], "burst")]["evidence"]
    assert burst == {"window": "LC02", "from": "2024-05-15 12:20:00", "to": "2024-05-15 12:28:00", "count": 5,
                     "threshold": "5 within 10 min"}
    sunday = flags[(ids["off_hours"][1], "off_hours")]["evidence"]
    assert sunday["why"] == "non-working day"
    assert flags[(ids["off_hours"][0], "off_hours")]["evidence"]["why"] == "outside opening hours"
    staff = flags[(ids["staff_phone"][0], "staff_phone")]["evidence"]
    assert staff == {"phone": "139****0401", "staff": ["LC-S01"], "staff_county": ["370213"], "same_county": False}
    assert flags[(ids["repeated_comment"][0], "repeated_comment")]["evidence"]["text"] == "窗口服务热情周到办事效率很高"

    # the phone number itself appears nowhere in the listing
    table = cli("flags", "list")
    assert table.exit_code == 0
    assert "13812345678" not in table.stdout and "13900000401" not in cli("flags", "list", "--format", "csv").stdout
    assert "139****0401 is staff LC-S01" in cli("flags", "list", "--rule", "staff_phone", "--format", "csv").stdout

    # a flag never excludes: every rating still counts
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM ratings WHERE excluded IS NOT NULL").fetchone()[0] == 0
    events = conn.execute("SELECT count(*) FROM audit_events WHERE action = 'flags.scan'").fetchone()[0]
    assert events >= 1

    # scanning again adds nothing and writes no event
    again = json.loads(cli("flags", "scan", "--period", "2024-05", "--format", "json").stdout)
    assert again["new_total"] == 0 and again["ratings_flagged"] == 15
    assert conn.execute("SELECT count(*) FROM flags").fetchone()[0] == 15
    assert conn.execute("SELECT count(*) FROM audit_events WHERE action = 'flags.scan'").fetchone()[0] == events


def test_flags_list_filters_and_county_view(cli, db_path):
    plants = planted()
    ids = {rule: add_ratings(db_path, rows) for rule, rows in plants.items()}
    assert cli("flags", "scan", "--from", "2024-05-14", "--to", "2024-05-23").exit_code == 0
    assert flag_pairs(cli, "--rule", "burst") == {(r, "burst") for r in ids["burst"]}
    assert flag_pairs(cli, "--period", "2024-05-23") == {(ids["bad_token"][0], "bad_token")}
    # a county operator sees its own county's flags only
    own = flag_pairs(cli, operator="county:370211")
    assert own == {(ids["same_phone"][2], "same_phone"), (ids["repeated_comment"][2], "repeated_comment"),
                   (ids["bad_token"][0], "bad_token")}
    other = cli("flags", "list", "--county", "370213", operator="county:370211")
    assert other.exit_code == 1
    assert other.stderr.strip() == ("Error: county:370211 may see the flags of county 370211 only, not of "
                                    "370213 (leave out --county: a county sees its own county's data)")
    refused = cli("flags", "scan", "--period", "2024-05", operator="county:370213")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == ("Error: scanning for suspicious ratings is the city bureau's (市局) task; "
                                      "county:370213 may not do it (the city bureau's staff (市局) do it)")
    unknown = cli("flags", "list", "--rule", "phone")
    assert unknown.exit_code == 1 and "rule 'phone' is not known" in unknown.stderr


def test_thresholds_come_from_the_configuration(cli, db_path):
    (db_path.parent / "haocha.toml").write_text(
        "[flags]\nphone_per_day = 2\nburst_count = 4\noff_hours_grace_minutes = 5\n", encoding="utf-8")
    add_ratings(db_path, clean_month())
    assert cli("flags", "scan", "--period", "2024-05").exit_code == 0
    rules = [rule for _, rule in flag_pairs(cli)]
    # the near misses are caught now: the phone twice on 2024-05-13, four ratings at LC02 on 2024-05-14,
    # the hall devices at 12:10 and 08:50
    assert {rule: rules.count(rule) for rule in set(rules)} == {"same_phone": 2, "burst": 4, "off_hours": 2}


@pytest.mark.parametrize(("text", "expected"), [
    ("<p>窗口服务 热情！</p>", "窗口服务热情"),
    ("Ｇｏｏｄ  service!!", "goodservice"),
    ("好评😀 ok。\u200b", "好评😀ok"),
    ("", ""),
])
def test_comment_normalisation(text, expected):
    from haocha_cli.flags import normalise_comment

    assert normalise_comment(text) == expected
