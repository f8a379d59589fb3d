"""`haocha spc`: control charts of the daily bad-review rate (p-chart) and satisfaction index (X̄ chart), or of a
quality engineer's own series (--series FILE.csv)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state, write_json

_UNITS = {"day": "天", "week": "周", "month": "月"}
_METRIC_NAMES = {"bad-rate": "差评率", "index": "满意指数"}
_CHART_NAMES = {"p": "p 控制图", "laney": "Laney p′ 控制图", "np": "np 控制图", "xbar": "均值控制图",
                "xmr": "单值控制图"}


def spc_command(
    ctx: typer.Context,
    series: Path | None = typer.Option(None, "--series", help="Chart this CSV (label plus count,size / value / "
                                                              "mean,sd,size) instead of the database."),
    metric: str | None = typer.Option(None, "--metric", help="bad-rate (p-chart, the default) or index (X̄ chart)."),
    chart: str | None = typer.Option(None, "--chart", help="p, np or laney (bad-rate); xbar or xmr (index); any of "
                                                           "them for --series. Default: p / xbar."),
    county: str | None = typer.Option(None, "--county", help="One county; default the whole city (a county "
                                                              "operator: its own)."),
    city: bool = typer.Option(False, "--city", help="The whole city (the default; city operator)."),
    group: str = typer.Option("day", "--group", help="day, week (ISO, from Monday) or month: one point each, for "
                                                      "sparse counties."),
    start: str | None = typer.Option(None, "--from", help="First day; default 89 days before --to (26 weeks with "
                                                           "--group week, 12 months with month)."),
    end: str | None = typer.Option(None, "--to", help="Last day; default today."),
    baseline: str | None = typer.Option(None, "--baseline", help="Phase I: dates D..D (default the first 30 days, 8 "
                                                                  "weeks or 6 months); with --series labels FIRST..LAST "
                                                                  "(default all)."),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="Points shown but left out of the limits "
                                                                      "(revised limits): labels or days, comma-separated."),
    center: float | None = typer.Option(None, "--center", help="Given standard centre line (p, np: the standard "
                                                               "proportion alone)."),
    sigma: float | None = typer.Option(None, "--sigma", help="Given standard σ of one observation (xmr, xbar)."),
    sigma_method: str | None = typer.Option(None, "--sigma-method", help="xmr: mr (MR̄/d2, default) or sd (s/c4); "
                                                                          "xbar: pooled, sd, rmsdf or range."),
    rules: str = typer.Option("nelson", "--rules", help="nelson (1-8) or we (Western Electric 1-4)."),
    laney: bool = typer.Option(False, "--laney", help="Laney p′ chart for over-dispersed daily rates (= --chart laney)."),
    svg: Path | None = typer.Option(None, "--svg", help="Also write the chart as SVG (XmR: the MR chart under it)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Control charts (控制图) with run rules: the daily bad-review rate (p-chart), the daily satisfaction index (X̄
    chart whose limits follow each day's n), or a series of your own (--series).

    Lists every point with n, value, CL, LCL, UCL and the rules it breaks (XmR: its moving range too); --svg also
    draws it. A county operator's chart is its own county's; --series reads only the file.

    Example:

        haocha spc --metric bad-rate --county 370213 --from 2024-01-01 --to 2024-06-30 --baseline 2024-01-01..2024-02-29

        haocha spc --metric index --county 李沧 --group week --from 2026-03-01 --to 2026-08-31

        haocha spc --series orangejuice.csv --chart p --baseline 1..30 --exclude 15,23
    """
    if chart and chart.lower().endswith(".svg") and svg is None:  # the old spelling --chart FILE.svg
        say(f"note: --chart {chart} is now --svg {chart}")
        svg, chart = Path(chart), None
    excluded = [part.strip() for text in exclude or [] for part in text.replace("，", ",").replace("、", ",").split(",")
                if part.strip()]
    if series is not None:
        for name, given in (("--metric", metric), ("--county", county), ("--city", city), ("--from", start),
                            ("--to", end), ("--laney", laney), ("--group", group != "day")):
            if given:
                raise typer.BadParameter(f"{name} is for the database's charts, not for --series",
                                         param_hint=name)
        _series(ctx, series, chart, baseline, excluded, center, sigma, sigma_method, rules, svg, fmt)
        return
    _database(ctx, metric or "bad-rate", chart, county, city, group, start, end, baseline, excluded, center, sigma,
              sigma_method, rules, laney, svg, fmt)


def _database(ctx: typer.Context, metric: str, chart: str | None, county: str | None, city: bool, group: str,
              start: str | None, end: str | None, baseline: str | None, excluded: list[str], center: float | None,
              sigma: float | None, sigma_method: str | None, rules: str, laney: bool, svg: Path | None,
              fmt: Format) -> None:
    from haocha_cli import control_charts, files
    from haocha_cli.clock import today
    from haocha_cli.daily_charts import chart_for, default_start
    from haocha_cli.periods import date_range, parse_date, parse_period

    if city and county:
        raise typer.BadParameter("give --county or --city, not both", param_hint="--city")
    last = parse_date(end, "--to") if end else today()
    first = parse_date(start, "--from") if start else default_start(last, group)
    c = state(ctx).context()
    result = chart_for(c, metric, date_range(first, last), parse_period(baseline) if baseline else None,
                       county, rules, laney, city=city, kind=chart, group=group, exclude=excluded, center=center,
                       sigma=sigma, sigma_method=sigma_method)
    kind, metric = result["chart_type"], result["metric"]
    if svg:
        title = f"{_METRIC_NAMES[metric]} {_CHART_NAMES[kind]} · {result['county']}"
        files.write_text(svg, _svg(control_charts, result, title), files.modes(c.config))
        say(f"chart written to {svg}")
    key = result["group"]
    rows = _rows(result, key, fmt)
    if fmt == Format.json:
        data = {k: v for k, v in result.items() if k not in ("chart", "moving_range", "rows")}
        write_json({**data, "rows": rows})
        return
    if fmt == Format.table:
        base = f"基线 {result['baseline']['label']}" if result["baseline"] else "给定标准"
        say(f"{_METRIC_NAMES[metric]} · {_CHART_NAMES[kind]} · {result['county']} · {base} · 判异准则 {rules}："
            f"{len(result['signals'])} {_UNITS[key]}有信号{_sigma_note(result)}")
    # The point's value and its limits are rates (p chart) or indices (X̄ and individuals charts).
    value_kind = "rate" if kind in ("p", "laney") else "plain" if kind == "np" else "index"
    render(rows, fmt, kinds=dict.fromkeys(("value", "cl", "lcl", "ucl", "mr"), value_kind),
           headers={"excluded": "不计入控制限"} if fmt == Format.table else None)


def _series(ctx: typer.Context, path: Path, chart: str | None, baseline: str | None, excluded: list[str],
            center: float | None, sigma: float | None, sigma_method: str | None, rules: str, svg: Path | None,
            fmt: Format) -> None:
    from haocha_cli import control_charts, files
    from haocha_cli.config import load_config
    from haocha_cli.csv_charts import chart_name, series_chart

    result = series_chart(path, chart, baseline, excluded, center, sigma, sigma_method, rules)
    if svg:
        s = state(ctx)
        config = load_config(s.config_path, db_path=s.db_path)
        files.write_text(svg, _svg(control_charts, result, f"{chart_name(result['chart_type'])} · {result['file']}"),
                         files.modes(config))
        say(f"chart written to {svg}")
    rows = _rows(result, "label", fmt)
    if fmt == Format.json:
        data = {k: v for k, v in result.items() if k not in ("chart", "moving_range", "rows")}
        write_json({**data, "rows": rows})
        return
    if fmt == Format.table:
        b = result["baseline"]
        base = f"基线 {b['first']}..{b['last']}" if b else "给定标准"
        say(f"{result['file']} · {chart_name(result['chart_type'])} · {base} · 中心线 {result['center']:.6g} · "
            f"判异准则 {rules}：{len(result['signals'])} 点有信号{_sigma_note(result)}")
    render(rows, fmt, kinds=dict.fromkeys(("value", "cl", "lcl", "ucl", "mr"), "plain"),
           headers={"excluded": "不计入控制限", "n": "样本量"} if fmt == Format.table else None)


def _sigma_note(result: dict[str, Any]) -> str:
    parts = []
    if result.get("sigma") is not None:
        parts.append(f"σ̂ {result['sigma']:.6g}（{result['sigma_method']}）")
    if result.get("sigma_z") is not None:
        parts.append(f"σ_z {result['sigma_z']:.6g}")
    if result.get("mr"):
        parts.append(f"移动极差 MR̄ {result['mr']['center']:.6g}，UCL {result['mr']['ucl']:.6g}")
    return " · " + " · ".join(parts) if parts else ""


# The terminal says in Chinese which phase a point is in; JSON and CSV keep the values.
PHASE_NAMES = {"baseline": "基线", "monitor": "监控"}


def _rows(result: dict[str, Any], key: str, fmt: Format) -> list[dict[str, Any]]:
    """The points as output shows them: signals as a list in JSON, as one cell elsewhere; XmR: the moving range."""
    mr = {r["label"]: r for r in result["mr"]["rows"]} if result.get("mr") else None
    rows = []
    for r in result["rows"]:
        row = {key: r["label"], "n": r["n"], "value": r["value"], "cl": r["cl"], "lcl": r["lcl"], "ucl": r["ucl"]}
        if mr is not None:
            m = mr[r["label"]]
            row["mr"] = m["value"]
            row["mr_signals"] = m["signals"] if fmt == Format.json else " ".join(m["signals"])
        phase = r["phase"] if fmt != Format.table else PHASE_NAMES.get(r["phase"], r["phase"])
        row.update(phase=phase, excluded=r["excluded"],
                   signals=r["signals"] if fmt == Format.json else " ".join(r["signals"]))
        rows.append(row)
    return rows


def _svg(control_charts: Any, result: dict[str, Any], title: str) -> str:
    if result.get("moving_range") is None:
        return control_charts.render_svg(result["chart"], title)
    return control_charts.render_xmr_svg(result["chart"], result["moving_range"], title)
