"""`haocha spc`: control charts of the daily bad-review rate (p-chart) and satisfaction index (XmR)."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state, write_json


def spc_command(
    ctx: typer.Context,
    metric: str = typer.Option("bad-rate", "--metric", help="bad-rate (p-chart) or index (XmR chart)."),
    county: str | None = typer.Option(None, "--county", help="One county; default the whole city (a county "
                                                              "operator: its own)."),
    city: bool = typer.Option(False, "--city", help="The whole city (the default; city operator)."),
    start: str | None = typer.Option(None, "--from", help="First day; default 89 days before --to."),
    end: str | None = typer.Option(None, "--to", help="Last day; default today."),
    baseline: str | None = typer.Option(None, "--baseline", help="Phase I dates D..D; default the first 30 days."),
    rules: str = typer.Option("nelson", "--rules", help="nelson (1-8) or we (Western Electric 1-4)."),
    laney: bool = typer.Option(False, "--laney", help="Laney p′ chart for over-dispersed daily rates."),
    chart_file: Path | None = typer.Option(None, "--chart", help="Also write the chart as SVG."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Control charts (控制图): the daily bad-review rate (p-chart) or satisfaction index (XmR) with run rules.

    Lists every day with n, value, CL, LCL, UCL and the rules it breaks; --chart also draws it as SVG.
    A county operator's chart is its own county's.

    Example:

        haocha spc --metric bad-rate --county 370213 --from 2024-01-01 --to 2024-06-30 --baseline 2024-01-01..2024-02-29
    """
    from datetime import timedelta

    from haocha_cli import files, spc
    from haocha_cli.clock import today
    from haocha_cli.periods import date_range, parse_date, parse_period
    from haocha_cli.process_control import DEFAULT_DAYS, chart_for

    if city and county:
        raise typer.BadParameter("give --county or --city, not both", param_hint="--city")
    last = parse_date(end, "--to") if end else today()
    first = parse_date(start, "--from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    c = state(ctx).context()
    result = chart_for(c, metric, date_range(first, last), parse_period(baseline) if baseline else None,
                       county, rules, laney, city=city)
    if chart_file:
        title = f"{'差评率 p 控制图' if metric == 'bad-rate' else '满意指数 单值控制图'} · {result['county']}"
        files.write_text(chart_file, spc.render_svg(result["chart"], title), files.modes(c.config))
        say(f"chart written to {chart_file}")
    rows = [{"day": r["label"], "n": r["n"], "value": r["value"], "cl": r["cl"], "lcl": r["lcl"], "ucl": r["ucl"],
             "phase": r["phase"], "signals": " ".join(r["signals"])} for r in result["rows"]]
    if fmt == Format.json:
        data = {k: v for k, v in result.items() if k not in ("chart", "moving_range", "rows")}
        write_json({**data, "rows": rows})
        return
    if fmt == Format.table:
        say(f"{'差评率' if metric == 'bad-rate' else '满意指数'} · {result['county']} · 基线 "
            f"{result['baseline']['label']} · 判异准则 {rules}：{len(result['signals'])} 天有信号")
    # The day's value and its limits are rates (p chart) or indices (individuals chart).
    kind = "rate" if metric == "bad-rate" else "index"
    render(rows, fmt, kinds=dict.fromkeys(("value", "cl", "lcl", "ucl"), kind))
