"""Window staff (窗口工作人员, issue 21 item 5): the catalogue's members named on ratings, `index --by staff` and
`rank --by staff` for the city with a minimum N, never for a county, nor in a county's or the public report;
`org import-window-staff` of a CSV. And the rating rate in the monthly report (item 6)."""

from __future__ import annotations

import csv
import json

from import_support import good, query, write_csv
from support import ok

STAFF_TOML = """
[[staff]]
code = "LC-S01"
name = "王芳"
county = "370213"

[[staff]]
code = "LC-S02"
name = "李强"
county = "370213"
"""


def _bureau(cli, tmp_path) -> None:
    """LC-S01: 30 ratings (15 非常满意, 15 满意); LC-S02: 5 不满意; LC-X9 (not in the catalogue): 2 满意."""
    (tmp_path / "staff.toml").write_text(STAFF_TOML, encoding="utf-8")
    ok(cli("org", "import", str(tmp_path / "staff.toml")))
    rows = [good(i, staff_code="LC-S01", level="非常满意" if i <= 15 else "满意") for i in range(1, 31)]
    rows += [good(i, staff_code="LC-S02", level="不满意", window_code="LC02") for i in range(31, 36)]
    rows += [good(i, staff_code="LC-X9") for i in range(36, 38)]
    rows += [good(38)]  # no staff named
    ok(cli("import", str(write_csv(tmp_path / "r.csv", rows))))


def test_index_by_staff_shows_figures_from_the_minimum_n_on(cli, tmp_path):
    _bureau(cli, tmp_path)
    data = json.loads(ok(cli("index", "--by", "staff", "--period", "2024-05", "--format", "json")).stdout)
    rows = {r["staff"]: r for r in data["rows"]}
    assert set(rows) == {"LC-S01", "LC-S02", "LC-X9"} and data["min_n"] == 30
    # by hand: t(5) = 100, t(4) = 75 → (15 × 100 + 15 × 75) ÷ 30 = 87.5; all 30 are 好评
    s01 = rows["LC-S01"]
    assert (s01["staff_name"], s01["county_code"], s01["n"], s01["index"], s01["good_rate"], s01["bad_rate"]) == (
        "王芳", "370213", 30, 87.5, 1.0, 0.0)
    s02 = rows["LC-S02"]
    assert (s02["staff_name"], s02["n"], s02["index"], s02["good_rate"], s02["min_n_reached"]) == (
        "李强", 5, None, None, False)
    assert data["not_in_catalogue"] == ["LC-X9"] and rows["LC-X9"]["staff_name"] == ""
    assert "1 staff code(s) of 3 on the ratings are not in the catalogue" in data["note"]
    table = ok(cli("index", "--by", "staff", "--period", "2024-05"))
    assert "评价数少于 30 条的不显示满意指数与好差评率（–）" in table.stderr
    [line] = [line for line in table.stdout.splitlines() if "李强" in line]
    assert "–" in line and "87.5" not in line


def test_the_minimum_n_is_a_setting(cli, db_path, tmp_path):
    _bureau(cli, tmp_path)
    (db_path.parent / "haocha.toml").write_text("[window_staff]\nmin_n = 5\n", encoding="utf-8")
    data = json.loads(ok(cli("index", "--by", "staff", "--period", "2024-05", "--format", "json")).stdout)
    s02 = {r["staff"]: r for r in data["rows"]}["LC-S02"]
    assert (s02["n"], s02["index"], s02["bad_rate"]) == (5, 25.0, 1.0)


def test_rank_by_staff_ranks_those_with_the_minimum_n_and_lists_the_others_without_figures(cli, db_path, tmp_path):
    _bureau(cli, tmp_path)
    data = json.loads(ok(cli("rank", "--by", "staff", "--period", "2024-05", "--format", "json")).stdout)
    assert [(r["rank"], r["staff"], r["shrunk"]) for r in data["rows"]] == [
        (1, "LC-S01", 87.5), (None, "LC-S02", None), (None, "LC-X9", None)]
    (db_path.parent / "haocha.toml").write_text("[window_staff]\nmin_n = 5\n", encoding="utf-8")
    data = json.loads(ok(cli("rank", "--by", "staff", "--period", "2024-05", "--format", "json")).stdout)
    # μ = (30 × 87.5 + 5 × 25) ÷ 35, W = 35 ÷ 2; shrunk = (W·μ + N·SI) ÷ (W + N)
    mu, w = (30 * 87.5 + 5 * 25) / 35, 35 / 2
    assert [r["staff"] for r in data["rows"]] == ["LC-S01", "LC-S02", "LC-X9"]
    assert abs(data["rows"][1]["shrunk"] - (w * mu + 5 * 25) / (w + 5)) < 1e-9


def test_a_county_operator_is_refused_the_figures_of_window_staff(cli, tmp_path):
    _bureau(cli, tmp_path)
    for command in ("index", "rank"):
        result = cli(command, "--by", "staff", "--period", "2024-05", operator="county:370213")
        assert result.exit_code == 1
        assert "is the city bureau's (市局) task; county:370213 may not do it (the figures of window staff" \
               " (窗口工作人员) are personal: the city's alone, never in a county's or the public report)" \
               in result.stderr
    result = cli("index", "--by", "staff", "--by", "month", "--period", "2024-05")
    assert (result.exit_code, result.stderr) == (1, "Error: --by staff cannot combine with other keys (give --by"
                                                    " staff alone (with --county or --window to narrow it))\n")


def test_no_county_report_and_no_public_report_names_window_staff(cli, tmp_path):
    _bureau(cli, tmp_path)
    ok(cli("report", "county", "--county", "370213", "--period", "2024-05", "--out", str(tmp_path / "c")))
    ok(cli("report", "public", "--month", "2024-05", "--out", str(tmp_path / "p")))
    written = [*(tmp_path / "c").iterdir(), *(tmp_path / "p").iterdir()]
    assert written
    for path in written:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "LC-S01" not in text and "王芳" not in text, path.name


def test_org_import_window_staff_reads_a_csv_and_keeps_the_phone_masked(cli, db_path, tmp_path):
    file = tmp_path / "窗口工作人员.csv"
    with file.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["工作人员编码", "姓名", "区县局", "联系电话", "状态"])
        writer.writerow(["LC-S07", "赵敏", "李沧", "13900001111", "在用"])
        writer.writerow(["SN-S01", "钱进", "市南区", "", ""])
    ok(cli("org", "import-window-staff", str(file)))
    assert query(db_path, "SELECT code, name, county_code, phone_masked, active FROM staff"
                           " WHERE code IN ('LC-S07', 'SN-S01') ORDER BY code") == [
        ("LC-S07", "赵敏", "370213", "139****1111", 1), ("SN-S01", "钱进", "370202", None, 1)]
    bad = tmp_path / "bad.csv"
    bad.write_text("工作人员编码,姓名,行政区划代码\nLC-S08,孙丽,999999\n", encoding="utf-8")
    result = cli("org", "import-window-staff", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: bad.csv line 2: county 999999 does not exist (known counties: 370202 市南区")
    assert query(db_path, "SELECT count(*) FROM staff WHERE code = 'LC-S08'") == [(0,)]


def test_the_monthly_report_has_the_rating_rate_per_county_and_the_flagged_windows(cli, tmp_path):
    rows = [good(i, window_code="LC01" if i <= 57 else "LC02") for i in range(1, 61)]
    ok(cli("import", str(write_csv(tmp_path / "r.csv", rows))))
    write_csv(tmp_path / "v.csv", [["2024-05-06", "LC01", "XK01", "100"], ["2024-05-06", "LC02", "XK01", "100"]],
              header=["日期", "窗口编码", "事项编码", "办件量"])
    ok(cli("volumes", "import", str(tmp_path / "v.csv")))
    ok(cli("report", "monthly", "--month", "2024-05", "--format", "md", "--out", str(tmp_path / "out")))
    [report] = list((tmp_path / "out").glob("*.md"))
    text = report.read_text(encoding="utf-8")
    assert "主动评价率（评价数 ÷ 办件量）" in text
    assert "主动评价率提示（市局核查）：LC02" in text
    [line] = [line for line in text.splitlines() if "李沧区 (370213)" in line and "200" in line]
    assert "60" in line and "30.0%" in line
