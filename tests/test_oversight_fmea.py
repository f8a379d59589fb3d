"""The FMEA register: the AP table, the register commands and the worked example of docs/method.md
section 7 (measured rates → Occurrence → AP → county risk level → spot-check sampling rate)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from haocha_cli import cases
from haocha_cli.context import open_context
from haocha_cli.errors import ConfigError
from haocha_cli.fmea import default_ap_table_path, load_ap_table, occurrence_of
from tests.oversight_support import add_ratings

LC = "370213"


@pytest.mark.parametrize(("s", "o", "d", "ap"), [
    (10, 10, 1, "H"), (9, 4, 1, "M"), (9, 3, 7, "H"), (9, 3, 5, "M"), (10, 2, 4, "L"), (10, 1, 10, "L"),
    (8, 6, 1, "M"), (7, 5, 7, "H"), (7, 4, 6, "M"), (8, 3, 10, "M"), (7, 2, 4, "L"),
    (6, 8, 5, "H"), (4, 9, 2, "M"), (5, 7, 10, "M"), (6, 6, 1, "L"), (5, 5, 7, "M"), (6, 4, 6, "L"),
    (3, 10, 6, "M"), (2, 8, 4, "L"), (3, 7, 10, "L"), (1, 10, 10, "L"),
])
def test_ap_table_is_the_aiag_vda_2019_table(s, o, d, ap):
    assert load_ap_table(str(default_ap_table_path())).ap(s, o, d) == ap


def test_ap_table_must_cover_every_combination(tmp_path):
    text = default_ap_table_path().read_text(encoding="utf-8").replace('["2-3",  "6-7",  "L L L L"],\n', "")
    path = tmp_path / "ap.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_ap_table(str(path))
    assert err.value.message == f"{path}: severity 2 with occurrence 6 is in 0 rows"


def test_occurrence_scale():
    scale = [0.01, 0.02, 0.05, 0.08, 0.12, 0.16, 0.20, 0.30, 0.50]
    assert [occurrence_of(r, scale) for r in (0, 0.0099, 0.01, 0.25, 0.5, 1.0)] == [1, 1, 2, 8, 10, 10]


def test_register_list_add_set(cli, db_path):
    rows = json.loads(cli("risk", "list", "--format", "json").stdout)
    assert [(r["code"], r["failure_mode"].split()[0], r["severity"], r["occurrence"], r["detection"], r["rpn"],
             r["ap"], r["measure"]) for r in rows] == [
        ("R01", "评价信息不实", 7, 4, 6, 168, "M", "flags"),
        ("R02", "整改分类不实", 7, 3, 4, 84, "L", "failed_checks"),
        ("R03", "整改超期", 6, 4, 3, 72, "L", "overdue"),
        ("R04", "回访不到位", 6, 4, 5, 120, "L", "revisit_missed"),
        ("R05", "人为干预绩效", 8, 3, 6, 144, "M", "flags"),
        ("R06", "无法整改未记录", 5, 4, 5, 100, "L", "overdue"),
    ]
    added = cli("risk", "add", "--step", "评价采集", "--failure-mode", "二维码被替换", "--effect", "ratings go astray",
                "--cause", "a forged sticker", "--controls", "signed tokens", "-s", "6", "-o", "2", "-d", "4")
    assert added.exit_code == 0, added.output
    assert added.stderr.strip() == "added R07: RPN 48, AP L"
    changed = cli("risk", "set", "R07", "--occurrence", "9", "--measure", "flags")
    assert changed.stderr.strip() == "R07: changed measure, occurrence; now S 6 O 9 D 4, RPN 216, AP M"
    bad = cli("risk", "set", "R07", "--detection", "11")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "Error: detection 11 is not valid (ratings are whole numbers from 1 to 10)"
    county = cli("risk", "set", "R07", "--detection", "3", operator="county:370213")
    assert county.exit_code == 1
    assert county.stderr.strip() == ("Error: changing the FMEA register is the city bureau's (市局) task; "
                                     "county:370213 may not do it (the city bureau's staff (市局) do it)")
    assert cli("risk", "list", operator="county:370213").exit_code == 0
    conn = sqlite3.connect(db_path)
    assert [r[0] for r in conn.execute("SELECT action FROM audit_events WHERE entity = 'risks' ORDER BY id")] == \
        ["risk.load", "risk.add", "risk.set"]


def test_a_replaced_ap_table_is_used(cli, db_path, tmp_path):
    strict = tmp_path / "strict.toml"
    strict.write_text('name = "all high"\ndetection_bands = ["1-10"]\nrows = [["1-10", "1-10", "H"]]\n',
                      encoding="utf-8")
    (db_path.parent / "haocha.toml").write_text(f'[risk]\nap_table = "{strict}"\n', encoding="utf-8")
    rows = json.loads(cli("risk", "list", "--format", "json").stdout)
    assert {r["ap"] for r in rows} == {"H"}


def _times(day: str, n: int) -> list[str]:
    return [f"{day} {9 + (20 * i) // 60:02d}:{(20 * i) % 60:02d}:00" for i in range(n)]


def test_worked_example_of_method_md(cli, db_path, monkeypatch):
    """docs/method.md section 7: 李沧区 in May 2024."""
    # 40 ratings: 8 bad reviews (4 real-name), 2 with a forged QR token, 10 非常满意, 20 满意
    add_ratings(db_path, [{"rated_at": t, "window": "LC01", "level": "不满意",
                           **({"phone": f"1365000000{i}"} if i < 4 else {})} for i, t in enumerate(_times("2024-05-06", 8))])
    forged = add_ratings(db_path, [{"rated_at": t, "window": "LC02", "level": "满意", "qr_token": f"FORGED000{i}",
                                    "token_ok": 0} for i, t in enumerate(_times("2024-05-13", 2))])
    add_ratings(db_path, [{"rated_at": t, "window": "LC02", "level": "非常满意"} for t in _times("2024-05-09", 10)])
    add_ratings(db_path, [{"rated_at": t, "window": "LC01", "level": "满意"} for t in _times("2024-05-14", 20)])
    ids = [r[0] for r in sqlite3.connect(db_path).execute("SELECT id FROM cases ORDER BY id")]
    county = open_context(db_path, f"county:{LC}")
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-07 10:00:00")
    for case_id in ids[:4]:  # every real-name review visited within its one working day
        cases.revisit(county, case_id, "reached")
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-08 10:00:00")
    for case_id in ids[:6]:  # six closed on time; two left open past their due date (2024-05-24)
        cases.classify(county, case_id, "rectifiable")
        cases.close(county, case_id, "retrained the window staff", "窗口负责人")
    county.db.close()

    monkeypatch.setenv("HAOCHA_NOW", "2024-06-03 09:00:00")
    assert cli("flags", "scan", "--period", "2024-05").exit_code == 0
    assert [(f["rating"], f["rule"]) for f in json.loads(cli("flags", "list", "--format", "json").stdout)] == \
        [(forged[0], "bad_token"), (forged[1], "bad_token")]
    first = json.loads(cli("spotcheck", "sample", "--period", "2024-05", "--seed", "1", "--format", "json").stdout)
    lc = next(r for r in first["by_county"] if r["county"] == LC)
    assert (lc["risk_level"], lc["flagged"], lc["closed_case"], lc["very_satisfied"]) == ("medium", 2, 2, 1)
    checks = [c for c in json.loads(cli("spotcheck", "list", "--format", "json").stdout) if c["county"] == LC]
    flagged = [c for c in checks if c["reason"] == "flagged"]
    assert [c["rating"] for c in flagged] == forged
    assert cli("spotcheck", "record", str(flagged[0]["id"]), "--outcome", "failed", "--note",
               "no such visit that day").exit_code == 0
    for check in [flagged[1], *(c for c in checks if c["reason"] == "closed_case")]:
        assert cli("spotcheck", "record", str(check["id"]), "--outcome", "confirmed").exit_code == 0

    result = cli("risk", "assess", "--period", "2024-05", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = [r for r in data["rows"] if r["county"] == LC]
    assert [(r["risk"], r["measure"], r["rate"], r["S"], r["O"], r["D"], r["RPN"], r["AP"]) for r in rows] == [
        ("R01", "flags", 5.0, 7, 6, 6, 252, "H"),
        ("R02", "failed_checks", 0.25, 7, 8, 4, 224, "H"),
        ("R03", "overdue", 0.25, 6, 8, 3, 144, "M"),
        ("R04", "revisit_missed", 0.0, 6, 1, 5, 30, "L"),
        ("R05", "flags", 5.0, 8, 6, 6, 288, "H"),
        ("R06", "overdue", 0.25, 5, 8, 5, 200, "H"),
    ]
    assert [r["o_from"] for r in rows] == ["flags 2/40", "failed_checks 1/4", "overdue 2/8", "revisit_missed 0/4",
                                           "flags 2/40", "overdue 2/8"]
    summary = {c["county"]: c for c in data["counties"]}
    assert (summary[LC]["H"], summary[LC]["M"], summary[LC]["L"], summary[LC]["level"]) == (4, 1, 1, "high")
    assert summary[LC]["closed_rate"] == 0.5
    # a county without data keeps the register's occurrences: R01 and R05 are M, so medium
    assert (summary["370202"]["M"], summary["370202"]["level"]) == (2, "medium")
    assert {r["o_from"] for r in data["rows"] if r["county"] == "370202"} == {"register (no data)"}
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT risk_level FROM counties WHERE code = ?", [LC]).fetchone()[0] == "high"
    assert conn.execute("SELECT count(*) FROM risk_assessments").fetchone()[0] == 60

    # the next sample draws ceil(50 % × 6) = 3 of 李沧区's six closed cases
    second = json.loads(cli("spotcheck", "sample", "--period", "2024-05", "--seed", "1", "--new-version",
                            "--format", "json").stdout)
    lc = next(r for r in second["by_county"] if r["county"] == LC)
    assert (lc["risk_level"], lc["closed_rate"], lc["closed_case_pool"], lc["closed_case"]) == ("high", 0.5, 6, 3)


def test_method_md_has_the_worked_example():
    text = (Path(__file__).resolve().parent.parent / "docs" / "method.md").read_text(encoding="utf-8")
    section = text[text.index("## 7. Oversight: flags, spot-checks and FMEA"):]
    for line in ("| R01 评价信息不实 | flags | 2 / 40 × 100 = 5.0 | 7 | 6 | 6 | 252 | H |",
                 "| R04 回访不到位 | revisit_missed | 0 / 4 = 0 | 6 | 1 | 5 | 30 | L |",
                 "| R06 无法整改未记录 | overdue | 2 / 8 = 0.25 | 5 | 8 | 5 | 200 | H |"):
        assert line in section


def test_a_bad_occurrence_scale_is_refused(cli, db_path):
    (db_path.parent / "haocha.toml").write_text("[risk.occurrence_scale]\nflags = [5, 1, 2, 3, 4, 6, 7, 8, 9]\n",
                                                encoding="utf-8")
    result = cli("risk", "assess", "--period", "2024-05")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: risk.occurrence_scale.flags must be 9 ascending non-negative numbers (the thresholds of "
        "Occurrence 2…10) (the default is [0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0])")
