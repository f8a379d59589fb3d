"""Statistical process control (统计过程控制): charts on textbook data, run rules, SVG rendering.

Published figures are quoted where a source states them; every other expected value was worked by hand
from the formulas in docs/spc.md and is marked "hand-computed".
"""

from __future__ import annotations

import csv
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from haocha_cli.control_charts import (
    BASELINE,
    D2,
    MONITOR,
    RULE_SETS,
    RULES,
    apply_rules,
    c4,
    np_chart,
    p_chart,
    render_svg,
    resolve_rules,
    standard_chart,
    xbar_chart,
    xmr_chart,
)
from haocha_cli.errors import InvalidInput

DATA = Path(__file__).parent / "data" / "spc"
SVG = "{http://www.w3.org/2000/svg}"


def rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def flagged(chart, rule: str) -> list:
    return [p.label for p in chart.points if rule in p.signals]


def point(chart, label):
    return next(p for p in chart.points if p.label == label)


def r4(x: float) -> float:
    return round(x, 4)


# ---------------------------------------------------------------------------------------- p charts


@pytest.fixture
def orangejuice():
    return [(int(r["sample"]), int(r["D"]), int(r["size"])) for r in rows("orangejuice.csv")]


def test_orangejuice_trial_limits_and_out_of_control_samples(orangejuice):
    # Montgomery Ex. 7.1, phase I = the 30 `trial` samples of n = 50:
    # published p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524, samples 15 and 23 above the UCL.
    chart = apply_rules(p_chart(orangejuice, baseline=lambda s: s <= 30), ["nelson1"])
    first = chart.points[0]
    assert (r4(chart.center), r4(first.ucl), r4(first.lcl)) == (0.2313, 0.4102, 0.0524)
    assert [p.label for p in chart.points if p.phase == BASELINE] == list(range(1, 31))
    assert [lab for lab in flagged(chart, "nelson1") if lab <= 30] == [15, 23]


def test_orangejuice_revised_limits_drop_samples_15_and_23(orangejuice):
    # Published revised limits after removing samples 15 and 23: p̄ = 0.2150, UCL = 0.3893, LCL = 0.0407.
    chart = apply_rules(p_chart(orangejuice, baseline=lambda s: s <= 30, exclude={15, 23}), "nelson")
    first = chart.points[0]
    assert (r4(chart.center), r4(first.ucl), r4(first.lcl)) == (0.2150, 0.3893, 0.0407)
    # The excluded samples stay on the chart, marked, in the baseline phase.
    assert [(p.label, p.phase) for p in chart.points if p.excluded] == [(15, BASELINE), (23, BASELINE)]
    # Hand-computed: against the revised limits sample 21 (20/50 = 0.40 > 0.3893) is also above the UCL,
    # and in phase II sample 41 (2/50 = 0.04 < 0.0407) is below the LCL.
    assert flagged(chart, "nelson1") == [15, 21, 23, 41]
    # Hand-computed: samples 34..54 all lie below p̄ = 0.215 (sample 33 = 0.24 is above), so nine in a row
    # completes at 42 and the run goes on to 54.
    assert flagged(chart, "nelson2") == list(range(42, 55))


def test_orangejuice_after_adjustment_new_phase_one():
    # Montgomery Ex. 7.1 continued: samples 31..54 after the machine adjustment as the new phase I.
    # Hand-computed: p̄ = 133/1200 = 0.1108, UCL = 0.2440, LCL = 0.1108 − 0.1332 < 0, floored to 0;
    # none of the 64 points breaks any Nelson rule.
    chart = apply_rules(p_chart([(int(r["sample"]), int(r["D"]), 50) for r in rows("orangejuice2.csv")], 24))
    first = chart.points[0]
    assert (r4(chart.center), r4(first.ucl), first.lcl) == (0.1108, 0.2440, 0.0)
    assert [p.phase for p in chart.points].count(MONITOR) == 40
    assert chart.signal_labels == []


def test_montgomery_table_7_4_variable_n_limits_per_point():
    data = [(int(r["sample"]), int(r["count"]), int(r["size"])) for r in rows("montgomery_tbl7_4.csv")]
    chart = apply_rules(p_chart(data), "nelson")
    # p̄ = 234/2450 = 0.0955, which Montgomery works with rounded to 0.096 (as we recall; hand-computed here).
    assert chart.center == 234 / 2450
    assert round(chart.center, 3) == 0.096
    # Hand-computed with the exact p̄ (0.0955102), σ = √(p̄(1−p̄)/n), to 4 decimals. Montgomery's table uses
    # the rounded 0.096, so printed limits can differ from these in the last digit.
    expected = {
        80: (0.0329, 0.0, 0.1941),
        90: (0.0310, 0.0026, 0.1885),
        100: (0.0294, 0.0073, 0.1837),
        110: (0.0280, 0.0114, 0.1796),
        120: (0.0268, 0.0150, 0.1760),
    }
    for p in chart.points:
        assert (r4(p.sigma), r4(p.lcl), r4(p.ucl)) == expected[p.n], p.label
        assert p.cl == chart.center
    # Hand-computed: sample 11 (20/110 = 0.1818 > 0.1796) is the only point beyond its own limit; sample 8
    # completes six rising standardised values (samples 3..8).
    assert flagged(chart, "nelson1") == [11]
    assert chart.signal_labels == [8, 11]
    assert point(chart, 8).signals == ("nelson3",)
    # The standardised value uses the point's own sigma.
    p11 = point(chart, 11)
    assert p11.z == pytest.approx((20 / 110 - 234 / 2450) / math.sqrt(234 / 2450 * (1 - 234 / 2450) / 110))


def test_sas_circone_batches_10_and_19_and_revised_limits():
    data = [(int(r["batch"]), int(r["fail"]), int(r["n"])) for r in rows("sas_circone.csv")]
    trial = apply_rules(p_chart(data), ["nelson1"])
    # Hand-computed: p̄ = 234/15000 = 0.0156, UCL = 0.0322, LCL = 0.0156 − 0.0166 < 0 → 0.
    assert (r4(trial.center), r4(trial.points[0].ucl), trial.points[0].lcl) == (0.0156, 0.0322, 0.0)
    # SAS/QC User's Guide, "Creating a Chart with Revised Control Limits": batches 10 and 19 are out.
    assert flagged(trial, "nelson1") == [10, 19]
    revised = p_chart(data, exclude={10, 19})
    # Hand-computed: p̄ = 196/14000 = 0.014, UCL = 0.0298, LCL 0; to 3 decimals (the format SAS's OC-curve
    # example uses for these revised limits) 0.014 and 0.030.
    assert (r4(revised.center), r4(revised.points[0].ucl), revised.points[0].lcl) == (0.014, 0.0298, 0.0)
    assert round(revised.points[0].ucl, 3) == 0.030


def test_laney_p_prime_hand_worked():
    # p̄ = 30/300 = 0.1, σ_p = √(0.1·0.9/100) = 0.03, z = −1, +1, 0, moving ranges 2 and 1,
    # σ_z = 1.5/1.128 = 1.329787…, σ_i = 0.03·σ_z = 0.039894, UCL = 0.1 + 0.119681 = 0.219681, LCL → 0.
    data = [("a", 7, 100), ("b", 13, 100), ("c", 10, 100), ("d", 22, 100), ("e", 21, 100)]
    chart = apply_rules(p_chart(data, baseline=3, laney=True), ["nelson1"])
    assert chart.kind == "laney_p"
    assert chart.sigma_z == pytest.approx(1.5 / 1.128)
    d = point(chart, "d")
    assert d.sigma == pytest.approx(0.0398936, abs=1e-7)
    assert d.ucl == pytest.approx(0.2196809, abs=1e-7)
    assert d.lcl == 0.0
    # 0.22 is beyond the Laney UCL, 0.21 is not; a plain p-chart (UCL = 0.19) would flag both.
    assert flagged(chart, "nelson1") == ["d"]
    assert flagged(apply_rules(p_chart(data, baseline=3), ["nelson1"]), "nelson1") == ["d", "e"]


def test_p_chart_point_with_n_zero_is_blank_and_skipped_by_rules():
    # Nine points above p̄ with a day without reviews (n = 0) in the middle: the run skips the blank day.
    data = [(f"d{i}", 1, 10) for i in range(10)]
    data += [(f"u{i}", 5, 10) for i in range(4)] + [("empty", 0, 0)] + [(f"u{i}", 5, 10) for i in range(4, 9)]
    chart = apply_rules(p_chart(data, baseline=10), ["nelson2"])
    empty = point(chart, "empty")
    assert (empty.n, empty.value, empty.cl, empty.lcl, empty.ucl, empty.sigma, empty.z) == (
        0,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    assert empty.signals == ()
    assert flagged(chart, "nelson2") == ["u8"]


def test_p_chart_rejects_bad_input():
    with pytest.raises(InvalidInput) as err:
        p_chart([("a", 6, 5)])
    assert (
        str(err.value) == "point a: 6 bad out of a sample of 5 (the bad count cannot exceed the sample size)"
    )
    with pytest.raises(InvalidInput) as err:
        p_chart([("a", 1, 5)], baseline=2)
    assert str(err.value) == "baseline of 2 points, but the chart has 1 (give a count between 1 and 1)"
    with pytest.raises(InvalidInput) as err:
        p_chart([("a", 0, 0), ("b", 1, 5)], baseline=1)
    assert str(err.value) == (
        "the baseline has no points with n > 0 (choose a baseline period that has data)"
    )
    with pytest.raises(InvalidInput) as err:
        p_chart([("a", 1, 5), ("b", 1, 5)], exclude={"c"})
    assert str(err.value) == "excluded point c is not on the chart (check the labels to exclude)"
    with pytest.raises(InvalidInput) as err:
        p_chart([("a", 0, 5), ("b", 0, 5)], laney=True)
    assert (
        str(err.value) == "a Laney p′ chart needs 0 < p̄ < 1, the baseline gives p̄ = 0 (use the plain p-chart)"
    )


def test_p_chart_with_zero_baseline_rate_flags_any_bad_review():
    # p̄ = 0: the limits collapse onto 0 and any bad review is beyond them.
    chart = apply_rules(p_chart([("a", 0, 20), ("b", 0, 30), ("c", 1, 25), ("d", 0, 10)], baseline=2))
    assert [(p.lcl, p.ucl) for p in chart.points] == [(0.0, 0.0)] * 4
    assert flagged(chart, "nelson1") == ["c"]


# --------------------------------------------------------------------------------------- XmR charts


@pytest.fixture
def loan_cost():
    return [(int(r["week"]), float(r["cost"])) for r in rows("montgomery_ex6_5_loan_cost.csv")]


def test_loan_cost_phase_one_limits(loan_cost):
    # Montgomery Ex. 6.5 (weeks 1–20 phase 1). Hand-computed: x̄ = 6010/20 = 300.5, MR̄ = 148/19 = 7.79,
    # UCL = 300.5 + 3·7.79/1.128 = 321.22, LCL = 279.78, MR chart UCL = 3.267·7.79 = 25.45. These are the
    # figures we recall Montgomery printing; the book's text was not found in the searchable sources.
    x, mr = xmr_chart(loan_cost, baseline=20)
    assert x.center == 300.5
    assert round(mr.center, 2) == 7.79
    assert mr.center == pytest.approx(148 / 19)
    assert x.sigma == pytest.approx(148 / 19 / 1.128)
    p = x.points[0]
    assert (round(p.ucl, 2), round(p.lcl, 2)) == (321.22, 279.78)
    m = mr.points[1]
    assert (round(m.ucl, 2), m.lcl, m.cl) == (25.45, 0.0, mr.center)
    # The first week has no moving range.
    assert (mr.points[0].value, mr.points[0].ucl) == (None, None)


def test_loan_cost_phase_two_signals(loan_cost):
    x, mr = xmr_chart(loan_cost, baseline=20)
    x, mr = apply_rules(x, "nelson"), apply_rules(mr, ["nelson1"])
    assert [p.phase for p in x.points] == [BASELINE] * 20 + [MONITOR] * 20
    # Hand-computed: weeks 39 (333) and 40 (328) are above UCL 321.22, and with both beyond 2σ week 40
    # also completes 2-of-3; the moving range 333 − 305 = 28 at week 39 is above 25.45.
    assert x.signal_labels == [39, 40]
    assert point(x, 39).signals == ("nelson1",)
    assert point(x, 40).signals == ("nelson1", "nelson5")
    assert flagged(mr, "nelson1") == [39]


def test_baseline_as_count_slice_or_predicate_agree(loan_cost):
    by_count = xmr_chart(loan_cost, baseline=20)
    assert xmr_chart(loan_cost, baseline=slice(0, 20)) == by_count
    assert xmr_chart(loan_cost, baseline=lambda week: week <= 20) == by_count


def test_viscosity_qcc():
    data = rows("qcc_viscosity.csv")
    x, mr = xmr_chart([(int(r["batch"]), float(r["viscosity"])) for r in data], baseline=lambda b: b <= 20)
    assert [p.phase == BASELINE for p in x.points] == [r["trial"] == "TRUE" for r in data]
    # Hand-computed (qcc's xbar.one with std.dev "MR" uses the same σ̂ = MR̄/d2): centre 34.088,
    # σ̂ = 0.5077, LCL 32.5650, UCL 35.6110; MR̄ = 0.5726, MR UCL = 1.8708.
    p = x.points[0]
    assert (r4(x.center), r4(x.sigma), r4(p.lcl), r4(p.ucl)) == (34.088, 0.5077, 32.565, 35.611)
    assert (r4(mr.center), r4(mr.points[1].ucl)) == (0.5726, 1.8708)
    # Hand-computed: batch 4 (35.96) is above the UCL; batches 25..33 are nine in a row above 34.088.
    nelson = apply_rules(x, "nelson")
    assert flagged(nelson, "nelson1") == [4]
    assert flagged(nelson, "nelson2") == [33, 34, 35]
    assert flagged(apply_rules(x, "we"), "we4") == [32, 33, 34, 35]
    # The moving range 35.96 − 33.59 = 2.37 at batch 4 is above the MR UCL.
    assert flagged(apply_rules(mr, ["nelson1"]), "nelson1") == [4]


def test_antifreeze_wetherill_brown():
    data = [(i, float(r["water"])) for i, r in enumerate(rows("antifreeze_wetherill_brown.csv"), start=1)]
    x, mr = xmr_chart(data)
    # Hand-computed over all 34 values: x̄ = 87.37/34 = 2.5697, MR̄ = 6.68/33 = 0.2024,
    # LCL 2.0313, UCL 3.1081, MR UCL 0.6613.
    p = x.points[0]
    assert (r4(x.center), r4(mr.center), r4(p.lcl), r4(p.ucl), r4(mr.points[1].ucl)) == (
        2.5697,
        0.2024,
        2.0313,
        3.1081,
        0.6613,
    )
    # Hand-computed: nothing beyond 3σ; 4 of 5 above 1σ (2.7492) complete at 30 (27–30) and at 32
    # (28, 29, 30, 32).
    x = apply_rules(x, "we")
    assert flagged(x, "we1") == []
    assert x.signal_labels == [30, 32]
    assert point(x, 30).signals == point(x, 32).signals == ("we3",)


def test_sas_gap_width_test_5_at_sample_14():
    # SAS/QC "Tests for Special Causes Applied to Gap Width Data": X̄ chart of 21 subgroup means (n = 5),
    # tests 1 to 5; published result: Test 5 (2 of 3 beyond 2σ) positive at sample 14 only.
    data = rows("sas_gap_width.csv")
    means = [(int(r["sample"]), float(r["mean"])) for r in data]
    r_bar = sum(float(r["range"]) for r in data) / len(data)
    center = sum(v for _, v in means) / len(means)
    chart = standard_chart(means, center, r_bar / 2.326 / math.sqrt(5))  # σ_x̄ = R̄/d2/√n, d2(5) = 2.326
    tested = apply_rules(chart, ["nelson1", "nelson2", "nelson3", "nelson4", "nelson5"])
    assert [(p.label, p.signals) for p in tested.points if p.signals] == [(14, ("nelson5",))]
    # The other Nelson rules add nothing on this series (hand-checked).
    assert apply_rules(chart, "nelson").signal_labels == [14]


def test_xmr_exclusion_drops_moving_ranges_touching_the_point():
    # Hand-worked: point 3 excluded → X̄ = (10+12+11+13)/4 = 11.5; only MRs 1→2 (2) and 4→5 (2) remain,
    # MR̄ = 2, σ̂ = 2/1.128, UCL = 11.5 + 6/1.128 = 16.8191.
    x, mr = xmr_chart([(1, 10.0), (2, 12.0), (3, 30.0), (4, 11.0), (5, 13.0)], exclude={3})
    assert (x.center, mr.center) == (11.5, 2.0)
    assert r4(x.points[0].ucl) == 16.8191
    assert [p.excluded for p in x.points] == [False, False, True, False, False]
    assert [p.excluded for p in mr.points] == [False, False, True, True, False]
    assert flagged(apply_rules(x, ["nelson1"]), "nelson1") == [3]


def test_xmr_missing_value_is_a_gap():
    x, mr = xmr_chart([("a", 1.0), ("b", None), ("c", 3.0), ("d", 2.0)])
    # The moving range at c spans the gap: |3 − 1| = 2; at d: 1. MR̄ = 1.5, X̄ = 2.
    assert [p.value for p in mr.points] == [None, None, 2.0, 1.0]
    assert (x.center, mr.center) == (2.0, 1.5)
    b = point(x, "b")
    assert (b.value, b.ucl, b.z, b.signals) == (None, None, None, ())


def test_xmr_needs_two_baseline_values():
    with pytest.raises(InvalidInput) as err:
        xmr_chart([("a", 1.0), ("b", 2.0)], baseline=1)
    assert str(err.value) == (
        "an XmR chart needs at least two consecutive baseline values (widen the baseline period)"
    )


def test_to_rows_gives_plain_dicts(loan_cost):
    x, _ = xmr_chart(loan_cost, baseline=20)
    rows_ = apply_rules(x, ["nelson1"]).to_rows()
    assert len(rows_) == 40
    assert list(rows_[38]) == [
        "label", "n", "value", "cl", "lcl", "ucl", "sigma", "z", "phase", "excluded", "signals",
    ]  # fmt: skip
    assert rows_[38]["label"] == 39
    assert rows_[38]["n"] is None
    assert rows_[38]["value"] == 333.0
    assert rows_[38]["phase"] == MONITOR
    assert rows_[38]["signals"] == ["nelson1"]
    assert rows_[0]["signals"] == []


# ---------------------------------------------------------------------------------------- run rules
# Each series is in sigma units around CL = 0 (σ = 1), so a value is its own z. Each breaks the rule once:
# the completing point is flagged, plus the later points of the same run.


def chart_of(values):
    return standard_chart([(i, v) for i, v in enumerate(values, start=1)], 0.0, 1.0)


RULE_CASES = {
    # One point beyond 3σ; exactly ±3σ is on the limit, not beyond.
    "nelson1": ([0.5, -1, 3.5, 0.2, 3.0, -3.0, -0.4], [3]),
    "we1": ([0.5, -1, -3.1, 0.2, 3.0, -3.0, -0.4], [3]),
    # Ten above (flags the 9th and 10th), a point on the CL breaks the run, then eight above: too short.
    "nelson2": ([-1] + [0.5] * 10 + [0.0] + [0.5] * 8 + [-0.5], [10, 11]),
    # Nine below (flags the 8th and 9th), a point on the CL, then seven below.
    "we4": ([1] + [-0.5] * 9 + [0.0] + [-0.5] * 7 + [0.5], [9, 10]),
    # Seven rising values (6th and 7th flagged), an equal value breaks, then five falling: too short.
    "nelson3": ([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.5, 0.4, 0.3, 0.2], [6, 7]),
    # Fifteen alternating (14th and 15th flagged), a repeat breaks, then thirteen alternating.
    "nelson4": (
        [0.5 if i % 2 == 0 else -0.5 for i in range(15)]
        + [0.5]
        + [-0.5 if i % 2 == 0 else 0.5 for i in range(12)],
        [14, 15],
    ),
    # 2 of 3 beyond 2σ on one side: 2.5, 1.0, 2.2 completes at 4, 2.6 continues (5); the middle 1.0 is not
    # flagged; opposite sides do not count together (7, 8); exactly 2σ is not beyond (10).
    "nelson5": ([0, 2.5, 1.0, 2.2, 2.6, 0.5, -2.5, 2.5, 0.3, 2.0, 2.5], [4, 5]),
    "we2": ([0, -2.5, -1.0, -2.2, -2.6, 0.5, 2.5, -2.5, 0.3, -2.0, -2.5], [4, 5]),
    # 4 of 5 beyond 1σ on one side completes at 6; exactly 1σ (10) is not beyond.
    "nelson6": ([0, 1.5, 1.2, 0.5, 1.1, 1.3, 0.2, -1.5, 1.2, 1.0, 1.3, 1.4], [6]),
    "we3": ([0, -1.5, -1.2, -0.5, -1.1, -1.3, -0.2, 1.5, -1.2, -1.0, -1.3, -1.4], [6]),
    # Sixteen within 1σ (both sides, ±1.0 counts as within) after a point beyond: 15th and 16th flagged.
    "nelson7": ([1.5] + [0.3, -0.3, 1.0, -1.0] * 4 + [1.5] + [0.2] * 14, [16, 17]),
    # Nine beyond 1σ on alternating sides (8th and 9th flagged); then 0.5 breaks, and 1.0 breaks again.
    "nelson8": (
        [0, 1.5, -1.5, 1.2, -2, 1.1, -1.1, 1.3, -1.4, 1.6, 0.5] + [1.5] * 4 + [1.0] + [1.5] * 4,
        [9, 10],
    ),
}


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_each_rule_breaks_once(rule):
    values, expected = RULE_CASES[rule]
    chart = apply_rules(chart_of(values), [rule])
    assert flagged(chart, rule) == expected
    assert chart.rules == (rule,)


def test_every_rule_has_a_case_and_a_bilingual_description():
    assert set(RULE_CASES) == set(RULES)
    assert RULE_SETS == {
        "nelson": ("nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8"),
        "we": ("we1", "we2", "we3", "we4"),
    }
    assert (
        RULES["nelson2"].description
        == "连续 9 点落在中心线同一侧 (9 points in a row on one side of the centre line)"
    )
    assert (
        RULES["we4"].description
        == "连续 8 点落在中心线同一侧 (8 points in a row on one side of the centre line)"
    )


def test_rules_skip_blank_points_and_keep_rule_order():
    # A gap (None) inside a run of nine above does not break it.
    values = [0.5] * 4 + [None] + [2.5] * 5
    chart = apply_rules(chart_of(values), ["we4", "nelson2", "nelson5"])
    assert flagged(chart, "nelson2") == [10]
    assert flagged(chart, "we4") == [9, 10]
    assert point(chart, 10).signals == ("we4", "nelson2", "nelson5")
    assert point(chart, 5).signals == ()


def test_apply_rules_replaces_previous_signals():
    chart = apply_rules(chart_of([4.0, 0.0]), "nelson")
    assert chart.signal_labels == [1]
    assert apply_rules(chart, ["nelson2"]).signal_labels == []


def test_unknown_rule_is_refused():
    assert resolve_rules(["we1", "we1", "nelson3"]) == ("we1", "nelson3")
    with pytest.raises(InvalidInput) as err:
        apply_rules(chart_of([1.0]), ["nelson9"])
    assert str(err.value) == (
        "unknown run rule 'nelson9' (use 'nelson', 'we' or ids nelson1, nelson2, nelson3, nelson4, nelson5, "
        "nelson6, nelson7, nelson8, we1, we2, we3, we4)"
    )


# ---------------------------------------------------------------------------------------------- SVG


def test_svg_is_self_contained_deterministic_and_marks_signals(orangejuice):
    chart = apply_rules(p_chart(orangejuice, baseline=lambda s: s <= 30, exclude={15, 23}), "we")
    svg = render_svg(chart, "差评率 <p> & 控制图")
    assert svg == render_svg(chart, "差评率 <p> & 控制图")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    for forbidden in ("<script", "href", "url(", "<image", "<foreignObject", "@import"):
        assert forbidden not in svg
    assert "差评率 &lt;p&gt; &amp; 控制图" in svg
    signals = root.findall(f"{SVG}circle[@class='signal']")
    assert len(signals) == len(chart.signal_labels)
    tips = [c.find(f"{SVG}title").text for c in signals]
    # Sample 15 is beyond 3σ, and with sample 13 (0.34 > p̄ + 2σ = 0.3312) also completes 2 of 3.
    assert tips[0] == "15: 0.44 — we1, we2"
    assert all(c.get("stroke") == "#d62728" for c in signals)
    # Signals are filled red, except excluded baseline points, which stay hollow.
    hollow = [t.split(":")[0] for c, t in zip(signals, tips, strict=True) if c.get("fill") == "#ffffff"]
    assert hollow == ["15", "23"]
    assert all(c.get("fill") == "#d62728" for c, t in zip(signals, tips, strict=True) if t[:2] not in hollow)
    # Constant limits: flat lines, labelled with their values.
    ucl = root.find(f"{SVG}path[@class='ucl']").get("d")
    assert "V" not in ucl
    assert "UCL 0.3893" in svg and "CL 0.215" in svg and "LCL 0.0407" in svg
    # Coordinates have fixed precision.
    for c in root.iter(f"{SVG}circle"):
        assert re.fullmatch(r"\d+\.\d\d", c.get("cx")) and re.fullmatch(r"\d+\.\d\d", c.get("cy"))


def test_svg_step_limits_and_gaps():
    data = [("一月", 3, 40), ("二月", 5, 80), ("三月", 0, 0), ("四月", 9, 120), ("五月", 2, 60)]
    chart = apply_rules(p_chart(data), "nelson")
    svg = render_svg(chart, "窗口差评率", width=600, height=300)
    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height")) == ("600", "300")
    # Limits vary with n: the UCL is a step path with vertical moves, broken where n = 0.
    ucl = root.find(f"{SVG}path[@class='ucl']").get("d")
    assert ucl.count("M") == 2 and "V" in ucl
    # The series is two polylines either side of the empty month, four dots in all.
    assert len(root.findall(f"{SVG}polyline[@class='series']")) == 2
    assert len(root.findall(f"{SVG}circle")) == 4
    assert "一月" in svg and "四月" in svg
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "UCL" in texts  # varying limits are labelled without a value


def test_svg_phase_divider_and_excluded_points(loan_cost):
    x, _ = xmr_chart(loan_cost, baseline=20, exclude={15})
    svg = render_svg(apply_rules(x, "nelson"), "贷款成本 loan cost")
    assert svg.count("监控 monitor") == 1
    root = ET.fromstring(svg)
    hollow = [c for c in root.findall(f"{SVG}circle[@class='point']") if c.get("fill") == "#ffffff"]
    assert [c.find(f"{SVG}title").text for c in hollow] == ["15: 314"]


# ------------------------------------------------------------- run rules as Nelson, SAS and qcc define them
# qcc's own rule test vectors (luca-scr/qcc, tests/testthat/test-rules.R): σ = 1 around CL = 0, each with the
# points qcc's test expects flagged (1-based). "WER" are the Western Electric rules, "NEL" Nelson's.
QCC_RULE_VECTORS = [
    ("we1", [0, 3.2, -3.5, 2.9], [2, 3]),
    ("we2", [0, 2.5, 1.0, 2.6, 0], [4]),
    ("we3", [0, 1.2, 1.3, 0.2, 1.4, 1.5], [6]),
    ("we4", [-1] * 8 + [1], [8]),
    ("we4", [2.5] * 7 + [3.2], [8]),
    ("we3", [2.5] * 7 + [3.2], [5, 6, 7, 8]),
    ("we2", [2.5] * 7 + [3.2], [3, 4, 5, 6, 7, 8]),
    ("we1", [2.5] * 7 + [3.2], [8]),
    ("nelson1", [0, 3.2, -3.4, 3], [2, 3]),
    ("nelson2", [0.5] * 10 + [-0.5] + [-0.5] * 9, [9, 10, 19, 20]),
    ("nelson3", [1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1], [6, 7, 13, 14]),
    ("nelson4", [1, 3, 2, 4, 3, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8], [14, 15]),
    ("nelson5", [0, 2.3, 0.4, 2.2, -2.4, -0.2, -2.5], [4, 7]),
    ("nelson6", [1.2, 1.3, 0.2, 1.4, 1.5, -1.2, -1.3, -0.1, -1.4, -1.5], [5, 10]),
    ("nelson7", [0.3] * 16 + [1.2], [15, 16]),
    ("nelson8", [1.2, -1.3, 1.1, -1.4, 1.5, -1.2, 1.3, -1.1, 0.2], [8]),
    ("nelson8", [1.2] * 8, []),
]


@pytest.mark.parametrize(("rule", "values", "expected"), QCC_RULE_VECTORS)
def test_qcc_rule_test_vectors(rule, values, expected):
    assert flagged(apply_rules(chart_of(values), [rule]), rule) == expected


# Boundary cases: what a rule must not flag. Each: (rule, values, flagged).
BOUNDARY_CASES = [
    # 2 of 3 and 4 of 5 judge complete windows only: point 2 (or 4) of a chart is never flagged...
    ("nelson5", [2.5, 2.5, 0.0, 0.0], []),
    ("we2", [-2.5, -2.5, 0.0], []),
    ("nelson6", [1.5, 1.5, 1.5, 1.5, 0.0], []),
    ("we3", [-1.5, -1.5, -1.5, -1.5, 0.0, 0.0], []),
    # ...the first complete window is (its last point, itself beyond the zone)...
    ("nelson5", [2.5, 2.5, 2.5], [3]),
    ("nelson6", [1.5] * 5, [5]),
    # ...and a window whose last point is inside the zone flags nothing, though two of its three are beyond.
    ("nelson5", [0.0, 2.5, 2.5, 1.0], [3]),
    ("nelson6", [0.0, 1.5, 1.5, 1.5, 1.5, 0.5], [5]),
    # Exactly on a zone boundary is not beyond it.
    ("nelson5", [2.0, 2.0, 2.0, 2.5, 2.0], []),
    ("nelson6", [1.0, 1.0, 1.5, 1.5, 1.5], []),
    ("nelson1", [3.0, -3.0, 0.0], []),
    ("nelson8", [1.5, -1.5, 1.5, -1.0, 1.5, -1.5, 1.5, -1.5, 1.5], []),
    # Nelson 8 needs points on both sides: eight (or twelve) beyond 1σ on one side are a shift, not a mixture.
    ("nelson8", [1.5] * 12, []),
    ("nelson8", [-1.5] * 8, []),
    ("nelson8", [1.5] * 7 + [-1.5], [8]),
    ("nelson8", [1.5] * 9 + [-1.5], [10]),
    # Nelson 7: fifteen within 1σ, ±1σ itself counting as within; fourteen are not enough.
    ("nelson7", [0.5, -1.0, 1.0] * 5, [15]),
    ("nelson7", [0.5] * 14 + [1.5], []),
    # Nelson 2 and WE 4: a point on the centre line breaks the run; eight are not nine.
    ("nelson2", [0.5] * 8 + [0.0] + [0.5] * 8, []),
    ("we4", [0.5] * 7, []),
]


@pytest.mark.parametrize(("rule", "values", "expected"), BOUNDARY_CASES)
def test_rule_boundaries(rule, values, expected):
    assert flagged(apply_rules(chart_of(values), [rule]), rule) == expected


def test_nelson_8_and_its_names_say_both_sides_and_nelson_7_neither():
    rule = RULES["nelson8"]
    assert rule.zh == "连续 8 点落在 1σ 之外且中心线两侧都有"
    assert rule.en == "8 points in a row beyond 1σ, with points on both sides of the centre line"
    # Nelson 7 asks for no side at all: within 1σ, above or below (not "both sides", which is Nelson 8's)
    assert RULES["nelson7"].zh == "连续 15 点落在中心线上下 1σ 以内"
    assert RULES["nelson7"].en == "15 points in a row within 1σ above or below the centre line"


def test_orangejuice_phase_two_is_a_shift_not_a_mixture(orangejuice):
    # Montgomery Ex. 7.1 against the revised limits (p̄ 0.2150): after the adjustment at sample 30 the points
    # 34..41 are eight in a row beyond 1σ, all below p̄ — a shift down. Nelson 8 (a mixture) needs points on
    # both sides and must stay silent; the shift rules (2, 6) fire.
    chart = apply_rules(p_chart(orangejuice, baseline=lambda s: s <= 30, exclude={15, 23}), "nelson")
    assert all(point(chart, s).z < -1 for s in range(34, 42))
    assert flagged(chart, "nelson8") == []
    assert flagged(chart, "nelson2") == list(range(42, 55))
    assert all("nelson6" in point(chart, s).signals for s in range(41, 55) if s != 47)
    # hand-computed: in phase II, 2 of 3 beyond 2σ (z < −2) at 38, 42 and 43
    assert [s for s in flagged(chart, "nelson5") if s > 30] == [38, 42, 43]


# ------------------------------------------------------------------------- np, given standards, σ by sd


def test_np_chart_of_orangejuice_is_the_p_chart_times_n(orangejuice):
    # Montgomery Ex. 7.1: p̄ 0.2313, UCL 0.4102, LCL 0.0524 (published) → np̄ = 50·p̄ = 11.57, limits 20.51 and
    # 2.62; the points are the counts, the z the same as on the p chart.
    np_ = apply_rules(np_chart(orangejuice, baseline=lambda s: s <= 30), ["nelson1"])
    p = apply_rules(p_chart(orangejuice, baseline=lambda s: s <= 30), ["nelson1"])
    assert np_.kind == "np"
    first = np_.points[0]
    assert (round(np_.center, 2), round(first.ucl, 2), round(first.lcl, 2)) == (11.57, 20.51, 2.62)
    assert [q.value for q in np_.points[:3]] == [12, 15, 8]
    assert [q.z for q in np_.points] == pytest.approx([q.z for q in p.points])
    assert flagged(np_, "nelson1") == flagged(p, "nelson1")
    with pytest.raises(InvalidInput) as err:
        np_chart([("a", 1, 50), ("b", 2, 40)])
    assert str(err.value) == (
        "an np chart needs the same sample size at every point; point b has n = 40, point a n = 50 "
        "(use the p chart (--chart p) when n varies)"
    )


def test_p_chart_against_a_given_standard():
    # Given p = 0.1 and n = 100: σ = 0.03, UCL 0.19, LCL 0.01; every point is monitored, none in a baseline.
    chart = apply_rules(p_chart([("a", 5, 100), ("b", 20, 100), ("c", 0, 0)], center=0.1), ["nelson1"])
    a = point(chart, "a")
    assert (chart.center, chart.method, round(a.ucl, 4), round(a.lcl, 4)) == (0.1, "given", 0.19, 0.01)
    assert {q.phase for q in chart.points} == {MONITOR}
    assert flagged(chart, "nelson1") == ["b"]
    with pytest.raises(InvalidInput) as err:
        p_chart([("a", 5, 100)], baseline=1, center=0.1)
    assert str(err.value) == (
        "a chart against given standards takes no baseline and no excluded points "
        "(leave out --baseline and --exclude, or the given standard)"
    )


def test_xmr_sigma_by_standard_deviation(loan_cost):
    # Montgomery Ex. 6.5, weeks 1–20. Hand-computed: s = 6.5895, c4(20) = 0.9869, σ̂ = s/c4 = 6.6767 (the
    # MR̄/d2 estimate is 6.9056); limits 300.5 ± 3·6.6767 = 280.47, 320.53. The MR chart keeps MR̄ = 7.79.
    x, mr = xmr_chart(loan_cost, baseline=20, sigma_method="sd")
    assert (x.method, r4(x.sigma), round(x.points[0].ucl, 2), round(x.points[0].lcl, 2)) == (
        "sd", 6.6767, 320.53, 280.47,
    )  # fmt: skip
    assert round(mr.center, 2) == 7.79
    assert r4(xmr_chart(loan_cost, baseline=20)[0].sigma) == 6.9056


def test_xmr_against_given_standards():
    # Given X̄ = 10, σ = 2: X limits 4..16; MR chart CL = d2·σ = 2.256, UCL = D2·σ = 3.686·2 = 7.372 (Montgomery).
    x, mr = xmr_chart([(1, 10.0), (2, 17.0), (3, 9.0)], center=10.0, sigma=2.0)
    assert (x.center, x.points[0].ucl, x.points[0].lcl, x.method) == (10.0, 16.0, 4.0, "given")
    assert (round(mr.center, 3), round(mr.points[1].ucl, 3)) == (2.256, 7.372)
    assert flagged(apply_rules(x, ["nelson1"]), "nelson1") == [2]
    assert flagged(apply_rules(mr, ["nelson1"]), "nelson1") == [3]  # moving ranges 7 (inside) and 8 (beyond)


def test_c4_and_d2_agree_with_the_published_tables():
    for r in rows("control_chart_constants.csv"):
        n = int(r["n"])
        assert round(c4(n), 4) == float(r["c4"]), n
        assert D2[n] == float(r["d2"]), n
        assert round(3 / (c4(n) * math.sqrt(n)), 3) == float(r["A3"]), n


# -------------------------------------------------------------------------------------------- X̄ charts


def _samples(name: str, value: str = "obs") -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r in rows(name):
        out.setdefault(int(r["sample"]), []).append(float(r[value]))
    return out


def test_xbar_chart_of_montgomery_example_6_4_with_variable_n():
    # Montgomery Ex. 6.4: 25 samples of n = 3, 4 or 5. Published: x̿ = 74.001 (weighted by n), s̄ = 0.0103
    # (pooled, √(Σ(nᵢ−1)sᵢ²/Σ(nᵢ−1))), limits x̿ ± A3(nᵢ)·s̄ (recalled as printed: n = 5: LCL 73.986; n = 3:
    # 74.021 and 73.981; the printed n = 5 UCL 74.016 is 74.001 + 1.427·0.0103 from the rounded figures,
    # exactly 74.0154).
    import statistics

    data = _samples("montgomery_ex6_4_variable_n.csv")
    points = [(k, statistics.mean(v), statistics.stdev(v), len(v)) for k, v in data.items()]
    chart = apply_rules(xbar_chart(points), "nelson")
    assert (chart.kind, chart.method, round(chart.center, 3), round(chart.sigma, 4)) == (
        "xbar", "pooled", 74.001, 0.0103,
    )  # fmt: skip
    a3 = {int(r["n"]): float(r["A3"]) for r in rows("control_chart_constants.csv")}
    by_n = {p.n: p for p in chart.points}
    assert sorted(by_n) == [3, 4, 5]
    for n, p in by_n.items():  # the limits follow each sample's n
        assert p.ucl - p.cl == pytest.approx(a3[n] * chart.sigma, abs=5e-6), n
        assert p.cl - p.lcl == pytest.approx(a3[n] * chart.sigma, abs=5e-6), n
    assert (round(by_n[5].ucl, 4), round(by_n[5].lcl, 3)) == (74.0154, 73.986)
    assert (round(by_n[3].ucl, 3), round(by_n[3].lcl, 3)) == (74.021, 73.981)
    assert chart.signal_labels == []  # hand-checked: in control, as the book concludes


def test_xbar_chart_of_the_piston_rings_by_range_and_by_sd():
    # Montgomery Ex. 6.1 (X̄/R) and 6.3 (X̄/S), 25 samples of n = 5. Published: x̿ = 74.001, R̄ = 0.023,
    # s̄ = 0.0094; limits 74.001 ± A2·R̄ = ± 0.577·0.023 and 74.001 ± A3·s̄ = ± 1.427·0.0094, printed 74.014 and
    # 73.988 (from the rounded x̿, R̄ and s̄; exactly 74.0146 and 73.9878 both ways).
    import statistics

    data = _samples("pistonrings_montgomery_tbl6_3.csv")
    by_range = xbar_chart([(k, statistics.mean(v), max(v) - min(v), 5) for k, v in data.items()],
                          sigma_method="range")
    r_bar = by_range.sigma * D2[5]
    assert (round(by_range.center, 3), round(r_bar, 3)) == (74.001, 0.023)
    p = by_range.points[0]
    assert (round(p.ucl, 4), round(p.lcl, 4)) == (74.0146, 73.9878)
    assert p.ucl - p.cl == pytest.approx(3 / (D2[5] * math.sqrt(5)) * r_bar)
    assert round(3 / (D2[5] * math.sqrt(5)), 3) == 0.577  # A2 for n = 5
    by_sd = xbar_chart([(k, statistics.mean(v), statistics.stdev(v), 5) for k, v in data.items()],
                       sigma_method="sd")
    s_bar = by_sd.sigma * c4(5)
    assert round(s_bar, 4) == 0.0094
    assert (round(by_sd.points[0].ucl, 4), round(by_sd.points[0].lcl, 4)) == (74.0146, 73.9878)
    assert apply_rules(by_range, "nelson").signal_labels == apply_rules(by_sd, "nelson").signal_labels == []


def test_xbar_rmsdf_sigma_and_samples_of_one():
    # Hand-worked: samples (mean, s, n) = (10, 2, 4), (12, 1, 2), (11, –, 1), pooled over 3 + 1 df:
    # s̄ = √((3·4 + 1·1)/4) = √3.25 = 1.80278; c4(5) = 0.93999 → σ̂ = 1.91788; x̿ = (40 + 24 + 11)/7 = 10.7143.
    chart = xbar_chart([("a", 10.0, 2.0, 4), ("b", 12.0, 1.0, 2), ("c", 11.0, None, 1), ("d", None, None, 0)],
                       sigma_method="rmsdf")
    assert (round(chart.center, 4), round(chart.sigma, 5)) == (10.7143, 1.91788)
    c = point(chart, "c")
    assert c.sigma == pytest.approx(chart.sigma)  # one rating: σ̂/√1
    assert point(chart, "a").sigma == pytest.approx(chart.sigma / 2)
    assert (point(chart, "d").value, point(chart, "d").ucl) == (None, None)  # a day without ratings: a gap
    with pytest.raises(InvalidInput) as err:
        xbar_chart([("a", 10.0, 2.0, 4), ("c", 11.0, None, 1)])
    assert str(err.value) == (
        "sample c has n = 1: it has no standard deviation "
        "(samples of one: chart them as individuals (--chart xmr))"
    )


def test_xbar_against_given_standards():
    # Given μ = 50, σ = 10: n = 4 → 50 ± 15, n = 25 → 50 ± 6: a mean of 57 is in control for 4, out for 25.
    chart = xbar_chart([("a", 57.0, None, 4), ("b", 57.0, None, 25)], center=50.0, sigma=10.0)
    assert [(p.lcl, p.ucl) for p in chart.points] == [(35.0, 65.0), (44.0, 56.0)]
    assert flagged(apply_rules(chart, ["nelson1"]), "nelson1") == ["b"]


def test_xmr_svg_draws_the_moving_range_chart_under_the_x_chart(loan_cost):
    from haocha_cli.control_charts import render_xmr_svg

    x, mr = xmr_chart(loan_cost, baseline=20)
    svg = render_xmr_svg(apply_rules(x, "nelson"), apply_rules(mr, ["nelson1"]), "贷款成本")
    assert svg == render_xmr_svg(apply_rules(x, "nelson"), apply_rules(mr, ["nelson1"]), "贷款成本")
    root = ET.fromstring(svg)
    top, bottom = root.findall(f"{SVG}svg")
    assert (top.get("class"), top.get("y"), bottom.get("class"), bottom.get("y")) == ("x-chart", "0", "mr-chart", "360")
    assert root.get("height") == "600"
    assert "UCL 25.4482" in ET.tostring(bottom, encoding="unicode")
    assert [c.find(f"{SVG}title").text for c in bottom.findall(f"{SVG}circle[@class='signal']")] == [
        "39: 28 — nelson1"
    ]
