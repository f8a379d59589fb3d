"""A clerk's dates and county names on the command line: every option that asks for a day or a month reads
2026/8/1, 2026-8-1, 2026年8月1日, 2026.8.1 and 2026-8, 2026/8, 2026年8月 as it reads the ISO form, and every
--county takes a county's name (李沧区) or short name (李沧) as well as its code."""

from __future__ import annotations

import json
import sqlite3

import pytest
from cases_support import add_ratings
from support import ok

NOW = "2025-03-25 09:00:00"
LC = "county:370213"
COUNTIES = ("370202 市南区, 370203 市北区, 370211 黄岛区, 370212 崂山区, 370213 李沧区, 370214 城阳区, 370215 即墨区,"
            " 370281 胶州市, 370283 平度市, 370285 莱西市")

# The same day, 2025-03-10, as clerks write it; and the same month, 2025-03.
DAYS = ["2025-03-10", "2025-3-10", "2025/3/10", "2025.3.10", "2025年3月10日", "2025年03月10号", "２０２５／３／１０",
        " 2025 / 3 / 10 "]
MONTHS = ["2025-03", "2025-3", "2025/3", "2025/03", "2025.3", "2025年3月", "2025年3月份", "２０２５年３月"]


@pytest.fixture
def bureau(db_path):
    """Cases 1 and 2 at Licang's LC01 (due 2025-03-24 and 03-31), case 3 at 市南区's SN01, a good rating at LC02."""
    add_ratings(db_path, [
        {"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意"},
        {"rated_at": "2025-03-10 10:00:00", "window": "LC01", "level": "不满意"},
        {"rated_at": "2025-03-10 11:00:00", "window": "SN01", "level": "不满意"},
        {"rated_at": "2025-03-11 10:00:00", "window": "LC02", "level": "满意"},
    ])
    return db_path


def _json(run, *args: str, operator: str = "city"):
    return json.loads(ok(run(NOW, *args, "--format", "json", operator=operator)).stdout)


def _case_ids(run, *args: str, operator: str = "city") -> list[int]:
    return [c["id"] for c in _json(run, "cases", "list", *args, operator=operator)]


# --- days and months -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2025-03-30", "2025-3-30", "2025/3/30", "2025.3.30", "2025年3月30日"])
def test_due_before_takes_a_day_in_every_shape(bureau, run, day):
    assert _case_ids(run, "--due-before", day) == [1]


@pytest.mark.parametrize("day", DAYS)
def test_index_period_takes_a_day_in_every_shape(bureau, run, day):
    data = _json(run, "index", "--by", "county", "--period", day)
    assert data["period"] == {"label": "2025-03-10", "from": "2025-03-10", "to": "2025-03-10"}
    assert [(r["county"], r["n"]) for r in data["rows"]] == [("370202", 1), ("370213", 1)]


@pytest.mark.parametrize("month", MONTHS)
def test_index_period_takes_a_month_in_every_shape(bureau, run, month):
    data = _json(run, "index", "--period", month)
    assert data["period"] == {"label": "2025-03", "from": "2025-03-01", "to": "2025-03-31"}
    assert [r["n"] for r in data["rows"]] == [4]


def test_from_and_to_and_a_range_take_every_shape(bureau, run):
    ranged = {"label": "2025-03-10..2025-03-11", "from": "2025-03-10", "to": "2025-03-11"}
    for args in (["--from", "2025/3/10", "--to", "2025年3月11日"], ["--from", "2025.3.10", "--to", "2025-3-11"],
                 ["--period", "2025/3/10..2025/3/11"], ["--period", "2025年3月10日至2025年3月11日"]):
        data = _json(run, "index", *args)
        assert (data["period"], [r["n"] for r in data["rows"]]) == (ranged, [3]), args
    # cases stats reads its --from/--to through the same parser: the cases rated on the 10th.
    rows = _json(run, "cases", "stats", "--from", "2025年3月10日", "--to", "2025/3/10")
    assert [(r["county"], r["cases"]) for r in rows if r["cases"]] == [("370202", 1), ("370213", 1), ("total", 2)]


@pytest.mark.parametrize("day", ["2025-03-10", "2025/3/10", "2025-3-10", "2025.3.10", "2025年3月10日"])
def test_report_daily_date_takes_a_day_in_every_shape(bureau, run, tmp_path, day):
    out = tmp_path / "reports"
    ok(run(NOW, "report", "daily", "--date", day, "--out", str(out), "--quiet"))
    assert sorted(p.name for p in out.iterdir()) == ["daily-2025-03-10.html", "daily-2025-03-10.md"]


@pytest.mark.parametrize("month", ["2025/3", "2025年3月", "2025-3"])
def test_report_monthly_month_takes_a_month_in_every_shape(bureau, run, tmp_path, month):
    out = tmp_path / "reports"
    ok(run(NOW, "report", "monthly", "--month", month, "--format", "md", "--out", str(out), "--quiet"))
    assert [p.name for p in out.iterdir()] == ["monthly-2025-03.md"]


def test_calendar_days_in_every_shape_are_one_day(bureau, run, db_path):
    first = ok(run(NOW, "calendar", "add-holiday", "2025年3月28日", "--note", "本地假日"))
    assert "2025-03-28 recorded as a holiday" in first.stderr
    for day in ("2025/3/28", "2025-3-28", "2025.3.28", "2025-03-28"):
        again = ok(run(NOW, "calendar", "add-holiday", day, "--note", "本地假日"))
        assert again.stderr.strip() == "2025-03-28 is recorded as a holiday already; nothing changed"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT day, is_workday FROM calendar_overrides").fetchall() == [("2025-03-28", 0)]
    ok(run(NOW, "calendar", "remove", "2025/3/28"))
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM calendar_overrides").fetchone() == (0,)


@pytest.mark.parametrize(("args", "message"), [
    (["cases", "list", "--due-before", "2025/2/30"],
     "Error: --due-before '2025/2/30' is not a date (use YYYY-MM-DD, e.g. 2027-02-08)"),
    (["cases", "list", "--due-before", "2025/3-30"],
     "Error: --due-before '2025/3-30' is not a date (use YYYY-MM-DD, e.g. 2027-02-08)"),
    (["report", "daily", "--date", "3/10/2025", "--out", "r"],
     "Error: --date '3/10/2025' is not a date (write a day as 2024-05-06, 2024/5/6 or 2024年5月6日)"),
    (["index", "--period", "2025年13月"],
     "Error: period '2025年13月' has no month 13 (write a month 2024-05, a quarter 2024-Q2, a year 2024, a day"
     " 2024-05-06, or --from/--to dates)"),
    (["index", "--from", "2025/3/10", "--to", "2025年3月32日"],
     "Error: --to '2025年3月32日' is not a date (write a day as 2024-05-06, 2024/5/6 or 2024年5月6日)"),
    (["report", "monthly", "--month", "2025/3/10", "--out", "r"],
     "Error: --month '2025/3/10' is not a month (write YYYY-MM, e.g. 2026-08)"),
])
def test_a_day_that_is_none_is_one_error_line(bureau, run, args, message):
    result = run(NOW, *args)
    assert (result.exit_code, result.stderr.strip()) == (1, message)


# --- counties by name ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("county", ["李沧区", "李沧", "370213", " 李沧区 ", "李沧区局", "３７０２１３"])
def test_county_by_name_or_short_name_in_index_cases_and_export(bureau, run, county):
    index = _json(run, "index", "--by", "window", "--county", county, "--period", "2025-03")
    assert index["county"] == "370213"
    assert [(r["window"], r["n"]) for r in index["rows"]] == [("LC01", 2), ("LC02", 1)]
    assert _case_ids(run, "--county", county) == [1, 2]
    exported = json.loads(ok(run(NOW, "export", "ratings", "--county", county, "--format", "json")).stdout)
    assert exported["county"] == "370213"
    assert sorted(r["window_code"] for r in exported["rows"]) == ["LC01", "LC01", "LC02"]


def test_other_county_options_take_names_too(bureau, run, tmp_path):
    assert _case_ids(run, "--county", "市南") == [3]
    stats = _json(run, "cases", "stats", "--county", "市南区")
    assert [r["county"] for r in stats] == ["370202"]
    flags = ok(run(NOW, "flags", "list", "--county", "李沧", "--format", "json"))
    assert json.loads(flags.stdout) == []
    out = tmp_path / "reports"
    ok(run(NOW, "report", "county", "--county", "李沧", "--period", "2025/3", "--format", "md", "--out", str(out),
           "--quiet"))
    assert [p.name for p in out.iterdir()] == ["county-370213-2025-03.md"]
    sheet = tmp_path / "lc.csv"
    ok(run(NOW, "cases", "export", "--county", "李沧区", "--format", "csv", "-o", str(sheet)))
    assert sheet.read_text(encoding="utf-8-sig").count("\n") == 3  # the header and cases 1 and 2


def test_a_county_operator_named_by_its_county_and_refused_anothers_by_name(bureau, run):
    assert _case_ids(run, operator="county:李沧区") == [1, 2]
    assert _case_ids(run, operator="county:李沧") == [1, 2]
    refused = run(NOW, "cases", "list", "--county", "市南", operator=LC)
    assert (refused.exit_code, refused.stderr.strip()) == (1, (
        "Error: county:370213 may see the cases of county 370213 only, not of 370202 (leave out --county: a county"
        " sees its own county's data)"))
    unknown = run(NOW, "cases", "list", operator="county:东城区")
    assert (unknown.exit_code, unknown.stderr.strip()) == (1, (
        f"Error: role 'county:东城区' names an unknown county 东城区 (known counties: {COUNTIES})"))


def test_a_staff_account_for_a_county_named_by_its_name(bureau, cli, db_path):
    ok(cli("staff", "add", "wangwu", "--name", "王五", "--role", "county:李沧", "--password-stdin", operator="admin",
           input="wangwu-pw-2025\n"))
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT role, county_code FROM accounts WHERE username = 'wangwu'").fetchone() == (
            "county", "370213")


@pytest.mark.parametrize("args", [
    ["index", "--county", "东城区"],
    ["cases", "list", "--county", "999999"],
    ["export", "ratings", "--county", "东城"],
    ["flags", "list", "--county", "东城"],
    ["notify", "test", "--county", "东城"],
])
def test_an_unknown_county_is_refused_with_the_counties_by_code_and_name(bureau, run, args):
    result = run(NOW, *args)
    given = args[-1]
    assert (result.exit_code, result.stderr.strip()) == (
        1, f"Error: county {given} does not exist (known counties: {COUNTIES})")


def test_a_short_name_two_counties_share_is_refused_naming_both(bureau, run, db_path):
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO counties (code, name, city_code, created_at)"
                     " VALUES ('370299', '李沧县', '370200', '2025-01-01 00:00:00')")
    result = run(NOW, "index", "--county", "李沧")
    assert (result.exit_code, result.stderr.strip()) == (
        1, "Error: county '李沧' may be any of 370213 李沧区, 370299 李沧县 (give the county's code)")
    assert _json(run, "index", "--county", "李沧区")["county"] == "370213"
