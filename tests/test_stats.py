"""Statistics against published and hand-worked values.

Sources of the expected numbers:
- Normal and t quantiles: standard tables (t_{0.975,10} = 2.228138852, z_{0.975} = 1.959963985 …), and the
  closed forms of Student's t for 1 and 2 degrees of freedom.
- Welch: R's documented example `t.test(extra ~ group, data = sleep)` (Welch Two Sample t-test: t = -1.8608,
  df = 17.776, p-value = 0.07939, 95 % CI -3.3654832 0.2054832) and a second R session's output; R reports
  x − y, haocha y − x (after − before), so the signs flip. Extra digits were checked against an
  independent implementation (SciPy 1.17 `ttest_ind(..., equal_var=False)`) outside this test suite.
- Proportions, differences in differences, shrinkage: worked by hand in the comments.
- Pearson: Anscombe's quartet, set I (Anscombe 1973, r = 0.816).
"""

from __future__ import annotations

import math

import pytest

from haocha_cli.errors import InvalidInput
from haocha_cli.stats import (
    MeanSummary,
    Proportion,
    difference_in_differences,
    mean_var_from_sums,
    normal_cdf,
    normal_ppf,
    pearson_from_sums,
    shrunk_score,
    t_cdf,
    t_ppf,
    t_two_sided_p,
    two_proportion_test,
    welch_t_test,
)

approx = pytest.approx


def summary(values: list[float]) -> MeanSummary:
    """The way a report gets a summary: COUNT, SUM(x) and SUM(x*x) from SQL."""
    return mean_var_from_sums(len(values), sum(values), sum(v * v for v in values))


# --- normal distribution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "z"),
    [
        (0.5, 0.0),
        (0.975, 1.959963984540054),
        (0.025, -1.959963984540054),
        (0.995, 2.5758293035489004),
        (0.95, 1.6448536269514722),
        (0.001, -3.090232306167813),
        (1e-10, -6.361340902404056),
        (0.8413447460685429, 1.0),  # Φ(1)
    ],
)
def test_normal_ppf_table_values(p, z):
    assert normal_ppf(p) == approx(z, abs=1e-12)


def test_normal_cdf_table_values():
    assert normal_cdf(0.0) == 0.5
    assert normal_cdf(-1.0) == approx(0.15865525393145707, abs=1e-15)
    assert normal_cdf(1.959963984540054) == approx(0.975, abs=1e-15)
    assert normal_cdf(-10.0) == approx(7.619853024160527e-24, rel=1e-12)


def test_normal_ppf_inverts_cdf_to_1e_9_and_better():
    for k in range(1, 2000):
        p = k / 2000
        assert normal_cdf(normal_ppf(p)) == approx(p, rel=1e-13, abs=1e-15)
    for p in (1e-300, 1e-50, 1e-15, 1e-5, 0.02424, 0.02426):
        assert normal_cdf(normal_ppf(p)) == approx(p, rel=1e-12)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_normal_ppf_refuses_impossible_probabilities(p):
    with pytest.raises(InvalidInput) as err:
        normal_ppf(p)
    assert str(err.value) == f"a probability must lie strictly between 0 and 1, not {p!r}"


# --- Student t -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "df", "t"),
    [
        (0.975, 10, 2.228138852),
        (0.975, 1, 12.70620474),
        (0.975, 2, 4.30265273),
        (0.975, 8, 2.306004135),
        (0.975, 30, 2.042272456),
        (0.995, 30, 2.749995654),
        (0.95, 5, 2.015048373),
        (0.025, 10, -2.228138852),
        (0.975, 1e9, 1.959963985),  # tends to the normal quantile
    ],
)
def test_t_quantiles_from_tables(p, df, t):
    assert t_ppf(p, df) == approx(t, abs=1e-8)


@pytest.mark.parametrize("t", [-40.0, -3.0, -0.5, 0.0, 0.2, 1.0, 2.5, 12.7, 1e6])
def test_t_cdf_closed_forms_for_one_and_two_degrees(t):
    # df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π.
    assert t_cdf(t, 1) == approx(0.5 + math.atan(t) / math.pi, abs=1e-14)
    # df = 2: F(t) = 1/2 + t / (2·√(2 + t²)).
    assert t_cdf(t, 2) == approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-14)


def test_t_cdf_and_ppf_are_inverse_for_fractional_df():
    for df in (0.7, 3.3, 17.776, 250.5):
        for p in (1e-9, 0.01, 0.2, 0.5, 0.8, 0.975, 0.999999):
            assert t_cdf(t_ppf(p, df), df) == approx(p, rel=1e-10)


def test_t_two_sided_p():
    # t = 2.228138852 with 10 df is the 97.5 % point: two-sided p = 0.05.
    assert t_two_sided_p(2.228138852, 10) == approx(0.05, abs=1e-9)
    assert t_two_sided_p(-2.228138852, 10) == approx(0.05, abs=1e-9)
    assert t_two_sided_p(0.0, 10) == 1.0
    # Cauchy tail: P(|T| > 1000) = 1 − 2·atan(1000)/π, kept to full relative precision.
    assert t_two_sided_p(1000.0, 1) == approx(1 - 2 * math.atan(1000.0) / math.pi, rel=1e-9)


def test_t_refuses_bad_degrees_of_freedom():
    with pytest.raises(InvalidInput) as err:
        t_cdf(1.0, 0)
    assert str(err.value) == "degrees of freedom must be a positive number, not 0"


# --- summaries from sums -------------------------------------------------------------------------


def test_mean_var_from_sums():
    # 2, 4, 9: Σx = 15, Σx² = 101, mean 5, variance (101 − 15²/3) / 2 = (101 − 75) / 2 = 13.
    assert mean_var_from_sums(3, 15, 101) == MeanSummary(5.0, 13.0, 3)
    assert mean_var_from_sums(1, 7.5, 56.25) == MeanSummary(7.5, None, 1)
    assert mean_var_from_sums(0, 0, 0) == MeanSummary(None, None, 0)
    # A constant: rounding must not leave a negative variance.
    const = summary([0.1, 0.1, 0.1])
    assert 0.0 <= const.var < 1e-17
    with pytest.raises(InvalidInput) as err:
        mean_var_from_sums(-1, 0, 0)
    assert str(err.value) == "the number of values must be a whole number of 0 or more, not -1"


def test_pearson_from_sums():
    # x = 1, 2, 3 and y = 1, 3, 2: n·Σxy − ΣxΣy = 3·13 − 36 = 3, n·Σx² − (Σx)² = 42 − 36 = 6 for both,
    # r = 3 / √(6·6) = 0.5.
    assert pearson_from_sums(3, 6, 6, 14, 14, 13) == approx(0.5, abs=1e-15)
    # Anscombe's quartet, set I: r = 0.816 (0.81642 to five places).
    x = [10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5]
    y = [8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68]
    sums = (
        sum(x),
        sum(y),
        sum(v * v for v in x),
        sum(v * v for v in y),
        sum(a * b for a, b in zip(x, y, strict=True)),
    )
    assert pearson_from_sums(11, *sums) == approx(0.81642, abs=5e-6)
    # Undefined: too few pairs, or a variable that does not vary (here y = 0.1 three times).
    assert pearson_from_sums(1, 1, 1, 1, 1, 1) is None
    assert pearson_from_sums(3, 6, 0.30000000000000004, 14, 0.030000000000000006, 0.6000000000000001) is None
    # A perfect negative line: y = 10 − 2x for x = 1..4.
    assert pearson_from_sums(4, 10, 20, 30, 120, 40) == -1.0


def test_shrunk_score():
    # μ = 85, W = 100. A window with 3 ratings at 100 gets (100·85 + 3·100) / 103 = 8800 / 103 = 85.4369;
    # one with 3,000 ratings at 90 gets (8500 + 270000) / 3100 = 89.8387: the small window cannot top it.
    small = shrunk_score(100.0, 3, 85.0, 100)
    large = shrunk_score(90.0, 3000, 85.0, 100)
    assert small == approx(8800 / 103, abs=1e-12)
    assert large == approx(278500 / 3100, abs=1e-12)
    assert small < large
    assert shrunk_score(None, 0, 85.0, 100) == 85.0
    assert shrunk_score(92.0, 10, 85.0, 0) == 92.0  # W = 0: no shrinkage
    with pytest.raises(InvalidInput) as err:
        shrunk_score(90.0, 3, 85.0, -1)
    assert str(err.value) == "the shrinkage weight must be a number of 0 or more, not -1"


# --- two proportions -------------------------------------------------------------------------------


def test_two_proportion_test_worked_example():
    # 差评率 of a county before a pilot: 48 of 1,200 ratings; after: 30 of 1,500.
    # p1 = 0.04, p2 = 0.02, diff = p2 − p1 = −0.02.
    # Unpooled SE = √(0.04·0.96/1200 + 0.02·0.98/1500) = √(0.000032 + 0.0000130667) = √0.0000450667
    #             = 0.00671317; 95 % CI = −0.02 ± 1.959964·0.00671317 = −0.02 ± 0.01315757
    #             = (−0.03315757, −0.00684243).
    # Pooled p = 78/2700 = 0.0288889; SE0 = √(0.0288889·0.9711111·(1/1200 + 1/1500))
    #          = √(0.0280543·0.0015) = √0.0000420815 = 0.00648703; z = −0.02/0.00648703 = −3.08308;
    # two-sided p = 2·Φ(−3.08308) = 0.0020487. Cross-check: z² = 9.50537 is Pearson's χ² of the 2×2
    # table [[48, 1152], [30, 1470]] without continuity correction.
    r = two_proportion_test(48, 1200, 30, 1500)
    assert r["p1"] == 0.04
    assert r["p2"] == 0.02
    assert r["diff"] == approx(-0.02, abs=1e-15)
    assert r["se"] == approx(0.00671317, abs=5e-9)
    assert r["ci_low"] == approx(-0.03315757, abs=5e-9)
    assert r["ci_high"] == approx(-0.00684243, abs=5e-9)
    assert r["z"] == approx(-3.08308, abs=5e-6)
    assert r["z"] ** 2 == approx(9.505368773, abs=1e-8)
    assert r["p_value"] == approx(0.0020487, abs=5e-8)
    assert r["reason"] is None


def test_two_proportion_test_with_a_zero_proportion():
    # 0 of 50 against 5 of 50: p1 = 0, p2 = 0.1; SE = √(0.1·0.9/50) = √0.0018 = 0.0424264;
    # CI = 0.1 ± 1.959964·0.0424264 = (0.0168458, 0.1831542). Pooled 5/100: SE0 = √(0.05·0.95·0.04)
    # = √0.0019 = 0.0435890, z = 2.294157, p = 0.0217815.
    r = two_proportion_test(0, 50, 5, 50)
    assert (r["ci_low"], r["ci_high"]) == (approx(0.0168458, abs=5e-8), approx(0.1831542, abs=5e-8))
    assert r["z"] == approx(2.294157, abs=5e-7)
    assert r["p_value"] == approx(0.0217815, abs=5e-8)


def test_two_proportion_test_degenerate_cases():
    r = two_proportion_test(0, 0, 3, 20)
    assert (r["p1"], r["p2"], r["diff"], r["z"], r["p_value"]) == (None, 0.15, None, None, None)
    assert r["reason"] == "group 1 has no ratings (n = 0)"
    assert two_proportion_test(0, 0, 0, 0)["reason"] == "group 1 and group 2 have no ratings (n = 0)"

    r = two_proportion_test(0, 10, 0, 20)
    assert (r["diff"], r["ci_low"], r["z"], r["p_value"]) == (0.0, None, None, None)
    assert r["reason"] == (
        "each proportion is 0 % or 100 %: the Wald interval is undefined; "
        "both groups are 0 %: there is no variation to test"
    )
    r = two_proportion_test(7, 7, 20, 20)
    assert r["reason"].endswith("both groups are 100 %: there is no variation to test")

    # 0 of 10 against 10 of 10: no Wald interval, but the pooled test exists:
    # p = 0.5, SE0 = √(0.25·0.2) = 0.2236068, z = 4.472136.
    r = two_proportion_test(0, 10, 10, 10)
    assert r["ci_low"] is None
    assert r["z"] == approx(4.472136, abs=5e-7)
    assert r["p_value"] == approx(7.744216e-6, rel=1e-6)
    assert r["reason"] == "each proportion is 0 % or 100 %: the Wald interval is undefined"


def test_two_proportion_test_refuses_impossible_counts():
    with pytest.raises(InvalidInput) as err:
        two_proportion_test(11, 10, 1, 10)
    assert str(err.value) == "a count cannot exceed its total (x1=11, n1=10, x2=1, n2=10)"
    with pytest.raises(InvalidInput) as err:
        two_proportion_test(-1, 10, 1, 10)
    assert str(err.value) == "x1 must be a whole number of 0 or more, not -1"


# --- Welch ---------------------------------------------------------------------------------------


SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_reproduces_rs_sleep_example():
    # R: t = -1.8608, df = 17.776, p-value = 0.07939, 95 % CI -3.3654832 0.2054832, means 0.75 and 2.33.
    g1, g2 = summary(SLEEP_1), summary(SLEEP_2)
    assert (g1.mean, g2.mean) == (approx(0.75), approx(2.33))
    r = welch_t_test(*g1, *g2)
    assert r["diff"] == approx(1.58, abs=1e-12)
    assert r["t"] == approx(1.8608, abs=5e-5)
    assert r["df"] == approx(17.776, abs=5e-4)
    assert r["p_value"] == approx(0.07939, abs=5e-6)
    assert r["ci_low"] == approx(-0.2054832, abs=5e-8)
    assert r["ci_high"] == approx(3.3654832, abs=5e-8)
    # Full precision (independent implementation): t 1.8608134675, df 17.7764735162, p 0.0793941402.
    assert r["t"] == approx(1.8608134675, abs=1e-9)
    assert r["df"] == approx(17.7764735162, abs=1e-9)
    assert r["p_value"] == approx(0.0793941402, abs=1e-9)


def test_welch_second_r_example():
    # R: t.test(ts1, ts2): t = -1.8325, df = 17.9, p-value = 0.08356, 95 % CI -2.1469104 0.1469104.
    ts1 = [11, 9, 10, 11, 10, 12, 9, 11, 12, 9]
    ts2 = [11, 13, 10, 13, 12, 9, 11, 12, 12, 11]
    r = welch_t_test(*summary(ts1), *summary(ts2))
    assert r["diff"] == approx(1.0, abs=1e-12)
    assert r["t"] == approx(1.8325, abs=5e-5)
    assert r["df"] == approx(17.9, abs=5e-2)
    assert r["df"] == approx(17.9003101462, abs=1e-9)
    assert r["p_value"] == approx(0.08356, abs=5e-6)
    assert (r["ci_low"], r["ci_high"]) == (approx(-0.1469104, abs=5e-8), approx(2.1469104, abs=5e-8))


def test_welch_hand_worked_with_one_constant_group():
    # Group 1: mean 10, variance 0, n 5; group 2: mean 12, variance 4, n 9.
    # SE = √(0 + 4/9) = 2/3, t = 2 / (2/3) = 3, df = (4/9)² / ((4/9)²/8) = 8 (only group 2 varies).
    # t_{0.975, 8} = 2.306004135, CI = 2 ± 2.306004135·2/3 = (0.462663910, 3.537336090).
    # Two-sided p for t = 3 with 8 df: between 0.01 and 0.02 by the table (t_{0.995,8} = 3.355,
    # t_{0.99,8} = 2.896); exactly 0.0170716812.
    r = welch_t_test(10, 0, 5, 12, 4, 9)
    assert r["t"] == approx(3.0, abs=1e-12)
    assert r["df"] == approx(8.0, abs=1e-12)
    assert (r["ci_low"], r["ci_high"]) == (approx(0.462663910, abs=1e-9), approx(3.537336090, abs=1e-9))
    assert r["p_value"] == approx(0.0170716812, abs=1e-9)


def test_welch_degenerate_cases():
    r = welch_t_test(*mean_var_from_sums(1, 90, 8100), 88.0, 4.0, 30)
    assert r["diff"] == -2.0
    assert (r["t"], r["df"], r["p_value"], r["ci_low"]) == (None, None, None, None)
    assert r["reason"] == "group 1 has 1 rating: a variance needs at least 2"
    r = welch_t_test(None, None, 0, None, None, 0)
    assert r["diff"] is None
    assert r["reason"] == "group 1 has 0 ratings and group 2 has 0 ratings: a variance needs at least 2"
    r = welch_t_test(90.0, 0.0, 10, 92.0, 0.0, 10)
    assert (r["diff"], r["t"]) == (2.0, None)
    assert r["reason"] == "both groups have zero variance: the t-test is undefined"
    with pytest.raises(InvalidInput) as err:
        welch_t_test(90.0, -1.0, 10, 92.0, 1.0, 10)
    assert str(err.value) == "var1 must be a variance of 0 or more, not -1.0"


# --- difference in differences ---------------------------------------------------------------------


def test_did_of_proportions_hand_worked():
    # Pilot county 差评率 48/1200 = 0.04 → 30/1500 = 0.02 (−0.02); the others 100/2000 = 0.05 → 95/1900
    # = 0.05 (0). DiD = −0.02 − 0 = −0.02.
    # Variances: 0.04·0.96/1200 = 0.000032, 0.02·0.98/1500 = 0.0000130667, 0.05·0.95/2000 = 0.00002375,
    # 0.05·0.95/1900 = 0.000025; sum 0.0000938167, SE = 0.00968590, z = −2.064857,
    # p = 2·Φ(−2.064857) = 0.0389365, CI = −0.02 ± 1.959964·0.00968590 = (−0.0389840, −0.0010160).
    r = difference_in_differences(
        Proportion(48, 1200), Proportion(30, 1500), Proportion(100, 2000), Proportion(95, 1900)
    )
    assert r["diff_treated"] == approx(-0.02, abs=1e-15)
    assert r["diff_control"] == approx(0.0, abs=1e-15)
    assert r["diff"] == approx(-0.02, abs=1e-15)
    assert r["se"] == approx(0.00968590, abs=5e-9)
    assert r["z"] == approx(-2.064857, abs=5e-7)
    assert r["p_value"] == approx(0.0389365, abs=5e-8)
    assert (r["ci_low"], r["ci_high"]) == (approx(-0.0389840, abs=5e-8), approx(-0.0010160, abs=5e-8))
    assert r["reason"] is None


def test_did_of_means_hand_worked():
    # Satisfaction index: pilot 90 → 93 (+3), others 89 → 90 (+1); DiD = 2.
    # Each group's variance of the mean is 1 (100/100, 100/100, 50/50, 100/100): SE = √4 = 2, z = 1,
    # p = 2·(1 − Φ(1)) = 0.3173105079, CI = 2 ± 1.959963985·2 = (−1.919927969, 5.919927969).
    r = difference_in_differences(
        MeanSummary(90.0, 100.0, 100),
        MeanSummary(93.0, 100.0, 100),
        MeanSummary(89.0, 50.0, 50),
        MeanSummary(90.0, 100.0, 100),
    )
    assert (r["diff_treated"], r["diff_control"], r["diff"]) == (3.0, 1.0, 2.0)
    assert r["se"] == 2.0
    assert r["z"] == 1.0
    assert r["p_value"] == approx(0.3173105079, abs=1e-10)
    assert (r["ci_low"], r["ci_high"]) == (approx(-1.919927969, abs=1e-9), approx(5.919927969, abs=1e-9))


def test_did_degenerate_and_invalid():
    r = difference_in_differences(Proportion(0, 0), Proportion(3, 10), Proportion(1, 10), Proportion(2, 10))
    assert (r["diff"], r["p_value"]) == (None, None)
    assert r["reason"] == "the treated before group has no ratings (n = 0)"
    r = difference_in_differences(
        MeanSummary(90.0, 1.0, 10),
        MeanSummary(91.0, None, 1),
        MeanSummary(89.0, 1.0, 10),
        MeanSummary(90.0, 1.0, 10),
    )
    assert r["reason"] == "the treated after group has 1 rating: a variance needs at least 2"
    r = difference_in_differences(Proportion(0, 10), Proportion(0, 10), Proportion(10, 10), Proportion(0, 10))
    assert (r["diff"], r["se"], r["z"]) == (1.0, None, None)
    assert r["reason"] == "no group shows any variation: the test is undefined"
    with pytest.raises(InvalidInput) as err:
        difference_in_differences(
            Proportion(1, 10), MeanSummary(1.0, 1.0, 10), Proportion(1, 10), Proportion(1, 10)
        )
    assert str(err.value) == "the four groups must all be proportions or all be mean summaries"
