"""Indices, rankings, benchmarking, the pilot comparison and drivers (issue 4), against hand-worked values
and against the raw ratings recomputed independently."""

from __future__ import annotations

import json
import math
import random
import sqlite3
from datetime import date, timedelta
from fractions import Fraction

import pytest
from support import ok

from haocha_cli.context import open_context
from haocha_cli.ratings import exclude_rating

HEADER = "rating_id,rated_at,window_code,channel,item_code,level,C1,D1,D2,D3\n"
WORKED = HEADER + (
    "w1,2026-03-02 10:00:00,LC01,二维码,XK01,非常满意,,,,\n"
    "w2,2026-03-02 10:05:00,LC01,二维码,XK01,满意,2,,,\n"
    "w3,2026-03-03 11:00:00,LC01,政务大厅平板电脑,XK02,不满意,,,,\n"
    "w4,2026-03-04 09:30:00,LC01,二维码,XK01,基本满意,,1,1,\n"
    "w5,2026-03-05 20:00:00,LCWS,PC端,XK03,满意,,,,5\n"
)


def _import(cli, tmp_path, text, name="batch.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = cli("import", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    return path


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_worked_example_of_method_md(cli, tmp_path):
    _import(cli, tmp_path, WORKED)
    r2 = 75 - 50 * Fraction(154, 1183)
    r4 = 50 - 50 * Fraction(291, 1183)
    r5 = 75 + 25 * Fraction(123, 1020)
    windows = {r["window"]: r for r in _json(cli("index", "--by", "window", "--period", "2026-03", "-f", "json"))["rows"]}
    lc01 = windows["LC01"]
    assert lc01["index"] == pytest.approx(float((100 + r2 + 25 + r4) / 4), abs=1e-12)
    assert round(lc01["index"], 6) == 57.797971  # as printed in docs/method.md
    assert lc01["n"] == 4
    assert lc01["indicators"] == {"C1": {"mean": 2.0, "index": 25.0, "n": 1}, "D1": {"mean": 1.0, "index": 0.0, "n": 1},
                                  "D2": {"mean": 1.0, "index": 0.0, "n": 1}}
    county = _json(cli("index", "--by", "county", "--period", "2026-03", "-f", "json"))
    assert county["weights_version"] == "V1.0"
    row = county["rows"][0]
    assert row["county"] == "370213" and row["county_name"] == "李沧区"
    assert round(row["index"], 6) == 61.841318
    assert row["index"] == pytest.approx(float((100 + r2 + 25 + r4 + r5) / 5), abs=1e-12)
    assert (row["n"], row["good_rate"], row["bad_rate"], row["basic_share"]) == (5, 0.6, 0.2, 0.2)
    assert row["indicators"]["D3"] == {"mean": 5.0, "index": 100.0, "n": 1}


def _recompute(db_path, start, end, key):
    """Satisfaction index per key straight from the raw ratings: each rating's index rebuilt from its level
    and scores with the stored weights (not the importer's rating_index)."""
    conn = sqlite3.connect(db_path)
    weights = {}
    for mode, code, weight in conn.execute("SELECT mode, indicator_code, weight FROM indicator_weights WHERE version = 'V1.0'"):
        weights.setdefault(mode, {})[code] = weight
    groups: dict[str, list[float]] = {}
    excluded: dict[str, int] = {}
    for unit, mode, level, scores, ex in conn.execute(
            f"SELECT {key}, mode, level, scores, excluded FROM ratings WHERE day BETWEEN ? AND ?", [start, end]):
        if ex:
            excluded[unit] = excluded.get(unit, 0) + 1
            continue
        given = json.loads(scores) if scores else {}
        ri = sum(w * (given.get(code, level) - 1) / 4 * 100 for code, w in weights[mode].items())
        groups.setdefault(unit, []).append(ri)
    return {u: (sum(v) / len(v), len(v)) for u, v in groups.items()}, excluded


def test_index_equals_raw_recomputation_with_scores_exclusions_and_both_modes(cli, tmp_path, db_path):
    rng = random.Random(7)
    windows = ["LC01", "LC02", "LCWS", "SN01", "SNWS", "HD01", "JZ01", "JZWS"]
    channels = {"LC01": "二维码", "LC02": "政务大厅平板电脑", "SN01": "短信", "HD01": "二维码", "JZ01": "电话"}
    lines = [HEADER.strip() + ",A1,E2"]
    levels = ["非常不满意", "不满意", "基本满意", "满意", "非常满意"]
    for i in range(600):
        w = rng.choice(windows)
        online = w.endswith("WS")
        scores = dict.fromkeys(("C1", "D1", "D2", "D3", "A1", "E2"), "")
        if rng.random() < 0.4:
            for code in rng.sample(["C1", "D1", "D2", "E2"] + (["D3"] if online else ["A1"]), 2):
                scores[code] = str(rng.randint(1, 5))
        day = 1 + i % 28
        lines.append(f"g{i},2026-02-{day:02d} {8 + i % 10:02d}:{i % 60:02d}:00,{w},"
                     f"{'PC端' if online else channels[w]},XK0{1 + i % 8},{rng.choice(levels)},"
                     + ",".join(scores[c] for c in ("C1", "D1", "D2", "D3", "A1", "E2")))
    _import(cli, tmp_path, "\n".join(lines) + "\n")
    ctx = open_context(db_path)
    ids = [r[0] for r in ctx.db.execute("SELECT id FROM ratings ORDER BY id LIMIT 25")]
    for rid in ids:
        exclude_rating(ctx.db, rid, "confirmed_false")
    ctx.db.close()
    for key in ("county_code", "window_code", "channel"):
        expected, excluded = _recompute(db_path, "2026-02-01", "2026-02-28", key)
        by = {"county_code": "county", "window_code": "window", "channel": "channel"}[key]
        rows = _json(cli("index", "--by", by, "--period", "2026-02", "-f", "json"))["rows"]
        assert {r[by] for r in rows} == set(expected)
        for r in rows:
            assert r["index"] == pytest.approx(expected[r[by]][0], abs=1e-9)
            assert r["n"] == expected[r[by]][1]
            assert r["excluded_n"] == excluded.get(r[by], 0)
    city = _json(cli("index", "--period", "2026-02", "-f", "json"))["rows"][0]
    assert city["n"] == 575 and city["excluded_n"] == 25
    # per-indicator means use only the scores actually given
    conn = sqlite3.connect(db_path)
    scored = [json.loads(s)["C1"] for (s,) in conn.execute(
        "SELECT scores FROM ratings WHERE excluded IS NULL AND scores LIKE '%C1%'")]
    assert city["indicators"]["C1"]["n"] == len(scored)
    assert city["indicators"]["C1"]["mean"] == pytest.approx(sum(scored) / len(scored), abs=1e-12)
    # combined keys: county × week add up to the county
    combined = _json(cli("index", "--by", "county", "--by", "week", "--period", "2026-02", "-f", "json"))["rows"]
    lc = [r for r in combined if r["county"] == "370213"]
    assert sum(r["n"] for r in lc) == expected_n_for(db_path, "370213")
    assert {r["week"] for r in lc} <= {"2026-01-26", "2026-02-02", "2026-02-09", "2026-02-16", "2026-02-23"}
    # a week is read by day and its days added up (indices._level_sums): every county × week as the raw ratings
    # have it, in the keys' order
    raw: dict[tuple[str, str], list[float]] = {}
    for county, day, value in conn.execute("SELECT county_code, day, rating_index FROM ratings WHERE excluded IS NULL"
                                           " AND day BETWEEN '2026-02-01' AND '2026-02-28'"):
        monday = date.fromisoformat(day) - timedelta(days=date.fromisoformat(day).weekday())
        raw.setdefault((county, monday.isoformat()), []).append(value)
    assert [(r["county"], r["week"]) for r in combined] == sorted(raw)
    for r in combined:
        values = raw[r["county"], r["week"]]
        assert r["n"] == len(values)
        assert r["index"] == pytest.approx(sum(values) / len(values), abs=1e-9)


def expected_n_for(db_path, county):
    return sqlite3.connect(db_path).execute(
        "SELECT count(*) FROM ratings WHERE county_code = ? AND excluded IS NULL", [county]).fetchone()[0]


def _ratings(rows):
    return HEADER + "".join(f"{rid},{at},{w},二维码,XK01,{level},,,,\n" for rid, at, w, level in rows)


def test_rank_shrinkage_and_change_against_the_previous_period(cli, tmp_path):
    rows = [(f"a{i}", f"2026-04-0{i + 1} 10:00:00", "LC01", "非常满意") for i in range(3)]
    rows += [(f"b{i}", f"2026-04-{i + 10} 10:00:00", "SN01", "满意") for i in range(9)]
    rows += [("p1", "2026-03-15 10:00:00", "LC02", "满意")]
    _import(cli, tmp_path, _ratings(rows))
    data = _json(cli("rank", "--by", "county", "--period", "2026-04", "-f", "json"))
    # μ = (3·100 + 9·75)/12 = 81.25; W = 12 ratings / the 2 counties with ratings = 6 (not 12/10 = 1.2: the
    # eight counties without ratings do not weaken the shrinkage)
    assert data["mu"] == 81.25 and data["w"] == 6.0
    assert (data["w_basis"], data["rated_units"], data["ranked"]) == ("mean_n", 2, 2)
    first, second = data["rows"][:2]
    assert (first["county"], first["rank"], first["n"], first["index"]) == ("370213", 1, 3, 100.0)
    assert first["shrunk"] == pytest.approx((6 * 81.25 + 300) / 9, abs=1e-12)  # 787.5/9 = 87.5
    assert second["shrunk"] == pytest.approx((6 * 81.25 + 675) / 15, abs=1e-12)  # 1162.5/15 = 77.5
    assert (round(first["shrunk"], 9), round(second["shrunk"], 9)) == (87.5, 77.5)
    assert (first["previous_index"], first["change"]) == (75.0, 25.0)
    assert data["previous_period"]["label"] == "2026-03"
    # the eight counties without ratings are listed, unranked
    assert len(data["rows"]) == 10 and [r["rank"] for r in data["rows"][2:]] == [None] * 8
    windows = _json(cli("rank", "--by", "window", "--county", "370213", "--period", "2026-04", "-f", "json"))
    assert [r["window"] for r in windows["rows"]] == ["LC01", "LC02", "LCWS"]
    # 李沧's windows: only LC01 has ratings (3), so W = 3/1 = 3 (not 3/3 = 1) and μ = 100
    assert (windows["w"], windows["rated_units"], windows["mu"]) == (3.0, 1, 100.0)


def test_rank_of_windows_weighs_the_prior_by_the_windows_with_ratings(cli, tmp_path, db_path):
    rows = [(f"a{i}", f"2026-04-0{i + 1} 10:00:00", "LC01", "非常满意") for i in range(3)]
    rows += [(f"b{i}", f"2026-04-{i + 10} 10:00:00", "SN01", "满意") for i in range(9)]
    rows += [("x1", "2026-04-20 10:00:00", "HD01", "不满意")]  # excluded below: not counted, not a rated unit
    _import(cli, tmp_path, _ratings(rows))
    ctx = open_context(db_path)
    exclude_rating(ctx.db, ctx.db.execute("SELECT id FROM ratings WHERE rating_id = 'x1'").fetchone()[0],
                   "confirmed_false")
    ctx.db.close()
    data = _json(cli("rank", "--by", "window", "--period", "2026-04", "-f", "json"))
    # 25 windows listed; 2 with counted ratings: W = 12/2 = 6 (the 12/25 = 0.48 before)
    assert len(data["rows"]) == 25 and (data["ranked"], data["rated_units"]) == (2, 2)
    assert (data["mu"], data["w"]) == (81.25, 6.0)
    assert [(r["window"], r["rank"], r["n"], round(r["shrunk"], 9)) for r in data["rows"][:2]] == [
        ("LC01", 1, 3, 87.5), ("SN01", 2, 9, 77.5)]
    hd01 = next(r for r in data["rows"] if r["window"] == "HD01")
    assert (hd01["rank"], hd01["n"], hd01["excluded_n"], hd01["shrunk"]) == (None, 0, 1, None)
    heading = ok(cli("rank", "--by", "window", "--period", "2026-04")).stderr.splitlines()[1]
    assert heading == ("收缩得分 = (W·μ + N·满意指数) ÷ (W + N)：μ = 81.2，W = 6（有评价的 2 个窗口的平均评价数）；"
                       "较上期：与 2026-03 比较；2 个参与排名")


def test_rank_with_a_configured_prior_weight(cli, tmp_path, db_path):
    (db_path.parent / "haocha.toml").write_text("[ranking]\nshrink_weight = 100\n", encoding="utf-8")
    rows = [(f"a{i}", f"2026-04-0{i + 1} 10:00:00", "LC01", "非常满意") for i in range(3)]
    rows += [(f"b{i}", f"2026-04-{i + 10} 10:00:00", "SN01", "满意") for i in range(9)]
    _import(cli, tmp_path, _ratings(rows))
    data = _json(cli("rank", "--period", "2026-04", "-f", "json"))
    assert (data["w"], data["w_basis"]) == (100.0, "configured")
    assert data["rows"][0]["shrunk"] == pytest.approx((100 * 81.25 + 300) / 103, abs=1e-12)  # 81.796117
    assert "W = 100（配置值 ranking.shrink_weight）" in ok(cli("rank", "--period", "2026-04")).stderr


def test_compare_pilot_against_the_other_counties(cli, tmp_path):
    rows = [("b1", "2026-03-02 10:00:00", "LC01", "满意"), ("b2", "2026-03-03 10:00:00", "LC01", "不满意"),
            ("a1", "2026-05-04 10:00:00", "LC01", "非常满意"), ("a2", "2026-05-05 10:00:00", "LC01", "满意"),
            ("a3", "2026-05-06 10:00:00", "LC02", "满意"),
            ("c1", "2026-03-02 10:00:00", "SN01", "满意"), ("c2", "2026-03-02 11:00:00", "SN01", "满意"),
            ("c3", "2026-05-04 10:00:00", "SN01", "基本满意"), ("c4", "2026-05-04 11:00:00", "HD01", "满意")]
    _import(cli, tmp_path, _ratings(rows))
    data = _json(cli("compare", "--county", "370213", "--before", "2026-03-01..2026-03-31",
                     "--after", "2026-05-01..2026-05-31", "-f", "json"))
    # Pilot index: before 75, 25 (mean 50, s² = 1250); after 100, 75, 75 (mean 83.3333, s² = 208.3333)
    idx = data["pilot_index"]
    se = math.sqrt(1250 / 2 + (625 / 3) / 3)
    assert idx["diff"] == pytest.approx(100 / 3, abs=1e-9)
    assert idx["se"] == pytest.approx(se, abs=1e-9)
    df = se**4 / ((1250 / 2) ** 2 / 1 + ((625 / 3) / 3) ** 2 / 2)
    assert idx["df"] == pytest.approx(df, abs=1e-9)
    # Pilot 好评率: 1/2 → 3/3; z = 0.5 / √(0.8·0.2·(1/2 + 1/3)); p = erfc(|z|/√2)
    good = data["pilot_good_rate"]
    z = 0.5 / math.sqrt(0.8 * 0.2 * (1 / 2 + 1 / 3))
    assert (good["p1"], good["p2"], good["diff"]) == (0.5, 1.0, 0.5)
    assert good["z"] == pytest.approx(z, abs=1e-12)
    assert good["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), abs=1e-12)
    # Control: 好评率 1 → 1/2; DiD of 好评率 = 0.5 − (−0.5) = 1.0
    assert data["control_good_rate"]["diff"] == -0.5
    assert data["did_good_rate"]["diff"] == pytest.approx(1.0)
    did_se = math.sqrt(0.5 * 0.5 / 2 + 0 + 0 + 0.5 * 0.5 / 2)
    assert data["did_good_rate"]["se"] == pytest.approx(did_se, abs=1e-12)
    assert data["groups"]["control_after"]["n"] == 2


def test_compare_without_a_pilot_names_what_is_missing(cli, db_path):
    result = cli("compare", "--before", "2026-03")
    assert result.exit_code == 1
    assert result.stderr == ("Error: the pilot comparison needs --county and --after (or pilot.county and pilot.after in"
                             " the configuration) (give --county, --before and --after, or set county, before and after"
                             " under [pilot] in haocha.toml)\n")
    (db_path.parent / "haocha.toml").write_text('[pilot]\ncounty = "370213"\nafter = "2026-05"\n', encoding="utf-8")
    data = json.loads(ok(cli("compare", "--before", "2026-03", "-f", "json")).stdout)
    assert (data["county"], data["before"]["label"], data["after"]["label"]) == ("370213", "2026-03", "2026-05")
    # no ratings yet: each figure says which group is missing, in the pilot's words
    assert data["pilot_index"]["reason"] == ("the pilot group before has 0 ratings and the pilot group after has 0"
                                             " ratings: a variance needs at least 2")
    assert data["control_good_rate"]["reason"] == ("the control group before and the control group after have no"
                                                   " ratings (n = 0)")


def test_benchmark_gaps_and_weakest_indicators(cli, tmp_path):
    text = HEADER + (
        "k1,2026-03-02 10:00:00,LC01,二维码,XK01,满意,5,4,3,\n"
        "k2,2026-03-02 11:00:00,LC01,二维码,XK01,满意,5,4,3,\n"
        "k3,2026-03-02 10:00:00,SN01,二维码,XK01,满意,3,2,5,\n")
    _import(cli, tmp_path, text)
    data = _json(cli("benchmark", "--period", "2026-03", "--min-n", "1", "-f", "json"))
    cell = {(r["county"], r["indicator"]): r for r in data["rows"]}
    lc_c1 = cell[("370213", "C1")]
    assert (lc_c1["index"], lc_c1["best_county"], lc_c1["gap_to_best"]) == (100.0, "370213", 0.0)
    sn_c1 = cell[("370202", "C1")]
    assert (sn_c1["index"], sn_c1["gap_to_best"]) == (50.0, -50.0)
    # city mean of C1: scores 5, 5, 3 → mean 13/3 → t = (13/3 − 1)/4 × 100 = 83.3333
    assert sn_c1["city_index"] == pytest.approx((13 / 3 - 1) / 4 * 100)
    assert cell[("370213", "D2")]["best_county"] == "370202"
    assert data["weakest"] == {"370202": ["D1", "C1", "D2"], "370213": ["D2", "D1", "C1"]}
    assert data["note"] is None and [(i["indicator"], i["reached"]) for i in data["indicators"]] == [
        ("C1", 2), ("D1", 2), ("D2", 2)]


BENCH = HEADER + (
    "k1,2026-03-02 10:00:00,LC01,二维码,XK01,满意,5,4,3,\n"
    "k2,2026-03-02 11:00:00,LC01,二维码,XK01,满意,5,4,3,\n"
    "k3,2026-03-02 10:00:00,SN01,二维码,XK01,满意,3,2,5,\n")


def test_benchmark_is_set_only_by_counties_that_reached_the_minimum(cli, tmp_path):
    _import(cli, tmp_path, BENCH)
    data = _json(cli("benchmark", "--period", "2026-03", "--min-n", "2", "-f", "json"))
    # 李沧 has 2 scores of each indicator, 市南 1: on D2 市南's 5 (index 100) is the highest, but with N = 1 it
    # cannot be the benchmark; 李沧's 3 (index 50) is, and 市南's gap to it is +50.
    assert data["indicators"] == [
        {"indicator": code, "indicator_name": name, "scored_counties": 2, "reached": 1, "best_county": "370213",
         "best_index": best, "best_n": 2}
        for code, name, best in (("C1", "服务规范", 100.0), ("D1", "办理时限", 75.0), ("D2", "一次办好", 50.0))]
    cell = {(r["county"], r["indicator"]): r for r in data["rows"]}
    sn_d2 = cell[("370202", "D2")]
    assert (sn_d2["n"], sn_d2["index"], sn_d2["min_n_reached"], sn_d2["best_county"], sn_d2["gap_to_best"]) == (
        1, 100.0, False, "370213", 50.0)
    assert (cell[("370202", "D1")]["gap_to_best"], cell[("370213", "C1")]["min_n_reached"]) == (-50.0, True)
    assert data["note"] is None


def test_benchmark_without_a_county_at_the_minimum_has_no_benchmark_and_says_so(cli, tmp_path):
    _import(cli, tmp_path, BENCH)
    data = _json(cli("benchmark", "--period", "2026-03", "--min-n", "3", "-f", "json"))
    assert [(i["indicator"], i["scored_counties"], i["reached"], i["best_county"], i["best_index"], i["best_n"])
            for i in data["indicators"]] == [("C1", 2, 0, None, None, None), ("D1", 2, 0, None, None, None),
                                             ("D2", 2, 0, None, None, None)]
    # every county keeps its own index and its gap to the city mean; nobody gets a gap to a benchmark
    assert len(data["rows"]) == 6
    assert {(r["best_county"], r["best_index"], r["gap_to_best"]) for r in data["rows"]} == {(None, None, None)}
    lc_c1 = next(r for r in data["rows"] if (r["county"], r["indicator"]) == ("370213", "C1"))
    assert lc_c1["gap_to_city"] == pytest.approx(100 - (13 / 3 - 1) / 4 * 100)
    assert data["note"] == ("3 of 3 indicators have no county with N ≥ 3 scores in 2026-03: no benchmark (标杆)"
                            " for C1, D1, D2")
    result = ok(cli("benchmark", "--period", "2026-03", "--min-n", "3"))
    assert result.stderr.splitlines() == [
        "对标 · 2026-03（2026-03-01 至 2026-03-31）· 指标体系 V1.0",
        "标杆：该指标评分数 N ≥ 3 的县级局中满意指数最高者；没有县级局达到的指标无标杆",
        "3 项指标没有县级局达到 N ≥ 3，无标杆：C1, D1, D2"]
    assert "各指标达到 N ≥ 3 的县级局数与标杆" in result.stdout


def test_drivers_correlation_from_the_aggregate_sums(cli, tmp_path):
    text = HEADER + "".join(
        f"d{i},2026-03-0{1 + i} 10:00:00,LC01,二维码,XK01,{level},{c1},,,\n"
        for i, (level, c1) in enumerate([("满意", 4), ("非常满意", 5), ("不满意", 1), ("基本满意", 3)]))
    _import(cli, tmp_path, text)
    rows = _json(cli("indicators", "drivers", "--period", "2026-03", "-f", "json"))["rows"]
    assert [r["indicator"] for r in rows] == ["C1"]
    # levels (4, 5, 2, 3) against C1 (4, 5, 1, 3): r = 9.75 / √(5 × 8.75)... worked: Σxy − ΣxΣy/n = 51 − 13·14/4
    xs, ys = [4, 5, 1, 3], [4, 5, 2, 3]
    sxy = sum(x * y for x, y in zip(xs, ys, strict=True)) - sum(xs) * sum(ys) / 4
    sxx = sum(x * x for x in xs) - sum(xs) ** 2 / 4
    syy = sum(y * y for y in ys) - sum(ys) ** 2 / 4
    assert rows[0]["r"] == pytest.approx(sxy / math.sqrt(sxx * syy), abs=1e-12)
    assert rows[0]["n"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "--county", "999999"], "Error: county 999999 does not exist (known counties: 370202 市南区,"),
        (["index", "--window", "XX9"], "Error: window XX9 does not exist (known windows include"),
        (["index", "--period", "2026-13"], "Error: period '2026-13' has no month 13"),
        (["index", "--period", "May"], "Error: period 'May' is not understood"),
        (["index", "--from", "2026-05-02", "--to", "2026-05-01"], "Error: --from 2026-05-02 is after --to 2026-05-01"),
        (["index", "--by", "city", "--by", "county"], "Error: --by city is the whole city and cannot combine"),
        (["index", "--by", "county", "--by", "county"], "Error: a --by key is given twice"),
        (["index", "--by", "planet"], "Error: --by planet is not known"),
        (["rank", "--by", "item"], "Error: rank --by item is not supported (use --by county, --by window or --by staff)"),
    ],
)
def test_bad_input_is_a_clear_error(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message), result.stderr


def test_a_period_without_ratings_says_so(cli):
    result = cli("index", "--period", "2020-01")
    assert result.exit_code == 0
    assert "no counted ratings in 2020-01: N = 0, no index" in result.stderr
    data = _json(cli("index", "--period", "2020-01", "-f", "json"))
    assert data["rows"][0]["n"] == 0 and data["rows"][0]["index"] is None
