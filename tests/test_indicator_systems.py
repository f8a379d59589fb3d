"""Indicator systems as data (issue 21, item 1): a bureau's own file of dimensions and indicators is imported,
weighed and activated; ratings follow the version in force on their day and keep it; a bad file is one
clear error and changes nothing."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from fractions import Fraction
from pathlib import Path

import pytest
from support import ok

from haocha_cli.indicators import default_matrix_path

# 4 dimensions, 10 indicators, codes and names the shipped V1.0 does not use.
# (code, name, dimension, scope, scores against 影响程度, 相关性)
OWN = [("P1", "文明用语", "P", "common", (4, 5)), ("P2", "仪表整洁", "P", "offline", (2, 3)),
       ("P3", "主动引导", "P", "offline", (3, 2)), ("Q1", "流程清晰", "Q", "common", (5, 4)),
       ("Q2", "材料精简", "Q", "common", (4, 4)), ("R1", "限时办结", "R", "common", (5, 5)),
       ("R2", "网上进度", "R", "online", (3, 4)), ("R3", "系统稳定", "R", "online", (2, 2)),
       ("S1", "清正廉洁", "S", "common", (5, 2)), ("S2", "一视同仁", "S", "common", (3, 3))]
DIMENSIONS = [("P", "服务礼仪"), ("Q", "办事流程"), ("R", "办理效率"), ("S", "廉洁纪律")]


def own_file(version: str = "V2.0", indicators=OWN, dimensions=DIMENSIONS, extra: str = "") -> str:
    text = (f'version = "{version}"\nnote = "本局自定指标体系"\ncriteria = ["影响程度", "相关性"]\n'
            '[pairwise]\n"影响程度" = [1, 5]\n"相关性" = ["1/5", 1]\n')
    for code, name in dimensions:
        text += f'[[dimensions]]\ncode = "{code}"\nname = "{name}"\n'
    for code, name, dim, scope, scores in indicators:
        text += (f'[[indicators]]\ncode = "{code}"\nname = "{name}"\ndimension = "{dim}"\nscope = "{scope}"\n'
                 f'description = "{name}的说明"\nscores = [{scores[0]}, {scores[1]}]\n')
    return text + extra


def hand_weights() -> dict[str, dict[str, Fraction]]:
    """The priority matrix by hand: row totals 5 and 1/5 (diagonal not counted), so the criteria weigh
    25/26 and 1/26; a mode's weights are the priorities in its scope over their sum."""
    w1, w2 = Fraction(25, 26), Fraction(1, 26)
    priority = {code: w1 * a + w2 * b for code, _n, _d, _s, (a, b) in OWN}
    result = {}
    for mode in ("offline", "online"):
        scope = {code: priority[code] for code, _n, _d, s, _ in OWN if s in ("common", mode)}
        total = sum(scope.values())
        result[mode] = {code: p / total for code, p in scope.items()}
    return result


def t(score: int) -> Fraction:
    return Fraction(score - 1, 4) * 100


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def versions(cli) -> dict[str, dict]:
    return {v["version"]: v for v in json.loads(ok(cli("indicators", "versions", "--format", "json")).stdout)}


def test_a_bureaus_own_system_is_imported_weighed_activated_and_its_indices_match_a_hand_computation(
        run, cli, tmp_path, db_path):
    now = "2026-03-31 12:00:00"
    # A rating of February, scored under V1.0 (服务规范 C1), before the bureau's system exists.
    before = write(tmp_path, "feb.csv", "评价编号,评价时间,窗口编码,评价渠道,满意度,服务规范\n"
                                        "F1,2026-02-20 10:00:00,LC01,二维码,满意,2\n")
    ok(run(now, "import", before))
    path = write(tmp_path, "own.toml", own_file())
    result = ok(run(now, "indicators", "import", path))
    assert ("imported indicator system V2.0: 4 dimensions, 10 indicators, weighed; not in force until "
            "`haocha indicators activate V2.0 --from YYYY-MM-DD`") in result.stderr
    listed = versions(cli)
    assert listed["V2.0"]["state"] == "未启用" and listed["V2.0"]["active_from"] is None
    assert (listed["V2.0"]["dimensions"], listed["V2.0"]["indicators"]) == (4, 10)
    assert listed["V1.0"]["state"] == "在用"
    # weighed: every step printed, the weights those of the hand computation
    weighed = json.loads(ok(run(now, "indicators", "weigh", path, "--format", "json")).stdout)
    expected = hand_weights()
    for mode in ("offline", "online"):
        got = {w["code"]: w["weight"] for w in weighed["weights"][mode]}
        assert got == pytest.approx({c: float(w) for c, w in expected[mode].items()}, abs=1e-12)
    # activated from 2026-03-01: a day with no rating yet
    done = ok(run(now, "indicators", "activate", "V2.0", "--from", "2026-03-01"))
    assert "indicator system V2.0 is used for ratings from 2026-03-01" in done.stderr
    listed = versions(cli)
    assert (listed["V2.0"]["state"], listed["V2.0"]["active_from"]) == ("在用", "2026-03-01")
    assert listed["V1.0"]["state"] == "已停用"
    shown = json.loads(ok(run(now, "indicators", "show", "--format", "json")).stdout)
    assert [(r["code"], r["name"], r["primary_name"]) for r in shown["indicators"]][:2] == [
        ("P1", "文明用语", "服务礼仪"), ("P2", "仪表整洁", "服务礼仪")]

    # Ratings of March, scored with the bureau's names; one still with a V1.0 column, one of February with a
    # V2.0 score: both rejected naming both versions.
    march = write(tmp_path, "mar.csv",
                  "评价编号,评价时间,窗口编码,评价渠道,满意度,文明用语,P2仪表整洁,限时办结,网上进度,服务规范\n"
                  "M1,2026-03-02 10:00:00,LC01,二维码,满意,5,2,,,\n"
                  "M2,2026-03-03 11:00:00,LC01,二维码,不满意,,,1,,\n"
                  "M3,2026-03-04 09:00:00,LC01,二维码,非常满意,,,,,\n"
                  "M4,2026-03-05 20:00:00,LCWS,PC端,基本满意,4,,,5,\n"
                  "M5,2026-03-06 10:00:00,LC01,二维码,满意,,,,,3\n"
                  "M6,2026-02-21 10:00:00,LC01,二维码,满意,4,,,,\n")
    [summary] = json.loads(ok(run(now, "import", march, "--format", "json")).stdout)
    assert (summary["accepted"], summary["rejected"]) == (4, 2)
    reasons = {r["line"]: (r["code"], r["reason"]) for r in summary["first_rejects"]}
    assert reasons[6] == ("indicator_version", "indicator 服务规范 (C1) is of V1.0, not of V2.0 in force on "
                                               "2026-03-06 (指标不属于当日适用的指标体系版本)")
    assert reasons[7] == ("indicator_version", "indicator 文明用语 (P1) is of V2.0, not of V1.0 in force on "
                                               "2026-02-21 (指标不属于当日适用的指标体系版本)")

    conn = sqlite3.connect(db_path)
    stored = dict(conn.execute("SELECT rating_id, weights_version FROM ratings"))
    assert stored == {"F1": "V1.0", "M1": "V2.0", "M2": "V2.0", "M3": "V2.0", "M4": "V2.0"}
    # The index by hand: an indicator not scored takes the overall level (满意 4 → 75, 不满意 2 → 25 …).
    w = expected

    def rating_index(mode: str, level: int, scores: dict[str, int]) -> Fraction:
        return sum(wt * t(scores.get(code, level)) for code, wt in w[mode].items())

    by_hand = [rating_index("offline", 4, {"P1": 5, "P2": 2}), rating_index("offline", 2, {"R1": 1}),
               rating_index("offline", 5, {}), rating_index("online", 3, {"P1": 4, "R2": 5})]
    data = json.loads(ok(run(now, "index", "--by", "county", "--period", "2026-03", "-f", "json")).stdout)
    assert data["weights_version"] == "V2.0"
    [row] = data["rows"]
    assert row["n"] == 4
    assert row["index"] == pytest.approx(float(sum(by_hand) / 4), abs=1e-9)
    assert row["indicators"]["P1"] == {"mean": 4.5, "index": 87.5, "n": 2}
    # The rating scored under V1.0 keeps its version and its index.
    feb = json.loads(ok(run(now, "index", "--by", "county", "--period", "2026-02", "-f", "json")).stdout)
    assert feb["weights_version"] == "V1.0"
    c1 = {r[0]: r[1] for r in conn.execute("SELECT indicator_code, weight FROM indicator_weights"
                                          " WHERE version = 'V1.0' AND mode = 'offline'")}
    assert feb["rows"][0]["index"] == pytest.approx(75 + c1["C1"] * (25 - 75), abs=1e-9)
    audit = conn.execute("SELECT operator, action, entity_id, before, after FROM audit_events"
                         " WHERE action LIKE 'indicators.%' AND entity_id = 'V2.0' ORDER BY id").fetchall()
    assert [(a[1], a[2]) for a in audit] == [("indicators.import", "V2.0"), ("indicators.activate", "V2.0")]
    assert json.loads(audit[1][3]) == {"active_from": None} and json.loads(audit[1][4]) == {"active_from": "2026-03-01"}


def test_the_rating_page_shows_the_indicators_of_the_version_in_force(run, tmp_path, db_path):
    from haocha_cli.context import open_context
    from haocha_cli.web.rating import _indicators

    ok(run("2026-03-31 12:00:00", "indicators", "import", write(tmp_path, "own.toml", own_file())))
    ok(run("2026-03-31 12:00:00", "indicators", "activate", "V2.0", "--from", "2026-03-01"))
    ctx = open_context(db_path, "city")
    try:
        assert _indicators(ctx.db, "online") == [
            ("P1", "文明用语", "服务礼仪", "文明用语的说明"), ("Q1", "流程清晰", "办事流程", "流程清晰的说明"),
            ("Q2", "材料精简", "办事流程", "材料精简的说明"), ("R1", "限时办结", "办理效率", "限时办结的说明"),
            ("R2", "网上进度", "办理效率", "网上进度的说明"), ("R3", "系统稳定", "办理效率", "系统稳定的说明"),
            ("S1", "清正廉洁", "廉洁纪律", "清正廉洁的说明"), ("S2", "一视同仁", "廉洁纪律", "一视同仁的说明")]
    finally:
        ctx.db.close()


BAD = [
    (own_file(indicators=[("P1", "文明用语", "P", "common", (4, 5))], dimensions=[("P", "服务礼仪")])
     .replace('scope = "common"\n', ""), "Error: indicator P1 has no `scope` (give scope = \"…\" (text))"),
    (own_file(indicators=[("P1", "文明用语", "X", "common", (4, 5))], dimensions=[("P", "服务礼仪")]),
     "Error: indicator P1: dimension 'X' is not defined (dimensions of the file: P)"),
    (own_file(indicators=[("P1", "文明用语", "P", "common", (4, 5)), ("P1", "仪表整洁", "P", "common", (1, 1))],
              dimensions=[("P", "服务礼仪")]),
     "Error: duplicate indicator code P1 (each [[indicators]] needs its own code)"),
    (own_file(indicators=[("P1", "文明用语", "P", "both", (4, 5))], dimensions=[("P", "服务礼仪")]),
     "Error: indicator P1: scope 'both' is not common, offline or online (common: both channels; offline: "
     "windows only; online: the online channel only)"),
    (own_file(indicators=[("P1", "文明用语", "P", "common", (4, 5))], dimensions=[("P", "服务礼仪")])
     .replace("scores = [4, 5]", "scores = [4, 5, 3]"),
     "Error: indicator P1: scores must list 2 value(s), one per criterion (in the order of criteria: 影响程度, 相关性)"),
    (own_file(indicators=[("P1", "文明用语", "P", "common", (9, 5))], dimensions=[("P", "服务礼仪")]),
     "Error: scores of P1 must be 0 to 5, not 9, 5 (score each criterion 1 (least) to 5 (most), or 0 for none)"),
    (own_file(indicators=[("P1", "文明用语", "P", "common", (-1, 5))], dimensions=[("P", "服务礼仪")]),
     "Error: scores of P1 must be 0 to 5, not -1, 5 (score each criterion 1 (least) to 5 (most), or 0 for none)"),
    (own_file(version="V1.0"), "Error: indicator version V1.0 exists already (versions are never changed; choose a new name)"),
    (own_file(indicators=[("C1", "文明用语", "P", "common", (4, 5))], dimensions=[("P", "服务礼仪")]),
     "Error: indicator code C1 is 服务规范 in an earlier version, not 文明用语 (a code keeps its meaning: give the new "
     "indicator a new code)"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_a_bad_indicator_file_is_one_clear_error_and_changes_nothing(cli, tmp_path, db_path, body, message):
    conn = sqlite3.connect(db_path)
    tables = ("indicator_versions", "indicator_dimensions", "indicator_defs", "indicator_weights", "indicators",
              "audit_events")
    before = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    result = cli("indicators", "import", write(tmp_path, "bad.toml", body))
    assert result.exit_code == 1
    assert result.stderr.strip() == message
    assert {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables} == before


def test_activation_is_the_citys_and_never_moves_ratings_already_scored(run, tmp_path):
    now = "2026-03-31 12:00:00"
    ok(run(now, "indicators", "import", write(tmp_path, "own.toml", own_file())))
    county = run(now, "indicators", "activate", "V2.0", "--from", "2026-04-01", operator="county:370213")
    assert county.exit_code == 1
    assert county.stderr.startswith("Error: changing the indicator system is the city bureau's (市局) task")
    ok(run(now, "import", write(tmp_path, "r.csv", "评价编号,评价时间,窗口编码,评价渠道,满意度\n"
                                                  "A1,2026-03-10 10:00:00,LC01,二维码,满意\n")))
    late = run(now, "indicators", "activate", "V2.0", "--from", "2026-03-01")
    assert late.exit_code == 1
    assert late.stderr.strip() == ("Error: ratings from 2026-03-10 on are already scored under V1.0 (activate V2.0 "
                                   "from a day after the last rating imported, e.g. tomorrow)")
    missing = run(now, "indicators", "activate", "V9.9", "--from", "2026-04-01")
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: indicator version V9.9 does not exist")
    ok(run(now, "indicators", "activate", "V2.0", "--from", "2026-04-01"))
    assert versions(lambda *args: run(now, *args))["V2.0"]["state"] == "已排期"


def test_the_shipped_v1_0_is_one_file_installed_as_it_is_and_packaged(db_path):
    """examples/indicators-v1.0.toml is the only definition of V1.0: `init` installs it as written, and the
    wheel ships the folder as haocha_cli/examples (where resource_path looks first)."""
    repo = Path(__file__).resolve().parent.parent
    assert default_matrix_path().read_bytes() == (repo / "examples" / "indicators-v1.0.toml").read_bytes()
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["examples"] == "haocha_cli/examples"
    shipped = tomllib.loads((repo / "examples" / "indicators-v1.0.toml").read_text(encoding="utf-8"))
    conn = sqlite3.connect(db_path)
    defs = conn.execute("SELECT code, name, dimension_code, scope, description, scores FROM indicator_defs"
                        " WHERE version = 'V1.0' ORDER BY position").fetchall()
    assert defs == [(i["code"], i["name"], i["dimension"], i["scope"], i["description"], json.dumps(
        [float(s) for s in i["scores"]])) for i in shipped["indicators"]]
    assert len(shipped["dimensions"]) == 5 and len(defs) == 12
    # nothing in the code names an indicator
    source = "\n".join(p.read_text(encoding="utf-8") for p in (repo / "haocha_cli").rglob("*.py"))
    assert "着装规范" not in source and "网办便捷" not in source
