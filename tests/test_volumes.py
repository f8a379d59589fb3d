"""Service volumes (办件量, issue 21 item 6): `haocha volumes import` / `list`, the rating rate (主动评价率 =
ratings ÷ services) on `index` rows, and the window flags of a rating rate far below the county's or fallen
against the month before (`haocha flags windows`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from import_support import good, query, write_csv
from support import ok

VOLUME_HEADER = ["日期", "窗口编码", "事项编码", "办件量"]


def volumes(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    return write_csv(path, rows, header=header or VOLUME_HEADER)


def ratings(cli, path: Path, counts: dict[str, int], day: str = "2024-05-06", start: int = 0) -> None:
    """``counts[window]`` counted ratings at each window on ``day``, all 满意."""
    rows, i = [], start
    for window, n in counts.items():
        for _ in range(n):
            i += 1
            rows.append(good(i, window_code=window, rated_at=f"{day} {9 + i // 60 % 8:02d}:{i % 60:02d}:00"))
    ok(cli("import", str(write_csv(path, rows))))


def test_a_volume_file_is_imported_once_and_a_corrected_one_replaces_its_figures(cli, db_path, tmp_path):
    file = volumes(tmp_path / "办件量.csv", [["2024-05-06", "LC01", "XK01", "12"],
                                           ["2024/5/7", "LC01", "烟草专卖零售许可证新办", "8"],  # the item by its name
                                           ["2024年5月7日", "LC02", "XK02", "5"]])
    out = ok(cli("volumes", "import", str(file))).stderr
    assert "办件量.csv: 3 rows 2024-05-06 … 2024-05-07, 25 services: 3 added, 0 replaced, 0 unchanged" in out
    table = "SELECT day, window_code, item_code, county_code, services FROM service_volumes ORDER BY day, window_code"
    assert query(db_path, table) == [("2024-05-06", "LC01", "XK01", "370213", 12),
                                     ("2024-05-07", "LC01", "XK01", "370213", 8),
                                     ("2024-05-07", "LC02", "XK02", "370213", 5)]
    again = ok(cli("volumes", "import", str(file))).stderr
    assert "3 rows 2024-05-06 … 2024-05-07, 25 services: 0 added, 0 replaced, 3 unchanged" in again
    corrected = volumes(tmp_path / "更正.csv", [["2024-05-07", "LC02", "XK02", "6"]])
    summary = json.loads(ok(cli("volumes", "import", str(corrected), "--format", "json")).stdout)
    assert (summary["added"], summary["replaced"], summary["unchanged"]) == (0, 1, 0)
    assert query(db_path, table)[2] == ("2024-05-07", "LC02", "XK02", "370213", 6)
    # the two imports that changed something are in the audit trail; the one that added nothing is not
    assert query(db_path, "SELECT count(*) FROM audit_events WHERE action = 'volumes.import'") == [(2,)]


def test_a_file_with_bad_lines_names_every_one_and_imports_nothing(cli, db_path, tmp_path):
    file = volumes(tmp_path / "v.csv", [["2024-05-06", "LC01", "XK01", "12"],
                                        ["2024-02-30", "LC01", "XK01", "3"],
                                        ["2024-05-06", "QD99", "XK01", "3"],
                                        ["2024-05-06", "LC02", "XK99", "3"],
                                        ["2024-05-06", "LC02", "XK01", "三"],
                                        ["2024-05-06", "LC02", "XK01", "-1"],
                                        ["2024-05-06", "LC01", "XK01", "4"]])
    result = cli("volumes", "import", str(file))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 6 lines of v.csv cannot be imported, so nothing was imported:\n"
        "  - v.csv line 3: 日期 '2024-02-30' is not a day (e.g. 2026-08-03)\n"
        "  - v.csv line 4: 窗口编码 QD99 is not a window of the catalogue\n"
        "  - v.csv line 5: 事项编码 XK99 is not a service item of the catalogue (its code or name)\n"
        "  - v.csv line 6: 办件量 '三' is not a whole number of services (0 or more)\n"
        "  - v.csv line 7: 办件量 '-1' is not a whole number of services (0 or more)\n"
        "  - v.csv line 8: 2024-05-06 LC01 XK01 is on line 2 already (fix them and import the file again)\n")
    assert query(db_path, "SELECT count(*) FROM service_volumes") == [(0,)]


def test_one_bad_line_and_a_missing_column_are_one_clear_error(cli, db_path, tmp_path):
    one = volumes(tmp_path / "one.csv", [["2024-05-06", "LC01", "XK01", "12"], ["2024-05-06", "LC02", "XK01", ""]])
    result = cli("volumes", "import", str(one))
    assert (result.exit_code, result.stderr) == (1, "Error: one.csv line 3: 办件量 '(empty)' is not a whole number"
                                                    " of services (0 or more), so nothing was imported (fix the line"
                                                    " and import the file again)\n")
    header = volumes(tmp_path / "h.csv", [["2024-05-06", "LC01", "12"]], header=["日期", "窗口编码", "办件量"])
    result = cli("volumes", "import", str(header))
    assert (result.exit_code, result.stderr) == (1, "Error: h.csv: missing column(s) 事项编码 (the header must be"
                                                    " 日期,窗口编码,事项编码,办件量; columns found: 日期, 窗口编码, 办件量)\n")
    assert query(db_path, "SELECT count(*) FROM service_volumes") == [(0,)]


def test_a_county_operator_may_not_import_volumes(cli, tmp_path):
    file = volumes(tmp_path / "v.csv", [["2024-05-06", "LC01", "XK01", "12"]])
    result = cli("volumes", "import", str(file), operator="county:370213")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: importing service volumes is the city bureau's (市局) task;")


def test_an_xlsx_export_with_date_cells_imports_like_the_csv(cli, db_path, tmp_path):
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(VOLUME_HEADER)
    sheet.append([datetime(2024, 5, 6), "LC01", "XK01", 12])
    sheet.append(["2024-05-07", "LC02", "XK01", 7.0])
    book.save(tmp_path / "办件量.xlsx")
    ok(cli("volumes", "import", str(tmp_path / "办件量.xlsx")))
    assert query(db_path, "SELECT day, window_code, services FROM service_volumes ORDER BY day") == [
        ("2024-05-06", "LC01", 12), ("2024-05-07", "LC02", 7)]


def test_volumes_list_as_json_and_csv_and_a_county_sees_its_own(cli, tmp_path):
    ok(cli("volumes", "import", str(volumes(tmp_path / "v.csv", [["2024-05-06", "LC01", "XK01", "12"],
                                                                  ["2024-05-06", "SN01", "XK01", "9"]]))))
    rows = json.loads(ok(cli("volumes", "list", "--format", "json")).stdout)
    assert [(r["day"], r["window_code"], r["county_name"], r["item_name"], r["services"]) for r in rows] == [
        ("2024-05-06", "SN01", "市南区", "烟草专卖零售许可证新办", 9),
        ("2024-05-06", "LC01", "李沧区", "烟草专卖零售许可证新办", 12)]
    own = list(csv.DictReader(ok(cli("volumes", "list", "--format", "csv", operator="county:370213")).stdout
                              .splitlines()))
    assert [(r["window_code"], r["services"]) for r in own] == [("LC01", "12")]
    assert ok(cli("volumes", "list", "--period", "2024-06", "--format", "json")).stdout.strip() == "[]"


def test_the_rating_rate_is_ratings_over_services_per_window_county_and_month(cli, tmp_path):
    ratings(cli, tmp_path / "r.csv", {"LC01": 30, "LC02": 12})
    ok(cli("volumes", "import", str(volumes(tmp_path / "v.csv", [["2024-05-06", "LC01", "XK01", "40"],
                                                                  ["2024-05-07", "LC01", "XK02", "20"],
                                                                  ["2024-05-06", "LC02", "XK01", "48"],
                                                                  ["2024-05-06", "LS01", "XK01", "10"]]))))

    def index(*by: str) -> list[dict]:
        args = [a for b in by for a in ("--by", b)]
        return json.loads(ok(cli("index", *args, "--period", "2024-05", "--format", "json")).stdout)["rows"]

    # by hand: LC01 30 ÷ 60 = 0.5, LC02 12 ÷ 48 = 0.25; 李沧 42 ÷ 108; 崂山 has services and no rating: 0
    by_window = {r["window"]: (r["n"], r["services"], r["rating_rate"]) for r in index("window")}
    assert by_window == {"LC01": (30, 60, 0.5), "LC02": (12, 48, 0.25), "LS01": (0, 10, 0.0)}
    by_county = {r["county"]: (r["n"], r["services"], r["rating_rate"]) for r in index("county")}
    assert by_county == {"370213": (42, 108, 42 / 108), "370212": (0, 10, 0.0)}
    [(month, n, services, rate)] = [(r["month"], r["n"], r["services"], r["rating_rate"]) for r in index("month")]
    assert (month, n, services, rate) == ("2024-05", 42, 118, 42 / 118)
    # volumes have no channel: no rate there, never a made-up one
    assert {(r["services"], r["rating_rate"]) for r in index("channel")} == {(None, None)}
    table = ok(cli("index", "--by", "window", "--county", "370213", "--period", "2024-05")).stdout
    assert "主动评价率" in table and "50.0%" in table and "25.0%" in table


def test_a_window_at_a_tenth_of_its_countys_rating_rate_is_flagged_for_the_city(cli, db_path, tmp_path):
    # LC01 57 ratings of 100 services, LC02 3 of 100: the county 60 ÷ 200 = 0.3, LC02 0.03 = a tenth of it
    ratings(cli, tmp_path / "r.csv", {"LC01": 57, "LC02": 3})
    file = volumes(tmp_path / "v.csv", [["2024-05-06", "LC01", "XK01", "100"], ["2024-05-06", "LC02", "XK01", "100"]])
    out = ok(cli("volumes", "import", str(file))).stderr
    assert "1 new window flag(s) (2024-05, 2024-06 scanned)" in out
    [flag] = json.loads(ok(cli("flags", "windows", "--format", "json")).stdout)
    assert (flag["rule"], flag["window"], flag["month"], flag["ratings"], flag["services"]) == (
        "low_rating_rate", "LC02", "2024-05", 3, 100)
    assert (flag["rating_rate"], flag["compared_rate"]) == (0.03, 0.3)
    assert flag["evidence"] == {"month": "2024-05", "ratings": 3, "services": 100, "rating_rate": 0.03,
                                "county_ratings": 60, "county_services": 200, "county_rate": 0.3, "ratio": 0.5}
    [line] = list(csv.DictReader(ok(cli("flags", "windows", "--format", "csv")).stdout.splitlines()))
    assert (line["rule_name"], line["evidence"]) == ("主动评价率远低于本县",
                                                     "2024-05 主动评价率 3/100 = 3.0%，本县 60/200 = 30.0%，低于其 50%")
    assert "主动评价率远低于本县" in ok(cli("flags", "windows")).stdout
    # scanning again adds nothing; the city's scan of the month finds the same window
    scan = ok(cli("flags", "scan", "--period", "2024-05", "--format", "json")).stdout
    assert json.loads(scan)["window_flags"]["new_total"] == 0 and json.loads(scan)["window_flags"]["hits"] == 1
    assert query(db_path, "SELECT rule, window_code FROM window_flags") == [("low_rating_rate", "LC02")]
    refused = cli("flags", "windows", operator="county:370213")
    assert refused.exit_code == 1 and refused.stderr.startswith(
        "Error: seeing the windows flagged by their rating rate is the city bureau's (市局) task;")


def test_a_rating_rate_fallen_under_half_of_the_month_before_is_flagged(cli, tmp_path):
    ratings(cli, tmp_path / "april.csv", {"LC01": 50}, day="2024-04-08")
    ratings(cli, tmp_path / "may.csv", {"LC01": 20}, day="2024-05-06", start=100)
    ok(cli("volumes", "import", str(volumes(tmp_path / "v.csv", [["2024-04-08", "LC01", "XK01", "100"],
                                                                  ["2024-05-06", "LC01", "XK01", "100"]]))))
    [flag] = json.loads(ok(cli("flags", "windows", "--period", "2024-05", "--format", "json")).stdout)
    assert (flag["rule"], flag["window"], flag["rating_rate"], flag["compared_rate"]) == (
        "rating_rate_drop", "LC01", 0.2, 0.5)
    assert flag["evidence"]["previous_month"] == "2024-04"


def test_the_flag_ratio_and_the_minimum_services_are_settings(cli, db_path, tmp_path):
    ratings(cli, tmp_path / "r.csv", {"LC01": 57, "LC02": 3})
    file = volumes(tmp_path / "v.csv", [["2024-05-06", "LC01", "XK01", "100"], ["2024-05-06", "LC02", "XK01", "100"]])
    (db_path.parent / "haocha.toml").write_text("[flags]\nrating_rate_min_services = 101\n", encoding="utf-8")
    assert "0 new window flag(s)" in ok(cli("volumes", "import", str(file))).stderr
    (db_path.parent / "haocha.toml").write_text("[flags]\nrating_rate_ratio = 0.05\n", encoding="utf-8")
    assert json.loads(ok(cli("flags", "scan", "--period", "2024-05", "--format", "json")).stdout)[
        "window_flags"]["new_total"] == 0
    (db_path.parent / "haocha.toml").write_text("[flags]\nrating_rate_ratio = 1.5\n", encoding="utf-8")
    result = cli("flags", "scan", "--period", "2024-05")
    assert result.exit_code == 1 and "flags.rating_rate_ratio must be a share from 0 up to (not including) 1, not 1.5" \
        in result.stderr


def test_the_item_may_be_given_by_its_national_implementation_code(cli, db_path, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("事项编码,实施编码,事项名称,法定时限,承诺时限\n"
                     "XK01,11370200MB1234567X4371100100001,烟草专卖零售许可证新办,20,5\n", encoding="utf-8")
    ok(cli("org", "import", str(items)))
    file = volumes(tmp_path / "办件量.csv", [["2024-05-06", "LC01", "11370200MB1234567X4371100100001", "9"]])
    ok(cli("volumes", "import", str(file)))
    assert query(db_path, "SELECT day, window_code, item_code, services FROM service_volumes") == [
        ("2024-05-06", "LC01", "XK01", 9)]
