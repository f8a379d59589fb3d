"""`haocha org`: the catalogue of counties, windows, service items and staff."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state, write_json

app = typer.Typer(help="The organisation: counties, windows, service items, staff.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    part: str = typer.Option("all", "--part", help="counties, windows, items, staff or all."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Show the catalogue. Staff phones are masked; a county operator sees its own county's staff and risk
    level only.

    Example:

        haocha org show --part windows --format csv
    """
    from haocha_cli.catalogue import show_org

    parts = ("counties", "windows", "items", "staff")
    if part not in (*parts, "all"):
        raise typer.BadParameter(f"{part!r} is not one of {', '.join(parts)}, all", param_hint="--part")
    data = show_org(state(ctx).context())
    if fmt == Format.json:
        out = data if part == "all" else data[part]
        write_json(out)
        return
    if part == "all" and fmt == Format.csv:
        raise typer.BadParameter("CSV holds one table: choose --part", param_hint="--format")
    for name in parts if part == "all" else (part,):
        render(data[name], fmt, title=_PARTS[name] if fmt == Format.table else None)


_PARTS = {"counties": "县级局", "windows": "窗口", "items": "服务事项", "staff": "窗口工作人员"}


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="TOML organisation file, or a CSV window directory."),
) -> None:
    """Add or update catalogue entries from a file (city operator only). All or nothing: every bad line is
    named at once, and nothing changes until the file is clean.

    A CSV window directory has the headers 区县局, 行政区划代码, 窗口编码, 窗口名称, 窗口类型
    (实体窗口/网上渠道) and optionally 办公时间 and 状态 (启用/停用, 在用, 1/0, 是/否 …), or their English
    twins county_name, county, code, name, kind, opening_hours, active. Opening hours are spans such as
    09:00-12:00,13:30-17:00 (the off-hours flag reads them): quote that cell, or separate the spans with 、 or
    ;. A line with a cell too many or too few refuses the file (docs/import.md, "The window directory").

    Example:

        haocha org import windows.csv
    """
    from haocha_cli.catalogue import import_org, load_org_file

    c = state(ctx).context()
    result = import_org(c, load_org_file(file))
    for line in result["changes"]:
        say(line)
    if result["ignored_columns"]:
        say(f"ignored columns: {', '.join(result['ignored_columns'])}")
    say(f"{result['added']} added, {result['updated']} updated ({result['deactivated']} deactivated), "
        f"{result['unchanged']} unchanged")


@app.command("remove-window")
def remove_window(ctx: typer.Context, code: str = typer.Argument(..., help="Window code.")) -> None:
    """Remove a window: deleted if it never took a rating, otherwise deactivated (its history stays).

    Example:

        haocha org remove-window LC02
    """
    from haocha_cli.catalogue import remove_window as remove

    outcome = remove(state(ctx).context(), code)
    say(f"window {code}: {outcome}")
