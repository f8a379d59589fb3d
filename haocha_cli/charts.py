"""Small inline SVG charts for the reports: a line chart of one or more series. Deterministic (same data,
same bytes), no script, no external resources; text escaped."""

from __future__ import annotations

from xml.sax.saxutils import escape

_COLOURS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400")
_FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"


def _f(value: float) -> str:
    return f"{value:.1f}"


def line_chart(labels: list[str], series: dict[str, list[float | None]], title: str, *, width: int = 720,
               height: int = 280, y_min: float | None = None, y_max: float | None = None) -> str:
    """Series of values (None = no data, a gap) over shared labels, with a legend and axis ticks."""
    values = [v for vs in series.values() for v in vs if v is not None]
    lo = y_min if y_min is not None else (min(values) if values else 0.0)
    hi = y_max if y_max is not None else (max(values) if values else 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    left, right, top, bottom = 48, 36, 34, 42
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
           f' role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" font-family="{_FONT}" font-size="11">',
           f"<title>{escape(title)}</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        out.append(f'<line x1="{left}" y1="{_f(y(v))}" x2="{width - right}" y2="{_f(y(v))}" stroke="#dddddd"/>')
        out.append(f'<text x="{left - 6}" y="{_f(y(v) + 4)}" text-anchor="end">{v:.1f}</text>')
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
                       f"{escape(labels[i])}: {v:.2f}</title></circle>")
        lx = left + 10 + n * 150
        out.append(f'<rect x="{lx}" y="{height - 14}" width="12" height="4" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="{height - 9}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
