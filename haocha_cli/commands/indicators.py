"""`haocha indicators`: the indicator system (指标体系) and its priority-matrix weights."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from haocha_cli.commands._common import (
    FORMAT_OPTION,
    FROM_OPTION,
    PERIOD_OPTION,
    TO_OPTION,
    Format,
    chosen_period,
    render,
    say,
    state,
    write_json,
)

app = typer.Typer(help="The indicator system and its weights.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    version: str | None = typer.Option(None, "--version", help="A stored version (default: the active one)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List a version's indicators with their dimension, scope and weight per service mode (offline, online).

    Example:

        haocha indicators show --format json
    """
    from haocha_cli.indicators import show as show_system

    data = show_system(state(ctx).context().db, version)
    if fmt == Format.json:
        write_json(data)
        return
    render(data["indicators"], fmt, title=f"指标体系 {data['version']}（自 {data['active_from']} 起使用）")


@app.command("versions")
def versions(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """List the stored indicator-system versions: state (在用 in force, 已排期 scheduled, 已停用 superseded,
    未启用 imported, not activated), the first day each is used, and its numbers of dimensions and indicators.

    Example:

        haocha indicators versions --format json
    """
    from haocha_cli.indicators import versions as list_versions

    render(list_versions(state(ctx).context().db), fmt)


@app.command("import")
def import_system(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Indicator-system TOML: version, note, criteria, [pairwise], "
                                          "[[dimensions]], [[indicators]]."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Define a new indicator-system version from a TOML file (city operator only): any number of primary
    dimensions (一级指标) and secondary indicators (二级指标), each with code, name, scope (common, offline,
    online), description and its priority-matrix scores. The version is weighed and stored, not yet used:
    `indicators activate` puts it in force. A bad file changes nothing.

    Example:

        haocha indicators import examples/indicators-v1.0.toml
    """
    from haocha_cli.indicators import import_system as store
    from haocha_cli.indicators import load_matrix

    stored = store(state(ctx).context(), load_matrix(path))
    if fmt == Format.json:
        write_json(stored)
        return
    say(f"imported indicator system {stored['version']}: {stored['dimensions']} dimensions, "
        f"{stored['indicators']} indicators, weighed; not in force until `haocha indicators activate "
        f"{stored['version']} --from YYYY-MM-DD`")


@app.command("activate")
def activate(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The version to put in force, e.g. V1.1."),
    active_from: str = typer.Option(..., "--from", help="First day of ratings scored under it (YYYY-MM-DD)."),
) -> None:
    """Put an imported indicator-system version in force for ratings from a day on (city operator only;
    recorded in the audit trail). Ratings already stored keep the version they were scored under, so the
    day must come after the last rating imported.

    Example:

        haocha indicators activate V1.1 --from 2026-10-01
    """
    from haocha_cli.indicators import activate as put_in_force
    from haocha_cli.periods import DAY_HINT, read_day

    start = read_day(active_from)
    if start is None:
        raise typer.BadParameter(f"{active_from!r} is not a date ({DAY_HINT})", param_hint="--from")
    done = put_in_force(state(ctx).context(), version, start)
    say(f"indicator system {done['version']} is used for ratings from {done['active_from']}")


@app.command("weigh")
def weigh(
    ctx: typer.Context,
    matrix: Path = typer.Argument(..., help="Priority-matrix TOML: criteria, pairwise or criteria_weights, scores."),
    apply: bool = typer.Option(False, "--apply", help="Store the weights as a new version (city operator only)."),
    version: str | None = typer.Option(None, "--version", help="Name of the new version, e.g. V1.1."),
    active_from: str | None = typer.Option(None, "--from", help="First day the version is used (default today)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Compute indicator weights by the priority matrix, printing every step. The file is an indicator
    system (as `indicators import` reads), or a matrix with a [scores] table re-weighing the indicators of
    the version in force.

    Criteria weights come from the pairwise comparison (row total ÷ sum of row totals) or are given;
    an indicator's priority is Σ criterion weight × score; each mode's weights are the priorities of
    the indicators in its scope, normalised to sum to 1.

    Example:

        haocha indicators weigh matrix.toml --apply --version V1.1
    """
    from haocha_cli.indicators import apply_version, load_matrix
    from haocha_cli.indicators import weigh as compute

    data = load_matrix(matrix)
    result = compute(data, state(ctx).context().db if "indicators" not in data else None)
    if fmt == Format.json:
        write_json({k: v for k, v in result.items() if k != "system"})
    else:
        render(result["criteria"], fmt, title="1. 准则权重")
        render([{k: v for k, v in i.items() if k != "scores"} for i in result["indicators"]], fmt,
               title="2. 指标优先度")
        for mode, rows in result["weights"].items():
            name = {"offline": "线下", "online": "网上"}.get(mode, mode)
            render(rows, fmt, title=f"3. {name}权重（合计 {sum(r['weight'] for r in rows):.6f}）")
    if apply:
        name = version or result.get("version")
        if not name:
            raise typer.BadParameter("--apply needs a version name", param_hint="--version")
        from haocha_cli.periods import DAY_HINT, read_day

        start: date | None = read_day(active_from) if active_from else None
        if active_from and start is None:
            raise typer.BadParameter(f"{active_from!r} is not a date ({DAY_HINT})", param_hint="--from")
        stored = apply_version(state(ctx).context(), result, name, start, data)
        say(f"stored indicator system {stored['version']}, used for ratings from {stored['active_from']}")


@app.command("drivers")
def drivers(
    ctx: typer.Context,
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    county: str | None = typer.Option(None, "--county", help="Only this county."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Derived importance: each indicator's correlation with the overall level, with N, and a suggested
    1-5 score for the priority matrix's 相关性 criterion. A county operator's are its own county's.

    Example:

        haocha indicators drivers --period 2024-Q2
    """
    from haocha_cli.indices import drivers_for

    data = drivers_for(state(ctx).context(), chosen_period(period, start, end), county)
    if fmt == Format.json:
        write_json(data)
        return
    if data["note"]:
        say(data["note"])
    render(data["rows"], fmt, columns=["indicator", "name", "n", "r", "suggested_score"])
