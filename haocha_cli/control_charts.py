"""Statistical process control (统计过程控制): p-charts, XmR charts, run rules and an SVG renderer.

Pure computation over plain Python values: no database, no CLI. The conventions (zones, strictness, which
points a run rule flags) are written down in docs/spc.md; the code follows that document.

- ``p_chart(points, baseline=..., exclude=..., laney=False, center=None)`` — proportion of bad reviews (差评率)
  with a different n each point; optional Laney p′ limits for over-dispersed data, or a given standard p.
- ``np_chart(points, baseline=..., exclude=..., center=None)`` — the number of bad items, constant n.
- ``xmr_chart(points, baseline=..., exclude=..., sigma_method="mr", center=None, sigma=None)`` — individuals
  (X) and moving-range (MR) charts, σ from MR̄/d₂ or s/c₄, or given.
- ``xbar_chart(points, baseline=..., exclude=..., sigma_method="pooled", center=None, sigma=None)`` — means of
  samples of varying n (X̄), limits that follow each sample's n.
- ``standard_chart(points, cl, sigma)`` — individuals judged against given standard values.
- ``apply_rules(chart, rules)`` — Western Electric 1–4 / Nelson 1–8 run rules.
- ``render_svg(chart, title)`` — a self-contained, deterministic SVG.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import escape

from haocha_cli.errors import InvalidInput

# d2 for moving ranges of two points, and D4 for their control chart (ASTM STP 15D; Montgomery App. VI).
D2_MR = 1.128
D4_MR = 3.267
# The MR chart against a given σ (Montgomery App. VI, n = 2): CL = d2·σ, UCL = D2·σ = 3.686σ, LCL = D1·σ = 0.
D2_UPPER_MR = 3.686
# d2 for the range of a sample of n (ASTM STP 15D; Montgomery App. VI), for σ̂ = R/d2 on an X̄ chart.
D2: dict[int, float] = {
    2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970, 10: 3.078,
    11: 3.173, 12: 3.258, 13: 3.336, 14: 3.407, 15: 3.472, 16: 3.532, 17: 3.588, 18: 3.640, 19: 3.689,
    20: 3.735, 21: 3.778, 22: 3.819, 23: 3.858, 24: 3.895, 25: 3.931,
}  # fmt: skip
XMR_SIGMA_METHODS = ("mr", "sd")
XBAR_SIGMA_METHODS = ("pooled", "sd", "rmsdf", "range")

BASELINE = "baseline"
MONITOR = "monitor"

# A point within this many sigmas of a zone boundary counts as on it (not beyond), so that a value computed
# to sit exactly on a limit is not flagged because of floating-point rounding.
_EPS = 1e-9

Baseline = int | slice | Callable[[Any], bool] | None


# --------------------------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class ChartPoint:
    """One plotted point. ``value`` and the limits are None where there is nothing to plot (n = 0)."""

    label: Any
    n: int | None
    value: float | None
    cl: float | None
    lcl: float | None
    ucl: float | None
    sigma: float | None
    z: float | None
    phase: str
    excluded: bool = False
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chart:
    """A control chart: its points and the baseline statistics they were judged against.

    kind: "p", "laney_p", "np", "x", "mr", "xbar" or "standard". center: the centre line (p̄, np̄, X̄, MR̄ or
    x̿), from the baseline or given. sigma: the constant sigma of a point (X, MR, standard charts; None for p
    and np charts, where it varies); on an X̄ chart the σ of one observation (for ``pooled``: the pooled s̄).
    sigma_z: Laney's σ_z (laney_p only). rules: the rule ids last applied by ``apply_rules``. method: how σ
    was found ("mr", "sd", "pooled", "rmsdf", "range", "given"; None for p and np charts).
    """

    kind: str
    points: tuple[ChartPoint, ...]
    center: float
    sigma: float | None = None
    sigma_z: float | None = None
    rules: tuple[str, ...] = field(default=())
    method: str | None = None

    def to_rows(self) -> list[dict[str, Any]]:
        """The points as plain dicts (signals as a list), in chart order."""
        return [
            {
                "label": p.label,
                "n": p.n,
                "value": p.value,
                "cl": p.cl,
                "lcl": p.lcl,
                "ucl": p.ucl,
                "sigma": p.sigma,
                "z": p.z,
                "phase": p.phase,
                "excluded": p.excluded,
                "signals": list(p.signals),
            }
            for p in self.points
        ]

    @property
    def signal_labels(self) -> list[Any]:
        """Labels of the points that broke at least one rule."""
        return [p.label for p in self.points if p.signals]


@dataclass(frozen=True)
class Rule:
    id: str
    zh: str
    en: str

    @property
    def description(self) -> str:
        return f"{self.zh} ({self.en})"


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("nelson1", "1 点落在 3σ 控制限之外", "1 point beyond 3σ"),
        Rule("nelson2", "连续 9 点落在中心线同一侧", "9 points in a row on one side of the centre line"),
        Rule("nelson3", "连续 6 点持续上升或下降", "6 points in a row steadily increasing or decreasing"),
        Rule("nelson4", "连续 14 点上下交替", "14 points in a row alternating up and down"),
        Rule("nelson5", "3 点中有 2 点落在同侧 2σ 之外", "2 of 3 points beyond 2σ on the same side"),
        Rule("nelson6", "5 点中有 4 点落在同侧 1σ 之外", "4 of 5 points beyond 1σ on the same side"),
        Rule(
            "nelson7", "连续 15 点落在中心线上下 1σ 以内", "15 points in a row within 1σ above or below the centre line"
        ),
        Rule(
            "nelson8",
            "连续 8 点落在 1σ 之外且中心线两侧都有",
            "8 points in a row beyond 1σ, with points on both sides of the centre line",
        ),
        Rule("we1", "1 点落在 3σ 控制限之外", "1 point beyond 3σ"),
        Rule("we2", "3 点中有 2 点落在同侧 2σ 之外", "2 of 3 points beyond 2σ on the same side"),
        Rule("we3", "5 点中有 4 点落在同侧 1σ 之外", "4 of 5 points beyond 1σ on the same side"),
        Rule("we4", "连续 8 点落在中心线同一侧", "8 points in a row on one side of the centre line"),
    )
}

RULE_SETS: dict[str, tuple[str, ...]] = {
    "nelson": tuple(f"nelson{i}" for i in range(1, 9)),
    "we": tuple(f"we{i}" for i in range(1, 5)),
}


# ------------------------------------------------------------------------------------------------ helpers


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} {value!r} is not a finite number", "give plain numbers")
    return value


def _baseline_mask(labels: Sequence[Any], baseline: Baseline) -> list[bool]:
    count = len(labels)
    if baseline is None:
        return [True] * count
    if isinstance(baseline, bool):
        raise InvalidInput(f"baseline {baseline!r} is not a count, slice or predicate", "e.g. baseline=20")
    if isinstance(baseline, int):
        if not 1 <= baseline <= count:
            raise InvalidInput(
                f"baseline of {baseline} points, but the chart has {count}",
                f"give a count between 1 and {count}",
            )
        return [i < baseline for i in range(count)]
    if isinstance(baseline, slice):
        chosen = set(range(count)[baseline])
        return [i in chosen for i in range(count)]
    if callable(baseline):
        return [bool(baseline(label)) for label in labels]
    raise InvalidInput(f"baseline {baseline!r} is not a count, slice or predicate", "e.g. baseline=20")


def _exclusion_mask(
    labels: Sequence[Any], in_baseline: Sequence[bool], exclude: Collection[Any]
) -> list[bool]:
    wanted = set(exclude)
    unknown = sorted(wanted - set(labels), key=str)
    if unknown:
        raise InvalidInput(f"excluded point {unknown[0]} is not on the chart", "check the labels to exclude")
    for label, base in zip(labels, in_baseline, strict=True):
        if label in wanted and not base:
            raise InvalidInput(
                f"excluded point {label} is not in the baseline",
                "only baseline (phase I) points can be left out of the limits",
            )
    return [label in wanted for label in labels]


def _blank(label: Any, n: int | None, phase: str, excluded: bool = False) -> ChartPoint:
    """A point with nothing to plot (n = 0 or a missing value): no value, no limits, never a signal."""
    return ChartPoint(label, n, None, None, None, None, None, None, phase, excluded)


def _z(value: float, cl: float, sigma: float) -> float:
    if sigma > 0:
        return (value - cl) / sigma
    # Degenerate limits (p̄ = 0 or 1, or no variation in the baseline): any departure is beyond every zone.
    if value == cl:
        return 0.0
    return math.copysign(math.inf, value - cl)


def _moving_ranges_mean(zs: Sequence[float | None], usable: Sequence[bool]) -> float | None:
    """Mean |x_i − x_prev| where x_prev is the nearest earlier value; both ends must be usable."""
    ranges = []
    prev: int | None = None
    for i, z in enumerate(zs):
        if z is None:
            continue
        if prev is not None and usable[i] and usable[prev]:
            ranges.append(abs(z - zs[prev]))
        prev = i
    return sum(ranges) / len(ranges) if ranges else None


# ---------------------------------------------------------------------------------------------- p charts


def p_chart(
    points: Sequence[tuple[Any, int, int]],
    baseline: Baseline = None,
    *,
    exclude: Collection[Any] = (),
    laney: bool = False,
    center: float | None = None,
) -> Chart:
    """p-chart of bad/n per point, limits from the baseline's p̄ = Σbad/Σn.

    points: (label, bad, n). baseline: None (all points), a count of leading points, a slice, or a
    predicate on the label. exclude: labels of baseline points left out of p̄ (and of σ_z) but still
    plotted. laney: Laney p′ limits p̄ ± 3·σ_pi·σ_z. Points with n = 0 get no value and no limits.
    center: a given standard p (0 < p < 1): the limits come from it, not from the data, and every point is
    in phase II (monitor); baseline and exclude must then be left out.
    """
    labels = [p[0] for p in points]
    for label, bad, n in points:
        _number(bad, f"point {label}: bad count")
        _number(n, f"point {label}: sample size")
        if n < 0 or bad < 0:
            raise InvalidInput(f"point {label}: negative count", "counts and sample sizes are ≥ 0")
        if bad > n:
            raise InvalidInput(
                f"point {label}: {bad} bad out of a sample of {n}",
                "the bad count cannot exceed the sample size",
            )
    if center is not None:
        _given_standard(center, baseline, exclude, "the given proportion")
        if not 0 < center < 1:
            raise InvalidInput(f"the given proportion must lie between 0 and 1, got {center:g}",
                               "give the standard p as a fraction, e.g. 0.05 for 5%")
        if laney:
            raise InvalidInput("a Laney p′ chart takes its σ_z from the data, not from a given standard",
                               "give the standard to the plain p chart")
        baseline = _no_baseline
    in_base = _baseline_mask(labels, baseline)
    excluded = _exclusion_mask(labels, in_base, exclude)
    usable = [b and not e for b, e in zip(in_base, excluded, strict=True)]

    if center is not None:
        pbar = float(center)
    else:
        total_bad = sum(p[1] for p, u in zip(points, usable, strict=True) if u)
        total_n = sum(p[2] for p, u in zip(points, usable, strict=True) if u)
        if total_n <= 0:
            raise InvalidInput("the baseline has no points with n > 0", "choose a baseline period that has data")
        pbar = total_bad / total_n

    sigma_p = [math.sqrt(pbar * (1 - pbar) / n) if n > 0 else None for _, _, n in points]
    sigma_z = None
    if laney:
        if not 0 < pbar < 1:
            raise InvalidInput(
                f"a Laney p′ chart needs 0 < p̄ < 1, the baseline gives p̄ = {pbar:g}",
                "use the plain p-chart",
            )
        zs = [(bad / n - pbar) / s if s else None for (_, bad, n), s in zip(points, sigma_p, strict=True)]
        mr_bar = _moving_ranges_mean(zs, usable)
        if mr_bar is None:
            raise InvalidInput(
                "a Laney p′ chart needs at least two consecutive baseline points with n > 0",
                "widen the baseline",
            )
        sigma_z = mr_bar / D2_MR

    out = []
    for (label, bad, n), s, base, exc in zip(points, sigma_p, in_base, excluded, strict=True):
        phase = BASELINE if base else MONITOR
        if s is None:
            out.append(_blank(label, n, phase, exc))
            continue
        sigma = s * sigma_z if laney else s
        value = bad / n
        lcl = max(0.0, pbar - 3 * sigma)
        ucl = min(1.0, pbar + 3 * sigma)
        out.append(
            ChartPoint(
                label=label,
                n=n,
                value=value,
                cl=pbar,
                lcl=lcl,
                ucl=ucl,
                sigma=sigma,
                z=_z(value, pbar, sigma),
                phase=phase,
                excluded=exc,
            )
        )
    return Chart("laney_p" if laney else "p", tuple(out), pbar, sigma_z=sigma_z,
                 method="given" if center is not None else None)


def np_chart(
    points: Sequence[tuple[Any, int, int]],
    baseline: Baseline = None,
    *,
    exclude: Collection[Any] = (),
    center: float | None = None,
) -> Chart:
    """np-chart of the number of bad items per point, every point with the same n.

    CL = n·p̄, limits n·p̄ ± 3·√(n·p̄·(1 − p̄)) (LCL floored at 0, UCL capped at n); p̄ and the arguments as for
    ``p_chart`` (``center`` is the given standard p, not n·p). The z of a point is the same as on the p chart.
    """
    sizes = {n for _, _, n in points}
    if len(sizes) > 1 or 0 in sizes:
        label, _, n = next(p for p in points if p[2] != points[0][2] or p[2] == 0)
        raise InvalidInput(
            f"an np chart needs the same sample size at every point; point {label} has n = {n}, "
            f"point {points[0][0]} n = {points[0][2]}",
            "use the p chart (--chart p) when n varies",
        )
    chart = p_chart(points, baseline, exclude=exclude, center=center)
    n = points[0][2] if points else 0
    scaled = tuple(
        replace(
            pt,
            value=pt.value * n,
            cl=pt.cl * n,
            lcl=max(0.0, pt.cl * n - 3 * pt.sigma * n),
            ucl=min(float(n), pt.cl * n + 3 * pt.sigma * n),
            sigma=pt.sigma * n,
        )
        for pt in chart.points
    )
    return replace(chart, kind="np", points=scaled, center=chart.center * n)


def _no_baseline(label: Any) -> bool:
    """Against a given standard no point is in phase I: every point is monitored."""
    return False


def _given_standard(value: float, baseline: Baseline, exclude: Collection[Any], what: str) -> None:
    _number(value, what)
    if baseline is not None or exclude:
        raise InvalidInput(
            "a chart against given standards takes no baseline and no excluded points",
            "leave out --baseline and --exclude, or the given standard",
        )


def _given_center_and_sigma(center: float | None, sigma: float | None, baseline: Baseline,
                            exclude: Collection[Any]) -> tuple[bool, Baseline]:
    """Check given standards of a variables chart: whether both are given (every point then monitored, no
    baseline) and the baseline to use."""
    if center is not None:
        _number(center, "the given centre line")
    if sigma is not None:
        _number(sigma, "the given sigma")
        if sigma <= 0:
            raise InvalidInput(f"sigma must be positive, got {sigma:g}", "give the process standard deviation")
    if center is not None and sigma is not None:
        _given_standard(center, baseline, exclude, "the given centre line")
        return True, _no_baseline
    return False, baseline


def c4(n: int) -> float:
    """The bias factor of the sample standard deviation of n observations: E(s) = c4·σ (n ≥ 2)."""
    if n < 2:
        raise InvalidInput(f"c4 needs a sample of 2 or more, got {n}", "samples of one have no standard deviation")
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


# -------------------------------------------------------------------------------------------- XmR charts


def xmr_chart(
    points: Sequence[tuple[Any, float | None]],
    baseline: Baseline = None,
    *,
    exclude: Collection[Any] = (),
    sigma_method: str = "mr",
    center: float | None = None,
    sigma: float | None = None,
) -> tuple[Chart, Chart]:
    """Individuals (X) and moving-range (MR) charts, limits from the baseline.

    sigma_method "mr": σ̂ = MR̄/1.128; "sd": σ̂ = s/c4(m), s the standard deviation of the m baseline values.
    X limits X̄ ± 3σ̂; MR chart CL = MR̄, UCL = 3.267·MR̄, LCL = 0 (whatever the σ method). A value of None is
    a gap: no point is plotted and the next moving range spans it. Moving ranges touching an excluded point
    do not enter MR̄. center / sigma: given standards for X̄ / σ; with both given every point is monitored,
    and the MR chart is the standard one, CL = 1.128σ, UCL = 3.686σ.
    """
    if sigma_method not in XMR_SIGMA_METHODS:
        raise InvalidInput(f"sigma method {sigma_method!r} is not one of an individuals chart",
                           "use mr (MR̄/d2) or sd (s/c4)")
    standard, baseline = _given_center_and_sigma(center, sigma, baseline, exclude)
    labels = [p[0] for p in points]
    values = [None if v is None else _number(v, f"point {label}: value") for label, v in points]
    in_base = _baseline_mask(labels, baseline)
    excluded = _exclusion_mask(labels, in_base, exclude)
    usable = [b and not e for b, e in zip(in_base, excluded, strict=True)]

    base_values = [v for v, u in zip(values, usable, strict=True) if u and v is not None]
    if standard:
        mr_bar = D2_MR * sigma
        mr_ucl = D2_UPPER_MR * sigma
        sigma_mr = (D2_UPPER_MR - D2_MR) * sigma / 3
        x_center, x_sigma, method = center, sigma, "given"
    else:
        mr_bar = _moving_ranges_mean(values, usable)
        if mr_bar is None:
            raise InvalidInput(
                "an XmR chart needs at least two consecutive baseline values", "widen the baseline period"
            )
        mr_ucl = D4_MR * mr_bar
        sigma_mr = (D4_MR - 1) * mr_bar / 3
        x_center = center if center is not None else sum(base_values) / len(base_values)
        if sigma is not None:
            x_sigma, method = sigma, "given"
        elif sigma_method == "sd":
            mean = sum(base_values) / len(base_values)
            s = math.sqrt(sum((v - mean) ** 2 for v in base_values) / (len(base_values) - 1))
            x_sigma, method = s / c4(len(base_values)), "sd"
        else:
            x_sigma, method = mr_bar / D2_MR, "mr"

    x_points, mr_points = [], []
    prev: int | None = None
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        phase = BASELINE if in_base[i] else MONITOR
        if value is None:
            x_points.append(_blank(label, None, phase, excluded[i]))
            mr_points.append(_blank(label, None, phase, excluded[i]))
            continue
        x_points.append(
            ChartPoint(
                label=label,
                n=None,
                value=value,
                cl=x_center,
                lcl=x_center - 3 * x_sigma,
                ucl=x_center + 3 * x_sigma,
                sigma=x_sigma,
                z=_z(value, x_center, x_sigma),
                phase=phase,
                excluded=excluded[i],
            )
        )
        if prev is None:
            mr_points.append(_blank(label, None, phase, excluded[i]))
        else:
            mr = abs(value - values[prev])
            mr_excluded = in_base[i] and not (usable[i] and usable[prev])
            mr_points.append(
                ChartPoint(
                    label=label,
                    n=None,
                    value=mr,
                    cl=mr_bar,
                    lcl=0.0,
                    ucl=mr_ucl,
                    sigma=sigma_mr,
                    z=_z(mr, mr_bar, sigma_mr),
                    phase=phase,
                    excluded=mr_excluded,
                )
            )
        prev = i
    return (
        Chart("x", tuple(x_points), x_center, sigma=x_sigma, method=method),
        Chart("mr", tuple(mr_points), mr_bar, sigma=sigma_mr, method="given" if standard else "mr"),
    )


def xbar_chart(
    points: Sequence[tuple[Any, float | None, float | None, int]],
    baseline: Baseline = None,
    *,
    exclude: Collection[Any] = (),
    sigma_method: str = "pooled",
    center: float | None = None,
    sigma: float | None = None,
) -> Chart:
    """X̄ chart of sample means with a different n per sample; each point's limits follow its own n.

    points: (label, mean, spread, n), spread the sample's standard deviation s (or its range R for
    sigma_method "range"); a mean of None or n = 0 is a gap. Centre x̿ = Σnᵢx̄ᵢ/Σnᵢ over the baseline.
    σ of one observation, by sigma_method:

    - "pooled" (Montgomery, X̄ and s with variable sample size): s̄ = √(Σ(nᵢ−1)sᵢ² / Σ(nᵢ−1)), limits
      x̿ ± A3(nᵢ)·s̄ = x̿ ± 3·s̄/(c4(nᵢ)·√nᵢ);
    - "sd" (qcc's UWAVE-SD): σ̂ = mean of sᵢ/c4(nᵢ); limits x̿ ± 3σ̂/√nᵢ;
    - "rmsdf" (qcc's and SAS's RMSDF): σ̂ = s̄/c4(Σ(nᵢ−1) + 1), the pooled s made unbiased; it allows
      samples of one (they add nothing to s̄ but are plotted);
    - "range" (UWAVE-R): σ̂ = mean of Rᵢ/d2(nᵢ), 2 ≤ n ≤ 25.

    center / sigma: given standards for x̿ / the σ of one observation (limits center ± 3σ/√nᵢ).
    """
    if sigma_method not in XBAR_SIGMA_METHODS:
        raise InvalidInput(f"sigma method {sigma_method!r} is not one of an X̄ chart",
                           "use " + ", ".join(XBAR_SIGMA_METHODS))
    standard, baseline = _given_center_and_sigma(center, sigma, baseline, exclude)
    what = "range" if sigma_method == "range" else "standard deviation"
    rows = []
    for label, mean, spread, n in points:
        _number(n, f"sample {label}: size")
        if n < 0 or n != int(n):
            raise InvalidInput(f"sample {label}: size {n} is not a count", "sample sizes are whole numbers ≥ 0")
        n = int(n)
        if mean is None or n == 0:
            rows.append((label, None, None, n))
            continue
        _number(mean, f"sample {label}: mean")
        if spread is not None:
            _number(spread, f"sample {label}: {what}")
            if spread < 0:
                raise InvalidInput(f"sample {label}: negative {what} {spread:g}", f"a {what} is ≥ 0")
        if sigma is None and n >= 2 and spread is None:
            raise InvalidInput(f"sample {label}: no {what}", f"give each sample's {what}")
        if sigma is None and n == 1 and sigma_method != "rmsdf":
            raise InvalidInput(f"sample {label} has n = 1: it has no {what}",
                               "samples of one: chart them as individuals (--chart xmr)")
        if sigma_method == "range" and sigma is None and n > max(D2):
            raise InvalidInput(f"sample {label} has n = {n}: ranges are for samples of up to {max(D2)}",
                               "give the standard deviation instead (column sd)")
        rows.append((label, float(mean), None if spread is None else float(spread), n))
    labels = [r[0] for r in rows]
    in_base = _baseline_mask(labels, baseline)
    excluded = _exclusion_mask(labels, in_base, exclude)
    usable = [b and not e and r[1] is not None for r, b, e in zip(rows, in_base, excluded, strict=True)]
    base = [r for r, u in zip(rows, usable, strict=True) if u]
    if not standard and not base:
        raise InvalidInput("the baseline has no samples", "choose a baseline that has data")

    x_center = center if center is not None else sum(r[1] * r[3] for r in base) / sum(r[3] for r in base)
    per_n: Callable[[int], float]
    if sigma is not None:
        method, chart_sigma = "given", sigma
        per_n = lambda n: sigma  # noqa: E731
    else:
        method = sigma_method
        spread_rows = [r for r in base if r[3] >= 2]
        df = sum(r[3] - 1 for r in spread_rows)
        if df == 0:
            raise InvalidInput("the baseline has no sample of 2 or more, so no spread within samples",
                               "widen the baseline, or chart single values as individuals (--chart xmr)")
        if sigma_method in ("pooled", "rmsdf"):
            s_bar = math.sqrt(sum((r[3] - 1) * r[2] ** 2 for r in spread_rows) / df)
            if sigma_method == "pooled":
                chart_sigma = s_bar
                per_n = lambda n: s_bar / c4(n)  # noqa: E731
            else:
                chart_sigma = s_bar / c4(df + 1)
                per_n = lambda n: chart_sigma  # noqa: E731
        else:
            factor = (lambda n: c4(n)) if sigma_method == "sd" else (lambda n: D2[n])
            chart_sigma = sum(r[2] / factor(r[3]) for r in spread_rows) / len(spread_rows)
            per_n = lambda n: chart_sigma  # noqa: E731

    out = []
    for (label, mean, _, n), base_, exc in zip(rows, in_base, excluded, strict=True):
        phase = BASELINE if base_ else MONITOR
        if mean is None:
            out.append(_blank(label, n, phase, exc))
            continue
        s_mean = per_n(n) / math.sqrt(n)
        out.append(
            ChartPoint(
                label=label,
                n=n,
                value=mean,
                cl=x_center,
                lcl=x_center - 3 * s_mean,
                ucl=x_center + 3 * s_mean,
                sigma=s_mean,
                z=_z(mean, x_center, s_mean),
                phase=phase,
                excluded=exc,
            )
        )
    return Chart("xbar", tuple(out), x_center, sigma=chart_sigma, method=method)


def standard_chart(points: Sequence[tuple[Any, float | None]], cl: float, sigma: float) -> Chart:
    """Individuals judged against given standard values (目标值): limits cl ± 3·sigma, every point monitored."""
    _number(cl, "centre line")
    _number(sigma, "sigma")
    if sigma <= 0:
        raise InvalidInput(f"sigma must be positive, got {sigma}", "give the process standard deviation")
    out = []
    for label, value in points:
        if value is None:
            out.append(_blank(label, None, MONITOR))
            continue
        _number(value, f"point {label}: value")
        out.append(
            ChartPoint(
                label, None, value, cl, cl - 3 * sigma, cl + 3 * sigma, sigma, _z(value, cl, sigma), MONITOR
            )
        )
    return Chart("standard", tuple(out), cl, sigma=sigma)


def mr_summary(moving_range: Chart | None) -> dict[str, Any] | None:
    """The MR chart of an XmR chart as output shows it: centre MR̄, limits, σ, and each point's moving range."""
    if moving_range is None:
        return None
    first = next((p for p in moving_range.points if p.value is not None), None)
    return {
        "center": moving_range.center,
        "ucl": first.ucl if first else None,
        "lcl": 0.0,
        "sigma": moving_range.sigma,
        "rows": [
            {"label": p.label, "value": p.value, "ucl": p.ucl, "lcl": p.lcl, "excluded": p.excluded,
             "signals": list(p.signals)}
            for p in moving_range.points
        ],
    }


# --------------------------------------------------------------------------------------------- run rules


def _side(z: float, k: float = 0.0) -> int:
    """+1 / −1 if z is beyond k sigmas above / below the centre line, else 0 (strict)."""
    if z > k + _EPS:
        return 1
    if z < -(k + _EPS):
        return -1
    return 0


def _beyond(zs: list[float], k: float) -> list[bool]:
    return [_side(z, k) != 0 for z in zs]


def _k_of_m(zs: list[float], k: int, m: int, zone: float) -> list[bool]:
    """k of m in a row beyond the zone on one side: judged on complete windows of m points only (as Nelson,
    SAS and qcc do), so the first m − 1 points of a chart are never flagged; the flagged point is the
    window's last, itself beyond the zone (qcc's rules.R: ``rowSums(viol) >= k & viol[, 1]``)."""
    # Only a point itself beyond the zone can complete the pattern, so counting on its own side suffices.
    sides = [_side(z, zone) for z in zs]
    flags = []
    for j, s in enumerate(sides):
        window = sides[j - m + 1 : j + 1] if j >= m - 1 else []
        flags.append(s != 0 and window.count(s) >= k)
    return flags


def _mixture(zs: list[float], length: int) -> list[bool]:
    """Nelson 8: the last point of ``length`` in a row all beyond 1σ, with points on both sides of the centre
    line among them (qcc's NEL8: every window outside, ``any(above) & any(below)``)."""
    sides = [_side(z, 1) for z in zs]
    flags = []
    for j in range(len(sides)):
        window = sides[j - length + 1 : j + 1] if j >= length - 1 else []
        flags.append(bool(window) and 0 not in window and 1 in window and -1 in window)
    return flags


def _run(keys: list[int | bool], length: int) -> list[bool]:
    """Flag points at position ≥ length in a run of equal, truthy keys."""
    flags, count, last = [], 0, None
    for key in keys:
        count = count + 1 if key and key == last else (1 if key else 0)
        last = key
        flags.append(count >= length)
    return flags


def _steps(zs: list[float]) -> list[int]:
    """Direction of each step: +1 up, −1 down, 0 equal (or undefined); the first point has none."""
    return [0] + [(b > a) - (b < a) for a, b in pairwise(zs)]


def _trend(zs: list[float], points: int) -> list[bool]:
    flags, count = [], 1
    steps = _steps(zs)
    for j, d in enumerate(steps):
        if d == 0:
            count = 1
        elif j > 0 and steps[j - 1] == d:
            count += 1
        else:
            count = 2
        flags.append(count >= points)
    return flags


def _alternating(zs: list[float], points: int) -> list[bool]:
    flags, count = [], 1
    steps = _steps(zs)
    for j, d in enumerate(steps):
        if d == 0:
            count = 1
        elif j > 0 and steps[j - 1] == -d:
            count += 1
        else:
            count = 2
        flags.append(count >= points)
    return flags


def _same_side_run(zs: list[float], length: int) -> list[bool]:
    return _run([_side(z) for z in zs], length)


_CHECKS: dict[str, Callable[[list[float]], list[bool]]] = {
    "nelson1": lambda zs: _beyond(zs, 3),
    "nelson2": lambda zs: _same_side_run(zs, 9),
    "nelson3": lambda zs: _trend(zs, 6),
    "nelson4": lambda zs: _alternating(zs, 14),
    "nelson5": lambda zs: _k_of_m(zs, 2, 3, 2),
    "nelson6": lambda zs: _k_of_m(zs, 4, 5, 1),
    "nelson7": lambda zs: _run([not b for b in _beyond(zs, 1)], 15),
    "nelson8": lambda zs: _mixture(zs, 8),
    "we1": lambda zs: _beyond(zs, 3),
    "we2": lambda zs: _k_of_m(zs, 2, 3, 2),
    "we3": lambda zs: _k_of_m(zs, 4, 5, 1),
    "we4": lambda zs: _same_side_run(zs, 8),
}


def resolve_rules(rules: str | Sequence[str]) -> tuple[str, ...]:
    """ "nelson", "we", or a list of rule ids (duplicates dropped, order kept)."""
    if isinstance(rules, str):
        if rules in RULE_SETS:
            return RULE_SETS[rules]
        rules = [rules]
    out: list[str] = []
    for rule in rules:
        if rule not in RULES:
            raise InvalidInput(
                f"unknown run rule {rule!r}",
                "use 'nelson', 'we' or ids " + ", ".join(RULES),
            )
        if rule not in out:
            out.append(rule)
    return tuple(out)


def apply_rules(chart: Chart, rules: str | Sequence[str] = "nelson") -> Chart:
    """A copy of the chart whose points carry the ids of the rules they break (previous signals replaced).

    Rules test the standardised value z of each point; points without a value are skipped, so a run
    continues across them.
    """
    ids = resolve_rules(rules)
    idx = [i for i, p in enumerate(chart.points) if p.z is not None]
    zs = [chart.points[i].z for i in idx]
    signals: list[list[str]] = [[] for _ in chart.points]
    for rule in ids:
        for i, flagged in zip(idx, _CHECKS[rule](zs), strict=True):
            if flagged:
                signals[i].append(rule)
    points = tuple(replace(p, signals=tuple(s)) for p, s in zip(chart.points, signals, strict=True))
    return replace(chart, points=points, rules=ids)


# -------------------------------------------------------------------------------------------------- SVG

_FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"
_SERIES, _SIGNAL, _CL, _LIMIT, _GRID = "#1f77b4", "#d62728", "#2f4f4f", "#e07b00", "#dddddd"


def _num(value: float) -> str:
    """Fixed precision for numbers shown to people: 4 decimals, trailing zeros dropped."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _c(value: float) -> str:
    """Fixed precision for coordinates."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def _nice_step(span: float, count: int) -> float:
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def render_xmr_svg(x: Chart, mr: Chart, title: str, width: int = 800, height: int = 360) -> str:
    """An XmR chart as one standalone SVG: the individuals chart, the moving-range chart under it (2/3 as tall),
    each a nested <svg> drawn by ``render_svg``; same input, same bytes."""
    low = height * 2 // 3
    top = render_svg(x, title, width, height)
    bottom = render_svg(mr, f"{title} · 移动极差 MR", width, low)
    tag = '<svg xmlns="http://www.w3.org/2000/svg" '
    return (
        f'{tag}width="{width}" height="{height + low}" viewBox="0 0 {width} {height + low}">\n'
        f"<title>{escape(title)}</title>\n"
        + top.replace(tag, '<svg class="x-chart" x="0" y="0" ', 1)
        + bottom.replace(tag, f'<svg class="mr-chart" x="0" y="{height}" ', 1)
        + "</svg>\n"
    )


def render_svg(chart: Chart, title: str, width: int = 800, height: int = 360) -> str:
    """The chart as a standalone SVG string (no script, no external resource); same input, same bytes."""
    left, right, top, bottom = 64, 96, 40, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    pts = chart.points
    count = max(len(pts), 1)
    dx = plot_w / count

    ys = [v for p in pts for v in (p.value, p.cl, p.lcl, p.ucl) if v is not None and math.isfinite(v)]
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad

    def x_of(i: int) -> float:
        return left + dx * (i + 0.5)

    def y_of(v: float) -> float:
        return top + (hi - v) / (hi - lo) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{_FONT}" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_c(width / 2)}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]

    # y grid and ticks
    step = _nice_step(hi - lo, 5)
    first = math.ceil(lo / step)
    for k in range(first, math.floor(hi / step) + 1):
        tick = k * step
        y = y_of(tick)
        out.append(f'<line x1="{left}" y1="{_c(y)}" x2="{left + plot_w}" y2="{_c(y)}" stroke="{_GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{_c(y + 4)}" text-anchor="end">{escape(_num(tick))}</text>')
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999999"/>'
    )

    # x labels: as many as fit
    every = max(1, math.ceil(count / max(1, plot_w // 70)))
    for i, p in enumerate(pts):
        if i % every == 0:
            out.append(
                f'<text x="{_c(x_of(i))}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{escape(str(p.label))}</text>"
            )

    # phase dividers
    for i in range(1, len(pts)):
        if pts[i].phase != pts[i - 1].phase:
            x = left + dx * i
            out.append(
                f'<line x1="{_c(x)}" y1="{top}" x2="{_c(x)}" y2="{top + plot_h}" stroke="#888888" '
                'stroke-dasharray="2,3"/>'
            )
            name = "监控 monitor" if pts[i].phase == MONITOR else "基线 baseline"
            out.append(f'<text x="{_c(x + 4)}" y="{top + 12}" fill="#666666">{escape(name)}</text>')

    # centre line and limits as step paths (flat where the limit is constant), labelled in the right margin
    labels: list[tuple[float, str, str]] = []
    for attr, name, colour, dash in (
        ("ucl", "UCL", _LIMIT, ' stroke-dasharray="6,4"'),
        ("cl", "CL", _CL, ""),
        ("lcl", "LCL", _LIMIT, ' stroke-dasharray="6,4"'),
    ):
        limits = [getattr(p, attr) for p in pts]
        path: list[str] = []
        last_y: str | None = None
        for i, v in enumerate(limits):
            if v is None:
                last_y = None
                continue
            y = _c(y_of(v))
            if last_y is None:
                path.append(f"M{_c(left + dx * i)} {y}")
            elif y != last_y:
                path.append(f"V{y}")
            path.append(f"H{_c(left + dx * (i + 1))}")
            last_y = y
        if not path:
            continue
        out.append(f'<path class="{attr}" d="{" ".join(path)}" fill="none" stroke="{colour}"{dash}/>')
        shown = [v for v in limits if v is not None]
        text = name if max(shown) - min(shown) > 1e-12 else f"{name} {_num(shown[-1])}"
        labels.append((y_of(shown[-1]) + 4, text, colour))
    floor = -math.inf
    for y, text, colour in sorted(labels):  # keep labels of close lines apart
        y = max(y, floor + 12)
        floor = y
        out.append(f'<text x="{left + plot_w + 6}" y="{_c(y)}" fill="{colour}">{escape(text)}</text>')

    # the series: polylines broken at gaps, then dots
    segment: list[str] = []
    segments = []
    for i, p in enumerate(pts):
        if p.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_c(x_of(i))},{_c(y_of(p.value))}")
    if segment:
        segments.append(segment)
    for seg in segments:
        out.append(
            f'<polyline class="series" points="{" ".join(seg)}" fill="none" stroke="{_SERIES}" '
            'stroke-width="1.5"/>'
        )
    for i, p in enumerate(pts):
        if p.value is None:
            continue
        x, y = _c(x_of(i)), _c(y_of(p.value))
        tip = f"{p.label}: {_num(p.value)}"
        if p.signals:
            tip += " — " + ", ".join(p.signals)
            fill = "#ffffff" if p.excluded else _SIGNAL
            out.append(
                f'<circle class="signal" cx="{x}" cy="{y}" r="4" fill="{fill}" stroke="{_SIGNAL}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        else:
            fill = "#ffffff" if p.excluded else _SERIES
            out.append(
                f'<circle class="point" cx="{x}" cy="{y}" r="3" fill="{fill}" stroke="{_SERIES}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"
