"""Statistical process control (统计过程控制): p-charts, XmR charts, run rules and an SVG renderer.

Pure computation over plain Python values: no database, no CLI. The conventions (zones, strictness, which
points a run rule flags) are written down in docs/spc.md; the code follows that document.

- ``p_chart(points, baseline=..., exclude=..., laney=False)`` — proportion of bad reviews (差评率) with a
  different n each point; optional Laney p′ limits for over-dispersed data.
- ``xmr_chart(points, baseline=..., exclude=...)`` — individuals (X) and moving-range (MR) charts.
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

    kind: "p", "laney_p", "x", "mr" or "standard". center: the baseline centre line (p̄, X̄ or MR̄).
    sigma: the constant sigma of a point (X, MR, standard charts; None for p charts, where it varies).
    sigma_z: Laney's σ_z (laney_p only). rules: the rule ids last applied by ``apply_rules``.
    """

    kind: str
    points: tuple[ChartPoint, ...]
    center: float
    sigma: float | None = None
    sigma_z: float | None = None
    rules: tuple[str, ...] = field(default=())

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
            "nelson7", "连续 15 点落在中心线两侧 1σ 以内", "15 points in a row within 1σ of the centre line"
        ),
        Rule("nelson8", "连续 8 点落在中心线两侧 1σ 之外", "8 points in a row beyond 1σ on either side"),
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
) -> Chart:
    """p-chart of bad/n per point, limits from the baseline's p̄ = Σbad/Σn.

    points: (label, bad, n). baseline: None (all points), a count of leading points, a slice, or a
    predicate on the label. exclude: labels of baseline points left out of p̄ (and of σ_z) but still
    plotted. laney: Laney p′ limits p̄ ± 3·σ_pi·σ_z. Points with n = 0 get no value and no limits.
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
    in_base = _baseline_mask(labels, baseline)
    excluded = _exclusion_mask(labels, in_base, exclude)
    usable = [b and not e for b, e in zip(in_base, excluded, strict=True)]

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
    return Chart("laney_p" if laney else "p", tuple(out), pbar, sigma_z=sigma_z)


# -------------------------------------------------------------------------------------------- XmR charts


def xmr_chart(
    points: Sequence[tuple[Any, float | None]],
    baseline: Baseline = None,
    *,
    exclude: Collection[Any] = (),
) -> tuple[Chart, Chart]:
    """Individuals (X) and moving-range (MR) charts, limits from the baseline.

    σ̂ = MR̄/1.128, X limits X̄ ± 3σ̂; MR chart CL = MR̄, UCL = 3.267·MR̄, LCL = 0. A value of None is a
    gap: no point is plotted and the next moving range spans it. Moving ranges touching an excluded point
    do not enter MR̄.
    """
    labels = [p[0] for p in points]
    values = [None if v is None else _number(v, f"point {label}: value") for label, v in points]
    in_base = _baseline_mask(labels, baseline)
    excluded = _exclusion_mask(labels, in_base, exclude)
    usable = [b and not e for b, e in zip(in_base, excluded, strict=True)]

    base_values = [v for v, u in zip(values, usable, strict=True) if u and v is not None]
    mr_bar = _moving_ranges_mean(values, usable)
    if mr_bar is None:
        raise InvalidInput(
            "an XmR chart needs at least two consecutive baseline values", "widen the baseline period"
        )
    center = sum(base_values) / len(base_values)
    sigma = mr_bar / D2_MR
    sigma_mr = (D4_MR - 1) * mr_bar / 3

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
                cl=center,
                lcl=center - 3 * sigma,
                ucl=center + 3 * sigma,
                sigma=sigma,
                z=_z(value, center, sigma),
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
                    ucl=D4_MR * mr_bar,
                    sigma=sigma_mr,
                    z=_z(mr, mr_bar, sigma_mr),
                    phase=phase,
                    excluded=mr_excluded,
                )
            )
        prev = i
    return (
        Chart("x", tuple(x_points), center, sigma=sigma),
        Chart("mr", tuple(mr_points), mr_bar, sigma=sigma_mr),
    )


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
    # Only a point itself beyond the zone can complete the pattern, so counting on its own side suffices.
    sides = [_side(z, zone) for z in zs]
    flags = []
    for j, s in enumerate(sides):
        window = sides[max(0, j - m + 1) : j + 1]
        flags.append(s != 0 and window.count(s) >= k)
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
    "nelson8": lambda zs: _run(_beyond(zs, 1), 8),
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
