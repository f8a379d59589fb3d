"""Small inline SVG charts for the reports: a line chart of one or more series. Deterministic (same data,
same bytes), no script, no external resources; text escaped."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

_COLOURS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400")
_FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"


def _f(value: float) -> str:
    return f"{value:.1f}"


def nice_ticks(lo: float, hi: float, *, count: int = 5, floor: float | None = None,
               ceiling: float | None = None) -> list[float]:
    """Round axis ticks (60/70/80/90, 2.5/5/7.5, …) about ``count`` of them, spanning [lo, hi] with headroom
    above and below (a tenth of the span, at least 1), kept within [floor, ceiling] when given (0 and 100
    for an index): no point sits on the frame and no tick reads 64.4."""
    lo, hi = min(lo, hi), max(lo, hi)
    pad = max((hi - lo) * 0.1, 1.0)
    low, high = lo - pad, hi + pad
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    ticks = [round(k * step, 10) for k in range(first, last + 1)]
    if floor is not None and ticks[0] < floor:
        ticks = [floor, *(t for t in ticks if t > floor)]
    if ceiling is not None and ticks[-1] > ceiling:
        ticks = [*(t for t in ticks if t < ceiling), ceiling]
    return ticks


def tick_text(value: float, ticks: list[float]) -> str:
    """A tick as printed: as many decimals as the step needs (60, 2.5, 0.25), never "-0"."""
    step = min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=1.0)
    digits = next((d for d in range(4) if abs(round(step, d) - step) < 1e-9), 4)
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def line_chart(labels: list[str], series: dict[str, list[float | None]], title: str, *, width: int = 720,
               height: int = 280, unit: str = "", floor: float | None = None,
               ceiling: float | None = None) -> str:
    """Series of values (None = no data, a gap) over shared labels, with a legend, round y ticks with
    headroom (``nice_ticks``) and the unit: "%" after each tick, any other ("分") above the axis."""
    values = [v for vs in series.values() for v in vs if v is not None]
    ticks = nice_ticks(min(values), max(values), floor=floor, ceiling=ceiling) if values else [0.0, 50.0, 100.0]
    lo, hi = ticks[0], ticks[-1]
    left, right, top, bottom = 48, 36, 34, 42
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    suffix = "%" if unit == "%" else ""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
           f' role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" font-family="{_FONT}" font-size="11">',
           f"<title>{escape(title)}</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    if unit and not suffix:
        out.append(f'<text x="{left - 6}" y="{top - 10}" text-anchor="end" fill="#555555">{escape(unit)}</text>')
    for v in ticks:
        out.append(f'<line x1="{left}" y1="{_f(y(v))}" x2="{width - right}" y2="{_f(y(v))}" stroke="#dddddd"/>')
        out.append(f'<text x="{left - 6}" y="{_f(y(v) + 4)}" text-anchor="end">{tick_text(v, ticks)}{suffix}</text>')
    step = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            out.append(f'<text x="{_f(x(i))}" y="{height - bottom + 16}" text-anchor="middle">{escape(label)}</text>')
    for n, (name, vs) in enumerate(series.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        run: list[str] = []
        for i, v in enumerate([*vs, None]):
            if v is None:
                if len(run) > 1:
                    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
                run = []
                continue
            run.append(f"{_f(x(i))},{_f(y(v))}")
            out.append(f'<circle cx="{_f(x(i))}" cy="{_f(y(v))}" r="2.5" fill="{colour}"><title>{escape(name)} '
                       f"{escape(labels[i])}: {v:.2f}{escape(unit)}</title></circle>")
        lx = left + 10 + n * 150
        out.append(f'<rect x="{lx}" y="{height - 14}" width="12" height="4" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="{height - 9}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
