"""`haocha spc` reads its daily series from the aggregates and reproduces the textbook charts."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

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
            "INSERT INTO daily_agg (day, window_code, item_code, channel, county_code, mode, n, l1, l5, index_sum,"
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
    result = cli("spc", "--metric", "index", "--county", "370213", "--from", START.isoformat(), "--to", last,
                 "--baseline", f"{START}..{base_end}", "--chart", str(svg), "--format", "json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["rows"][0]
    # Montgomery Example 6.5: x̄ = 300.5, MR̄ = 7.79 → limits 300.5 ± 2.66 × 7.79 (hand-checked: 321.22, 279.78)
    assert (round(row["cl"], 1), round(row["ucl"], 2), round(row["lcl"], 2)) == (300.5, 321.22, 279.78)
    assert svg.read_text(encoding="utf-8").startswith("<svg")


def test_spc_bad_input(cli, db_path):
    result = cli("spc", "--from", "2024-01-01", "--to", "2024-01-31")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: the baseline 2024-01-01..2024-01-30 has no ratings "
                                     "(choose a baseline with ratings)")
    result = cli("spc", "--metric", "speed", "--from", "2024-01-01", "--to", "2024-01-31")
    assert result.stderr.strip() == "Error: metric 'speed' is not known (use bad-rate or index)"
    result = cli("spc", "--county", "999999", "--from", "2024-01-01", "--to", "2024-01-31")
    assert result.exit_code == 1 and result.stderr.startswith("Error: county 999999 does not exist")
