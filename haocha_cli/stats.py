"""Plain statistics for benchmarking (对标) and rankings, from summary statistics, standard library only.

Everything here works on counts and sums that SQL can produce (COUNT, SUM(x), SUM(x*x)), so a report never
has to load individual ratings. Differences are always "group 2 minus group 1" (after minus before,
pilot minus the others). A test that cannot be computed (an empty group, no variation at all) returns
its figures as None with a ``reason`` a clerk can read, never a division by zero. The formulas are listed
in docs/stats.md.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from haocha_cli.errors import InvalidInput

__all__ = [
    "MeanSummary",
    "Proportion",
    "difference_in_differences",
    "mean_var_from_sums",
    "normal_cdf",
    "normal_ppf",
    "pearson_from_sums",
    "regularized_beta",
    "shrunk_score",
    "t_cdf",
    "t_ppf",
    "t_two_sided_p",
    "two_proportion_test",
    "welch_t_test",
]


class Proportion(NamedTuple):
    """x successes (e.g. bad reviews, 差评) out of n ratings."""

    x: int
    n: int


class MeanSummary(NamedTuple):
    """Mean and sample variance (divisor n − 1) of n values; None where n is too small to define them."""

    mean: float | None
    var: float | None
    n: int


# ---------------------------------------------------------------------------------------------------
# Normal distribution


def normal_cdf(z: float) -> float:
    """Φ(z), the standard normal distribution function (erfc keeps the lower tail's relative accuracy)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


# Acklam's rational approximation of Φ⁻¹ (relative error < 1.15e-9), refined below by one Halley step.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


def _ppf_lower(p: float) -> float:
    """Φ⁻¹(p) for 0 < p ≤ 0.5, where Φ(x) − p can be computed without cancellation."""
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        num = ((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]
        x = num / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        num = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
        x = num / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    # Halley step on Φ(x) − p: brings the error down to rounding level.
    e = normal_cdf(x) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


def normal_ppf(p: float) -> float:
    """Φ⁻¹(p), the standard normal quantile, for 0 < p < 1 (accurate to about 1e-15)."""
    if not 0.0 < p < 1.0:
        raise InvalidInput(f"a probability must lie strictly between 0 and 1, not {p!r}")
    if p > 0.5:
        return -_ppf_lower(1.0 - p)  # 1 − p is exact for p in [0.5, 1)
    return _ppf_lower(p)


def _z_for(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise InvalidInput(f"a confidence level must lie strictly between 0 and 1, not {confidence!r}")
    return normal_ppf(0.5 + confidence / 2.0)


def _two_sided_normal_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


# ---------------------------------------------------------------------------------------------------
# Student t distribution, through the regularized incomplete beta function

_EPS = 1e-16
_FPMIN = 1e-300
_MAXIT = 100_000


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz, Numerical Recipes §6.4)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
    h = d
    for m in range(1, _MAXIT + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
        c = 1.0 + aa / c
        c = c if abs(c) > _FPMIN else _FPMIN
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
        c = 1.0 + aa / c
        c = c if abs(c) > _FPMIN else _FPMIN
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def _stirling_tail(x: float) -> float:
    """lgamma(x) − [(x − ½)·ln x − x + ½·ln 2π], for x ≥ 10 (error below 1e-12)."""
    x2 = x * x
    return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * x2)) / x2) / x2) / x


def _log_beta(a: float, b: float) -> float:
    """ln B(a, b); for a large argument lgamma(a + b) − lgamma(a) is taken from Stirling's series,
    because subtracting two huge lgamma values would lose about 1e-9 at df = 1e8."""
    small, big = min(a, b), max(a, b)
    if big < 10:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    # lgamma(big + small) − lgamma(big)
    rise = (
        (big - 0.5) * math.log1p(small / big)
        + small * math.log(big + small)
        - small
        + _stirling_tail(big + small)
        - _stirling_tail(big)
    )
    return math.lgamma(small) - rise


def regularized_beta(a: float, b: float, x: float, y: float | None = None) -> float:
    """I_x(a, b), the regularized incomplete beta function; ``y`` = 1 − x when the caller knows it better."""
    if a <= 0 or b <= 0:
        raise InvalidInput(f"the beta function's parameters must be positive, not a={a!r}, b={b!r}")
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    # log1p keeps x^a (1 − x)^b accurate when x or 1 − x is near 1 (a t-test with a large df).
    log_x = math.log1p(-y) if y < 0.5 else math.log(x)
    log_y = math.log1p(-x) if x < 0.5 else math.log(y)
    front = math.exp(a * log_x + b * log_y - _log_beta(a, b))
    # The continued fraction converges fast only on this side of the mean; use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, y) / b


def _check_df(df: float) -> None:
    if not (isinstance(df, int | float) and df > 0 and math.isfinite(df)):
        raise InvalidInput(f"degrees of freedom must be a positive number, not {df!r}")


def _t_tail2(t: float, df: float) -> float:
    """P(|T| > |t|) for T ~ t(df): I_{df/(df+t²)}(df/2, 1/2)."""
    if math.isnan(t):
        raise InvalidInput("a t statistic must be a number, not nan")
    if math.isinf(t):
        return 0.0
    t2 = t * t
    if t2 > 1e300 and t2 > 1e20 * df:
        # x = df/(df + t²) would underflow; there the continued fraction is 1 and only the front
        # factor x^a / (a·B(a, ½)) is left, computed in logarithms.
        a = df / 2.0
        log_x = math.log(df) - 2.0 * math.log(abs(t))
        return math.exp(a * log_x - _log_beta(a, 0.5)) / a
    return regularized_beta(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def t_two_sided_p(t: float, df: float) -> float:
    """The two-sided p-value P(|T| ≥ |t|) of Student's t with ``df`` (not necessarily whole) degrees."""
    _check_df(df)
    return _t_tail2(t, df)


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t distribution with ``df`` degrees of freedom."""
    _check_df(df)
    half_tail = 0.5 * _t_tail2(t, df)
    return 1.0 - half_tail if t > 0 else half_tail


def _t_pdf(t: float, df: float) -> float:
    log_c = math.lgamma((df + 1.0) / 2.0) - math.lgamma(df / 2.0) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1.0) / 2.0 * math.log1p(t * t / df))


def t_ppf(p: float, df: float) -> float:
    """The quantile of Student's t: the t with P(T ≤ t) = p, by safeguarded Newton on the upper tail."""
    _check_df(df)
    if not 0.0 < p < 1.0:
        raise InvalidInput(f"a probability must lie strictly between 0 and 1, not {p!r}")
    if p == 0.5:
        return 0.0
    q = min(p, 1.0 - p)  # solve the upper tail P(T > t) = q for t > 0, then restore the sign

    def excess(t: float) -> float:
        return 0.5 * _t_tail2(t, df) - q

    lo, hi = 0.0, max(1.0, -normal_ppf(q))
    while excess(hi) > 0:
        lo, hi = hi, hi * 2.0
        if math.isinf(hi):  # beyond the largest float (tiny p with df < 1)
            return math.inf if p > 0.5 else -math.inf
    t = (lo + hi) / 2.0
    for _ in range(200):
        f = excess(t)
        if f > 0:
            lo = t
        else:
            hi = t
        density = _t_pdf(t, df)  # d(upper tail)/dt = −density
        candidate = t + f / density if density > 0 else math.nan
        if not lo < candidate < hi:  # also catches nan: bisect instead
            candidate = (lo + hi) / 2.0
        if abs(candidate - t) <= 1e-14 * max(1.0, abs(t)) or hi - lo <= 1e-14 * max(1.0, hi):
            t = candidate
            break
        t = candidate
    return t if p > 0.5 else -t


# ---------------------------------------------------------------------------------------------------
# Summary statistics


def _check_count(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a whole number of 0 or more, not {value!r}")


def mean_var_from_sums(n: int, s: float, ss: float) -> MeanSummary:
    """Mean and sample variance (divisor n − 1) from n, Σx and Σx².

    n = 0 gives no mean and no variance, n = 1 a mean and no variance.
    """
    _check_count(n, "the number of values")
    if n == 0:
        return MeanSummary(None, None, 0)
    mean = s / n
    if n == 1:
        return MeanSummary(mean, None, 1)
    # Rounding can push a zero spread just below 0.
    var = max((ss - s * s / n) / (n - 1), 0.0)
    return MeanSummary(mean, var, n)


def pearson_from_sums(n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float | None:
    """Pearson's r from n, Σx, Σy, Σx², Σy², Σxy; None when undefined (n < 2 or a constant variable)."""
    _check_count(n, "the number of pairs")
    if n < 2:
        return None
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    # Relative thresholds: a constant variable leaves only rounding noise in n·Σx² − (Σx)².
    if vx <= 1e-12 * max(abs(n * sxx), _FPMIN) or vy <= 1e-12 * max(abs(n * syy), _FPMIN):
        return None
    r = (n * sxy - sx * sy) / math.sqrt(vx * vy)
    return max(-1.0, min(1.0, r))


def shrunk_score(index: float | None, n: int, mu: float, w: float) -> float:
    """Small-sample-shrunk score (W·μ + N·SI) / (W + N) used for rankings; N = 0 gives μ.

    ``index`` is the unit's raw satisfaction index SI, ``mu`` the overall index μ, ``w`` the weight W of
    the prior (by default the mean N of the units rated in the period), so a window with 3 ratings cannot top
    one with 3,000 by luck.
    """
    _check_count(n, "the number of ratings")
    if not (isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 and math.isfinite(w)):
        raise InvalidInput(f"the shrinkage weight must be a number of 0 or more, not {w!r}")
    if n == 0:
        return float(mu)
    if index is None:
        raise InvalidInput(f"a unit with {n} ratings must have an index")
    return (w * mu + n * index) / (w + n)


# ---------------------------------------------------------------------------------------------------
# Tests


def _unavailable(result: dict, reason: str, *keys: str) -> dict:
    for key in keys:
        result[key] = None
    result["reason"] = reason
    return result


def two_proportion_test(x1: int, n1: int, x2: int, n2: int, *, confidence: float = 0.95,
                        names: tuple[str, str] = ("group 1", "group 2")) -> dict:
    """Compare two proportions x1/n1 and x2/n2 (e.g. 差评率 before and after a pilot).

    Returns p1, p2, diff = p2 − p1, se (unpooled), ci_low/ci_high (Wald interval, unpooled SE),
    z and the two-sided p_value (pooled SE, under H0: p1 = p2), and reason (None when all is defined);
    ``names`` are what the reason calls the two groups.
    """
    for value, name in ((x1, "x1"), (n1, "n1"), (x2, "x2"), (n2, "n2")):
        _check_count(value, name)
    if x1 > n1 or x2 > n2:
        raise InvalidInput(f"a count cannot exceed its total (x1={x1}, n1={n1}, x2={x2}, n2={n2})")
    z_crit = _z_for(confidence)
    result: dict = {
        "p1": x1 / n1 if n1 else None,
        "p2": x2 / n2 if n2 else None,
        "diff": None,
        "se": None,
        "ci_low": None,
        "ci_high": None,
        "z": None,
        "p_value": None,
        "reason": None,
    }
    empty = [name for name, n in zip(names, (n1, n2), strict=True) if n == 0]
    if empty:
        verb = "has" if len(empty) == 1 else "have"
        return _unavailable(result, f"{' and '.join(empty)} {verb} no ratings (n = 0)")
    p1, p2 = result["p1"], result["p2"]
    diff = p2 - p1
    result["diff"] = diff
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    reasons = []
    if se > 0:
        result.update(se=se, ci_low=diff - z_crit * se, ci_high=diff + z_crit * se)
    else:
        reasons.append("each proportion is 0 % or 100 %: the Wald interval is undefined")
    pooled = (x1 + x2) / (n1 + n2)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se_pooled > 0:
        z = diff / se_pooled
        result.update(z=z, p_value=_two_sided_normal_p(z))
    else:
        reasons.append(f"both groups are {'100' if pooled else '0'} %: there is no variation to test")
    result["reason"] = "; ".join(reasons) or None
    return result


def welch_t_test(
    mean1: float | None,
    var1: float | None,
    n1: int,
    mean2: float | None,
    var2: float | None,
    n2: int,
    *,
    confidence: float = 0.95,
    names: tuple[str, str] = ("group 1", "group 2"),
) -> dict:
    """Welch's unequal-variance t-test of mean2 − mean1 from summary statistics (sample variances).

    Returns diff, se, ci_low/ci_high (t quantile at the Welch–Satterthwaite df), t, df, the two-sided
    p_value, and reason (None when all is defined); ``names`` are what the reason calls the two groups.
    """
    _check_count(n1, "n1")
    _check_count(n2, "n2")
    for var, name in ((var1, "var1"), (var2, "var2")):
        if var is not None and not var >= 0:
            raise InvalidInput(f"{name} must be a variance of 0 or more, not {var!r}")
    _z_for(confidence)  # validates the level
    result: dict = {
        "diff": None, "se": None, "ci_low": None, "ci_high": None,
        "t": None, "df": None, "p_value": None, "reason": None,
    }  # fmt: skip
    if n1 and n2 and mean1 is not None and mean2 is not None:
        result["diff"] = mean2 - mean1
    small = [f"{name} has {n} rating{'s' if n != 1 else ''}" for name, n in zip(names, (n1, n2), strict=True) if n < 2]
    if small:
        return _unavailable(result, f"{' and '.join(small)}: a variance needs at least 2")
    if var1 is None or var2 is None or mean1 is None or mean2 is None:
        raise InvalidInput("a group with 2 or more values must have a mean and a variance")
    a, b = var1 / n1, var2 / n2
    se = math.sqrt(a + b)
    if se == 0:
        return _unavailable(result, "both groups have zero variance: the t-test is undefined")
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    t = result["diff"] / se
    half_width = t_ppf(0.5 + confidence / 2.0, df) * se
    result.update(
        se=se,
        ci_low=result["diff"] - half_width,
        ci_high=result["diff"] + half_width,
        t=t,
        df=df,
        p_value=_t_tail2(t, df),
    )
    return result


def _group_estimate(group: Proportion | MeanSummary, label: str) -> tuple[float, float] | str:
    """(estimate, sampling variance of the estimate), or the reason it is undefined."""
    if isinstance(group, Proportion):
        _check_count(group.x, f"the {label} count")
        _check_count(group.n, f"the {label} total")
        if group.x > group.n:
            raise InvalidInput(f"the {label} count {group.x} exceeds its total {group.n}")
        if group.n == 0:
            return f"the {label} group has no ratings (n = 0)"
        p = group.x / group.n
        return p, p * (1 - p) / group.n
    _check_count(group.n, f"the {label} number of values")
    if group.n < 2:
        return f"the {label} group has {group.n} rating{'s' if group.n != 1 else ''}: a variance needs at least 2"
    if group.mean is None or group.var is None or not group.var >= 0:
        raise InvalidInput(f"the {label} group needs a mean and a variance of 0 or more")
    return group.mean, group.var / group.n


def difference_in_differences(
    before_t: Proportion | MeanSummary,
    after_t: Proportion | MeanSummary,
    before_c: Proportion | MeanSummary,
    after_c: Proportion | MeanSummary,
    *,
    confidence: float = 0.95,
) -> dict:
    """Difference in differences (after_t − before_t) − (after_c − before_c) of a pilot against control.

    All four groups are either :class:`Proportion` (x, n) or :class:`MeanSummary` (mean, var, n), and
    independent. SE = √(sum of the four sampling variances); the interval and the two-sided p-value are
    normal-based (z). Returns diff, diff_treated, diff_control, se, ci_low, ci_high, z, p_value, reason.
    """
    groups = {"treated before": before_t, "treated after": after_t,
              "control before": before_c, "control after": after_c}  # fmt: skip
    kinds = {type(g) for g in groups.values()}
    if len(kinds) != 1 or not kinds <= {Proportion, MeanSummary}:
        raise InvalidInput("the four groups must all be proportions or all be mean summaries")
    z_crit = _z_for(confidence)
    result: dict = {
        "diff": None, "diff_treated": None, "diff_control": None, "se": None,
        "ci_low": None, "ci_high": None, "z": None, "p_value": None, "reason": None,
    }  # fmt: skip
    estimates = {label: _group_estimate(g, label) for label, g in groups.items()}
    reasons = [e for e in estimates.values() if isinstance(e, str)]
    if reasons:
        return _unavailable(result, "; ".join(reasons))
    (bt, v_bt), (at, v_at), (bc, v_bc), (ac, v_ac) = estimates.values()
    diff_t, diff_c = at - bt, ac - bc
    diff = diff_t - diff_c
    result.update(diff=diff, diff_treated=diff_t, diff_control=diff_c)
    se = math.sqrt(v_bt + v_at + v_bc + v_ac)
    if se == 0:
        return _unavailable(result, "no group shows any variation: the test is undefined",
                            "se", "ci_low", "ci_high", "z", "p_value")  # fmt: skip
    z = diff / se
    result.update(se=se, ci_low=diff - z_crit * se, ci_high=diff + z_crit * se, z=z,
                  p_value=_two_sided_normal_p(z))  # fmt: skip
    return result
