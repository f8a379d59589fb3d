"""`haocha spc` reads its daily series from the aggregates and reproduces the textbook charts."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "spc"
START = date(2024, 3, 1)


def _rows(name):
    with open(DATA / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _load(db_path, days):
    """days: list of (n, bad, index_sum); one aggregate row per day at LC01 (李沧区)."""
    conn = sqlite3.connect(db_path)
    for i, (n, bad, index_sum) in enumerate(days):
        conn.execute(
            "INSERT INTO daily_agg_rows (day, window_code, item_code, channel, county_code, mode, n, l1, l5, index_sum,"
            " index_sq) VALUES (?, 'LC01', '', '二维码', '370213', 'offline', ?, ?, ?, ?, 0)",
            [(START + timedelta(days=i)).isoformat(), n, bad, n - bad, index_sum])
    conn.commit()


def test_p_chart_of_montgomery_table_7_4_from_the_aggregates(cli, db_path):
    data = _rows("montgomery_tbl7_4.csv")
    _load(db_path, [(int(r["size"]), int(r["count"]), 0.0) for r in data])
    last = (START + timedelta(days=len(data) - 1)).isoformat()
    result = cli("spc", "--metric", "bad-rate", "--county", "370213", "--from", START.isoformat(), "--to", last,
                 "--baseline", f"{START}..{last}", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["center"] == 234 / 2450
    by_day = {r["day"]: r for r in out["rows"]}
    eleventh = by_day[(START + timedelta(days=10)).isoformat()]
    assert (eleventh["n"], round(eleventh["ucl"], 4), round(eleventh["lcl"], 4)) == (110, 0.1796, 0.0114)
    assert "nelson1" in eleventh["signals"]
    assert [s["day"] for s in out["signals"]] == [(START + timedelta(days=7)).isoformat(), eleventh["day"]]
    underscored = cli("spc", "--metric", "bad_rate", "--county", "370213", "--from", START.isoformat(), "--to", last,
                      "--baseline", f"{START}..{last}", "--format", "json")
    assert json.loads(underscored.stdout) == out  # bad_rate, as people type it, is bad-rate
    # the other counties' windows are not in a county chart; the city chart holds them all
    city = json.loads(cli("spc", "--city", "--from", START.isoformat(), "--to", last, "--baseline",
                          f"{START}..{last}", "--format", "json").stdout)
    assert city["center"] == out["center"]


def test_xmr_chart_of_montgomery_example_6_5_with_phase_one_baseline(cli, db_path, tmp_path):
    data = _rows("montgomery_ex6_5_loan_cost.csv")
    _load(db_path, [(1, 0, float(r["cost"])) for r in data])
    phase1 = sum(1 for r in data if r["phase"] == "1")
    last = (START + timedelta(days=len(data) - 1)).isoformat()
    base_end = (START + timedelta(days=phase1 - 1)).isoformat()
    svg = tmp_path / "chart.svg"
    result = cli("spc", "--metric", "index", "--chart", "xmr", "--county", "370213", "--from", START.isoformat(),
                 "--to", last, "--baseline", f"{START}..{base_end}", "--svg", str(svg), "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    row = out["rows"][0]
    # Montgomery Example 6.5: x̄ = 300.5, MR̄ = 7.79 → limits 300.5 ± 2.66 × 7.79 (hand-checked: 321.22, 279.78)
    assert (round(row["cl"], 1), round(row["ucl"], 2), round(row["lcl"], 2)) == (300.5, 321.22, 279.78)
    # the moving-range chart is printed too: MR̄ 7.79, UCL 3.267 × MR̄ = 25.45, and the range at week 39 beyond it
    assert (round(out["mr"]["center"], 2), round(out["mr"]["ucl"], 2), out["mr"]["lcl"]) == (7.79, 25.45, 0.0)
    week39 = out["rows"][38]
    assert (week39["mr"], week39["mr_signals"], week39["signals"]) == (28.0, ["nelson1"], ["nelson1"])
    assert svg.read_text(encoding="utf-8").count("<svg") == 3  # the X chart and the MR chart under it
    # each day's n is 1: the default X̄ chart has no spread within a day to take σ from, and says so
    result = cli("spc", "--metric", "index", "--county", "370213", "--from", START.isoformat(), "--to", last,
                 "--baseline", f"{START}..{base_end}")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: the baseline has no sample of 2 or more, so no spread within samples "
                                     "(widen the baseline, or chart single values as individuals (--chart xmr))")


def test_spc_bad_input(cli, db_path):
    result = cli("spc", "--from", "2024-01-01", "--to", "2024-01-31")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: the baseline 2024-01-01..2024-01-30 has no ratings "
                                     "(choose a baseline with ratings)")
    result = cli("spc", "--metric", "speed", "--from", "2024-01-01", "--to", "2024-01-31")
    assert result.stderr.strip() == "Error: metric 'speed' is not known (use bad-rate or index)"
    result = cli("spc", "--county", "999999", "--from", "2024-01-01", "--to", "2024-01-31")
    assert result.exit_code == 1 and result.stderr.startswith("Error: county 999999 does not exist")


# ------------------------------------------------------------------- a quality engineer's own series


def _series(tmp_path, name, header, lines, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))
    return path


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _orangejuice(tmp_path):
    return _series(tmp_path, "oj.csv", "label,count,size", [f"{r['sample']},{r['D']},{r['size']}"
                                                            for r in _rows("orangejuice.csv")])


def test_series_p_chart_of_the_orange_juice_with_revised_limits(cli, tmp_path):
    path = _orangejuice(tmp_path)
    # Montgomery Ex. 7.1, the 30 trial samples: p̄ 0.2313, UCL 0.4102, LCL 0.0524; 15 and 23 out (published)
    out = _json(cli("spc", "--series", str(path), "--chart", "p", "--baseline", "1..30", "--rules", "we", "-f", "json"))
    row = out["rows"][0]
    assert (out["file"], out["chart_type"], out["baseline"]) == ("oj.csv", "p", {"first": "1", "last": "30"})
    assert (round(out["center"], 4), round(row["ucl"], 4), round(row["lcl"], 4)) == (0.2313, 0.4102, 0.0524)
    assert list(row) == ["label", "n", "value", "cl", "lcl", "ucl", "phase", "excluded", "signals"]
    assert [r["label"] for r in out["rows"] if "we1" in r["signals"] and r["phase"] == "baseline"] == ["15", "23"]
    # revised without 15 and 23: p̄ 0.2150, UCL 0.3893, LCL 0.0407 (published); the two stay on the chart
    out = _json(cli("spc", "--series", str(path), "--baseline", "1..30", "--exclude", "15,23", "-f", "json"))
    row = out["rows"][0]
    assert (round(out["center"], 4), round(row["ucl"], 4), round(row["lcl"], 4)) == (0.2150, 0.3893, 0.0407)
    assert [r["label"] for r in out["rows"] if r["excluded"]] == ["15", "23"]
    assert {"label": "41", "signals": ["nelson1", "nelson6"]} in out["signals"]
    # the np chart of the same: 50 × the published p limits
    out = _json(cli("spc", "--series", str(path), "--chart", "np", "--baseline", "1..30", "-f", "json"))
    assert (round(out["center"], 2), round(out["rows"][0]["ucl"], 2), round(out["rows"][0]["lcl"], 2)) == (
        11.57, 20.51, 2.62)
    assert out["rows"][0]["value"] == 12


def test_series_of_sas_circone_a_county_operator_charts_their_own_file(cli, tmp_path):
    # SAS/QC CircOne (n = 500): batches 10 and 19 out (published); revised p̄ 0.014, UCL 0.0298 (hand). The
    # file is read in GB18030, with the Chinese column names a bureau's sheet has.
    path = _series(tmp_path, "电路.csv", "批次,不合格数,样本量",
                   [f"{r['batch']},{r['fail']},{r['n']}" for r in _rows("sas_circone.csv")], encoding="gb18030")
    out = _json(cli("spc", "--series", str(path), "-f", "json", operator="county:370213"))
    assert [s["label"] for s in out["signals"] if "nelson1" in s["signals"]] == ["10", "19"]
    out = _json(cli("spc", "--series", str(path), "--exclude", "10", "--exclude", "19", "-f", "json",
                    operator="county:370213"))
    assert (round(out["center"], 4), round(out["rows"][0]["ucl"], 4), out["rows"][0]["lcl"]) == (0.014, 0.0298, 0.0)


def test_series_xmr_prints_the_moving_range_chart_and_sigma_both_ways(cli, tmp_path):
    path = _series(tmp_path, "loan.csv", "label,value",
                   [f"{r['week']},{r['cost']}" for r in _rows("montgomery_ex6_5_loan_cost.csv")])
    svg = tmp_path / "loan.svg"
    out = _json(cli("spc", "--series", str(path), "--chart", "xmr", "--baseline", "1..20", "--svg", str(svg),
                    "-f", "json"))
    # Montgomery Ex. 6.5: x̄ 300.5, MR̄ 7.79, limits 321.22 / 279.78, MR UCL 25.45 (as recalled, and hand-checked)
    assert (out["center"], out["sigma_method"]) == (300.5, "mr")
    assert (round(out["rows"][0]["ucl"], 2), round(out["rows"][0]["lcl"], 2)) == (321.22, 279.78)
    assert (round(out["mr"]["center"], 2), round(out["mr"]["ucl"], 2), out["mr"]["lcl"]) == (7.79, 25.45, 0.0)
    assert [r["value"] for r in out["mr"]["rows"][:4]] == [None, 22.0, 9.0, 1.0]  # 310, 288, 297, 298
    assert [r["mr"] for r in out["rows"][:4]] == [None, 22.0, 9.0, 1.0]
    assert [r["label"] for r in out["mr"]["rows"] if r["signals"]] == ["39"]
    assert [s["label"] for s in out["signals"]] == ["39", "40"]
    assert svg.read_text(encoding="utf-8").count('class="mr-chart"') == 1
    # σ from s/c4: hand-computed s = 6.5895, c4(20) = 0.98693 → σ̂ 6.6767, limits 320.53 / 280.47
    out = _json(cli("spc", "--series", str(path), "--baseline", "1..20", "--sigma-method", "sd", "-f", "json"))
    assert (out["sigma_method"], round(out["sigma"], 4)) == ("sd", 6.6767)
    assert (round(out["rows"][0]["ucl"], 2), round(out["rows"][0]["lcl"], 2)) == (320.53, 280.47)
    # qcc's viscosity example, 20 trial batches: σ by MR̄/d2 0.5077 (qcc's "MR"), by s/c4 0.5770 (qcc's "SD")
    path = _series(tmp_path, "visc.csv", "label,value", [f"{r['batch']},{r['viscosity']}"
                                                         for r in _rows("qcc_viscosity.csv")])
    for method, sigma in (("mr", 0.5077), ("sd", 0.5770)):
        out = _json(cli("spc", "--series", str(path), "--baseline", "1..20", "--sigma-method", method, "-f", "json"))
        assert (round(out["center"], 3), round(out["sigma"], 4)) == (34.088, sigma)
    # the table shows the moving ranges and MR̄ too
    table = cli("spc", "--series", str(path), "--baseline", "1..20")
    assert "移动极差" in table.stdout and "MR̄ 0.572632" in table.stderr
    # the phase in Chinese on the terminal, as the values in CSV
    assert "基线" in table.stdout and "监控" in table.stdout and "baseline" not in table.stdout
    csv_out = cli("spc", "--series", str(path), "--baseline", "1..20", "-f", "csv").stdout
    assert ",baseline," in csv_out and ",monitor," in csv_out


def _samples(name):
    import statistics

    data = {}
    for r in _rows(name):
        data.setdefault(int(r["sample"]), []).append(float(r["obs"]))
    return [(k, statistics.mean(v), statistics.stdev(v), max(v) - min(v), len(v)) for k, v in data.items()]


def test_series_xbar_with_variable_n_and_by_range(cli, tmp_path):
    # Montgomery Ex. 6.4: x̿ 74.001, pooled s̄ 0.0103, limits x̿ ± A3(n)·s̄ (n = 3: 74.021 / 73.981)
    path = _series(tmp_path, "rings.csv", "label,mean,sd,size",
                   [f"{k},{m!r},{s!r},{n}" for k, m, s, _, n in _samples("montgomery_ex6_4_variable_n.csv")])
    out = _json(cli("spc", "--series", str(path), "--chart", "xbar", "-f", "json"))
    assert (out["chart_type"], out["sigma_method"], round(out["center"], 3), round(out["sigma"], 4)) == (
        "xbar", "pooled", 74.001, 0.0103)
    limits = {r["n"]: (round(r["lcl"], 3), round(r["ucl"], 3)) for r in out["rows"]}
    assert limits == {3: (73.981, 74.021), 4: (73.984, 74.018), 5: (73.986, 74.015)}
    assert out["signals"] == []
    # Montgomery Ex. 6.1, piston rings by range: x̿ 74.001, R̄ 0.023 → limits 74.0146 / 73.9878 (exact)
    path = _series(tmp_path, "ranges.csv", "label,mean,range,size",
                   [f"{k},{m!r},{r!r},{n}" for k, m, _, r, n in _samples("pistonrings_montgomery_tbl6_3.csv")])
    out = _json(cli("spc", "--series", str(path), "-f", "json"))
    assert (out["chart_type"], out["sigma_method"]) == ("xbar", "range")
    assert (round(out["rows"][0]["ucl"], 4), round(out["rows"][0]["lcl"], 4)) == (74.0146, 73.9878)


def test_series_against_given_standards(cli, tmp_path):
    path = _orangejuice(tmp_path)
    # a standard p of 0.10, n = 50: σ = 0.04243, UCL 0.2273, LCL 0; every sample is monitored
    out = _json(cli("spc", "--series", str(path), "--center", "0.1", "-f", "json"))
    assert (out["baseline"], out["sigma_method"], round(out["rows"][0]["ucl"], 4)) == (None, "given", 0.2273)
    assert {r["phase"] for r in out["rows"]} == {"monitor"}
    loan = _series(tmp_path, "loan.csv", "label,value", ["1,300", "2,318", "3,299"])
    out = _json(cli("spc", "--series", str(loan), "--center", "300", "--sigma", "5", "-f", "json"))
    assert [(r["lcl"], r["ucl"], r["signals"]) for r in out["rows"]] == [
        (285.0, 315.0, []), (285.0, 315.0, ["nelson1"]), (285.0, 315.0, [])]
    assert (round(out["mr"]["center"], 2), round(out["mr"]["ucl"], 2)) == (5.64, 18.43)  # 1.128σ, 3.686σ
    result = cli("spc", "--series", str(path), "--center", "0.1", "--sigma", "0.02")
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: a p chart's sigma follows from p and n, so --sigma "
                                                            "is not for it (give the standard proportion alone: "
                                                            "--center 0.05)")


BAD_SERIES = [
    ("label,count\n1,2\n2,3\n", ["--chart", "p"],
     "s.csv line 1: no column size (the p chart needs label, count, size; found count, label) "
     "(name the columns in the first line)"),
    ("label,count,size\n1,2,50\n2,two,50\n", [], "s.csv line 3: count 'two' is not a number (write the count as "
                                                  "digits, e.g. 12 or 0.5)"),
    ("label,count,size\n1,2,50\n2,51,50\n", [], "s.csv line 3: count 51 is more than the size 50 (the count of bad "
                                                 "items cannot exceed the sample's n)"),
    ("label,count,size\n1,2,50\n2,3,50\n1,4,50\n", [], "s.csv line 4: label 1 is already on line 2 (give every "
                                                        "sample a label of its own)"),
    ("label,count,size\n1,2,50\n2,3,50\n3,4,50\n", ["--baseline", "2..2"],
     "the baseline of s.csv holds 1 usable point (line 3): limits need at least 2 (widen --baseline, or exclude "
     "fewer points)"),
    ("label,count,size\n1,2,50\n2,3,50\n3,4,50\n", ["--exclude", "1,2"],
     "the baseline of s.csv holds 1 usable point (line 4): limits need at least 2 (widen --baseline, or exclude "
     "fewer points)"),
    ("label,count,size\n1,2,50\n2,3,50\n", ["--exclude", "7"], "excluded point 7 is not in s.csv (give labels as "
                                                                "the file writes them)"),
    ("label,count,size\n1,2,50\n2,3,50\n", ["--baseline", "1..9"], "baseline point 9 is not in s.csv (give labels "
                                                                    "as the file writes them)"),
    ("label,value\n1,3.5\n2,-1e999\n", [], "s.csv line 3: value '-1e999' is not a finite number (write the value as "
                                            "digits)"),
    ("label,value\n1,1e308\n2,-1e308\n", [], "s.csv line 2: value '1e308' is too large for a control chart (give "
                                             "the value in a unit that keeps it below 10¹⁵)"),
    ("label,value\n1,3.5\n", [], "s.csv holds 1 sample: a control chart needs at least 2 (add the samples, one a "
                                 "line)"),
    ("label,mean,sd,size\n1,3.5,1,5\n2,3.1,,5\n", [], "s.csv line 3: sd is empty (give a number in the sd column)"),
    ('label,value\n1,3.5\n"2,4\n', [], "s.csv line 3 cannot be read (unexpected end of data) (quote a cell that "
                                       "holds the separator, and close every quote)"),
    ("label,value\n1,3\n2,4\n", ["--sigma-method", "range"], "sigma method 'range' is not one of an individuals "
                                                              "chart (use mr (MR̄/d2) or sd (s/c4))"),
    ("label,mean,range,size\n1,3,1,5\n2,4,1,5\n", ["--sigma-method", "sd"],
     "s.csv line 1: σ by sd needs each sample's standard deviation (column sd), the file gives ranges (give "
     "--sigma-method range, or an sd column)"),
    ("label,mean,sd,size\n1,3,1,5\n2,4,,1\n", [], "s.csv line 3: size 1: an X̄ chart needs samples of 2 or more "
                                                   "(chart single values as individuals (--chart xmr, column value), "
                                                   "or give --sigma-method rmsdf)"),
]


@pytest.mark.parametrize(("text", "options", "error"), BAD_SERIES)
def test_a_bad_series_file_is_one_error_line(cli, tmp_path, text, options, error):
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    result = cli("spc", "--series", str(path), *options)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {error}"
    assert result.stdout == ""


def test_series_refuses_database_options_and_missing_files(cli, tmp_path):
    result = cli("spc", "--series", str(tmp_path / "none.csv"))
    assert (result.exit_code, result.stderr.strip()) == (1, f"Error: series file {tmp_path / 'none.csv'} does not "
                                                            "exist (check the path)")
    result = cli("spc", "--series", str(tmp_path))
    assert result.exit_code == 1 and result.stderr.strip().endswith("is a folder, not a file (give the path of a CSV "
                                                                    "file)")
    path = _orangejuice(tmp_path)
    result = cli("spc", "--series", str(path), "--county", "370213")
    assert result.exit_code == 2 and "--county is for the database's charts, not for --series" in result.output


# --------------------------------------------------------- the daily index as X̄, and weeks for sparse counties


def _load_days(db_path, days):
    """days: {date: (bad, [rating indices])}: one aggregate row a day at LC01 (李沧区), with the index sums."""
    conn = sqlite3.connect(db_path)
    for day, (bad, indices) in days.items():
        n = len(indices)
        conn.execute(
            "INSERT INTO daily_agg_rows (day, window_code, item_code, channel, county_code, mode, n, l1, l5, index_sum,"
            " index_sq) VALUES (?, 'LC01', '', '二维码', '370213', 'offline', ?, ?, ?, ?, ?)",
            [day.isoformat(), n, bad, n - bad, sum(indices), sum(x * x for x in indices)])
    conn.commit()


def test_the_daily_index_is_an_xbar_chart_whose_limits_follow_n(cli, db_path):
    # Montgomery Ex. 6.4's 25 samples as 25 days of ratings (n = 3..5), then a day without ratings.
    import statistics

    data = {}
    for r in _rows("montgomery_ex6_4_variable_n.csv"):
        data.setdefault(int(r["sample"]), []).append(float(r["obs"]))
    _load_days(db_path, {START + timedelta(days=k - 1): (0, v) for k, v in data.items()})
    last = START + timedelta(days=25)  # the 26th day has no ratings
    args = ("spc", "--metric", "index", "--county", "370213", "--from", START.isoformat(), "--to", last.isoformat(),
            "--baseline", f"{START}..{START + timedelta(days=24)}", "-f", "json")
    out = _json(cli(*args))
    assert (out["chart_type"], out["sigma_method"], round(out["center"], 5)) == ("xbar", "rmsdf", 74.00075)
    # σ̂ = pooled s̄ / c4(Σ(nᵢ−1) + 1) = 0.0102912 / c4(89) = 0.0103205 (hand-computed), σ of a day's mean σ̂/√nᵢ
    assert round(out["sigma"], 7) == 0.0103205
    for row in out["rows"][:25]:
        assert row["ucl"] - row["cl"] == pytest.approx(3 * out["sigma"] / row["n"] ** 0.5)
    assert out["rows"][0]["n"] == 5 and out["rows"][1]["n"] == 3
    assert (round(out["rows"][0]["ucl"], 4), round(out["rows"][1]["ucl"], 4)) == (74.0146, 74.0186)
    assert round(out["rows"][0]["value"], 4) == round(statistics.mean(data[1]), 4)
    # a day without ratings is a gap, not a point
    assert {k: out["rows"][25][k] for k in ("n", "value", "ucl", "signals")} == {"n": 0, "value": None, "ucl": None,
                                                                                   "signals": []}
    # Montgomery's own X̄/S for variable n (s̄ with A3(nᵢ)) on request: n = 3 → 74.021 / 73.981
    out = _json(cli(*args, "--sigma-method", "pooled"))
    assert (round(out["rows"][1]["ucl"], 3), round(out["rows"][1]["lcl"], 3)) == (74.021, 73.981)


def _sparse_county(db_path):
    """About 8 ratings a day, mostly good: four baseline weeks (2026-07-06..08-02, Sundays without ratings)
    with a bad review every third day, then thirteen days without one (08-03..08-15) and one on 08-16 — the
    pattern of 李沧区's 08-05…08-14 in the demo."""
    days, day = {}, date(2026, 7, 6)
    while day <= date(2026, 8, 16):
        if day.weekday() != 6 or day >= date(2026, 8, 3):
            i = (day - date(2026, 7, 6)).days
            bad = (1 if i % 3 == 0 else 0) if day < date(2026, 8, 3) else (1 if day == date(2026, 8, 16) else 0)
            days[day] = (bad, [0.0] * bad + [100.0] * (7 - bad) + [75.0])
        day += timedelta(days=1)
    _load_days(db_path, days)


def test_weeks_for_a_sparse_county_end_the_false_runs_of_zero_days(cli, db_path):
    _sparse_county(db_path)
    base = ("spc", "--county", "370213", "--from", "2026-07-06", "--to", "2026-08-16", "--baseline",
            "2026-07-06..2026-08-02", "-f", "json")
    daily = _json(cli(*base))
    fired = {rule for s in daily["signals"] for rule in s["signals"]}
    assert {"nelson2", "nelson7"} <= fired  # by day, the run of days without a bad review fires rules 2 and 7
    assert daily["rows"][6]["n"] == 0 and daily["rows"][6]["value"] is None  # a Sunday: a gap
    weekly = _json(cli(*base, "--group", "week"))
    assert weekly["group"] == "week"
    assert [(r["week"], r["n"], r["phase"]) for r in weekly["rows"]] == [
        ("2026-07-06", 48, "baseline"), ("2026-07-13", 48, "baseline"), ("2026-07-20", 48, "baseline"),
        ("2026-07-27", 48, "baseline"), ("2026-08-03", 56, "monitor"), ("2026-08-10", 56, "monitor")]
    assert weekly["signals"] == []
    assert weekly["center"] == daily["center"]  # the same baseline ratings, whichever way they are grouped
    # the index by week is an X̄ chart too; --chart xmr stays available
    index = _json(cli(*base, "--group", "week", "--metric", "index"))
    assert (index["chart_type"], [r["n"] for r in index["rows"]]) == ("xbar", [48, 48, 48, 48, 56, 56])
    xmr = _json(cli(*base, "--group", "week", "--metric", "index", "--chart", "xmr"))
    assert xmr["chart_type"] == "xmr" and xmr["mr"]["rows"][0]["value"] is None
    month = _json(cli("spc", "--county", "370213", "--from", "2026-07-01", "--to", "2026-08-16", "--baseline",
                      "2026-07-01..2026-07-31", "--group", "month", "-f", "json"))
    assert [(r["month"], r["n"], r["phase"]) for r in month["rows"]] == [("2026-07", 184, "baseline"),
                                                                          ("2026-08", 120, "monitor")]


def test_chart_kinds_and_the_old_svg_spelling(cli, db_path, tmp_path):
    _sparse_county(db_path)
    span = ("--county", "370213", "--from", "2026-07-06", "--to", "2026-08-16")
    result = cli("spc", *span, "--chart", "xbar")
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: the bad-rate metric has no 'xbar' chart (use "
                                                            "--chart p or laney or np)")
    result = cli("spc", *span, "--chart", "np")
    assert result.exit_code == 1 and "an np chart needs the same sample size at every point" in result.stderr
    # a given standard p of 5 %: n = 8 → UCL 0.05 + 3·√(0.05·0.95/8) = 0.2812; every day monitored
    out = _json(cli("spc", *span, "--center", "0.05", "-f", "json"))
    assert (out["baseline"], out["given"], round(out["rows"][0]["ucl"], 4)) == (None, {"center": 0.05, "sigma": None},
                                                                               0.2812)
    assert {r["phase"] for r in out["rows"]} == {"monitor"}
    result = cli("spc", *span, "--center", "0.05", "--baseline", "2026-07-06..2026-07-31")
    assert result.stderr.strip() == ("Error: a chart against given standards takes no baseline and no excluded "
                                     "points (leave out --baseline and --exclude, or the given standard)")
    svg = tmp_path / "p.svg"
    result = cli("spc", *span, "--chart", str(svg))  # --chart FILE.svg, as before: the SVG
    assert result.exit_code == 0 and f"note: --chart {svg} is now --svg {svg}" in result.stderr
    assert svg.read_text(encoding="utf-8").startswith("<svg")


def test_any_series_file_is_charted_or_refused_cleanly(cli, tmp_path):
    # Random series files — the columns of a chart, sometimes one missing or renamed, numbers with now and then
    # an odd cell (text, huge, NaN, full-width, a stray quote, ESC, a repeated label): each run ends with exit 0
    # and valid JSON without NaN or infinity, or with one Error: line.
    import random

    rnd = random.Random(19)
    odd = ["", "abc", "1e308", "nan", "inf", "３", "1,000", '"', "-1", "1e-320", "\x1b", "５０", "2.5"]
    layouts = [["label", "count", "size"], ["label", "value"], ["label", "mean", "sd", "size"],
               ["label", "mean", "range", "size"], ["标签", "count", "n"], ["label", "size"]]
    path = tmp_path / "s.csv"
    outcomes = []
    for _ in range(80):
        header = rnd.choice(layouts)
        body = []
        for i in range(rnd.randint(1, 12)):
            row = [str(i + 1 if rnd.random() > 0.05 else 1)]
            for column in header[1:]:
                size = rnd.randint(2, 60)
                value = {"count": rnd.randint(0, 5), "size": size, "n": size, "value": round(rnd.gauss(50, 5), 2),
                         "mean": round(rnd.gauss(50, 2), 3), "sd": round(rnd.uniform(0, 4), 3),
                         "range": round(rnd.uniform(0, 9), 2)}[column]
                row.append(rnd.choice(odd) if rnd.random() < 0.03 else str(value))
            body.append(",".join(row))
        path.write_text("\n".join([",".join(header), *body]) + "\n", encoding="utf-8")
        options = rnd.choice([[], [], ["--chart", rnd.choice(["p", "np", "laney", "xmr", "xbar"])],
                              ["--baseline", "1..3"], ["--exclude", "2"], ["--center", rnd.choice(["0.1", "50", "-1"])],
                              ["--center", "50", "--sigma", rnd.choice(["0", "2"])],
                              ["--sigma-method", rnd.choice(["mr", "sd", "pooled", "rmsdf", "range"])]])
        result = cli("spc", "--series", str(path), *options, "-f", "json")
        assert result.exit_code in (0, 1), (header, body, options, result.output)
        outcomes.append(result.exit_code)
        if result.exit_code == 0:
            assert "NaN" not in result.stdout and "Infinity" not in result.stdout
            assert len(json.loads(result.stdout)["rows"]) == len(body)
        else:
            assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert outcomes.count(0) >= 10 and outcomes.count(1) >= 10  # both ways were taken
