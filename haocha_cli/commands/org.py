"""`haocha org`: the catalogue of counties, windows, service items and staff."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state, write_json

app = typer.Typer(help="The organisation: counties, windows, service items, staff.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    part: str = typer.Option("all", "--part", help="counties, windows, items, staff, standards (服务标准清单), "
                                                    "responsibility (问题责任清单) or all."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Show the catalogue. Staff phones are masked; a county operator sees its own county's staff and risk
    level only.

    Example:

        haocha org show --part windows --format csv
    """
    from haocha_cli.catalogue import show_org

    parts = ("counties", "windows", "items", "staff")
    lists = ("standards", "responsibility")
    if part not in (*parts, *lists, "all"):
        raise typer.BadParameter(f"{part!r} is not one of {', '.join(parts + lists)}, all", param_hint="--part")
    if part in lists:
        from haocha_cli.service_lists import list_responsibilities, list_standards

        db = state(ctx).context().db
        rows = list_standards(db) if part == "standards" else list_responsibilities(db)
        render(rows, fmt, title=("服务标准清单" if part == "standards" else "问题责任清单") if fmt == Format.table else None)
        return
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

    A CSV service-item list (服务事项清单) has the headers 事项编码, 事项名称, 法定时限, 承诺时限 (working days)
    and optionally 实施编码 (the national implementation code), 事项类型, 办理窗口 (window codes separated by
    、 or ;) and 状态; a CSV whose header names none of 事项编码, 事项名称, 实施编码, 法定时限 is a window directory.

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


def _list_counts(result: dict) -> None:
    say(f"{result['added']} added, {result['updated']} updated, {result['removed']} removed, "
        f"{result['unchanged']} unchanged")


@app.command("import-standards")
def import_standards(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV service-standard list (服务标准清单)."),
) -> None:
    """Replace the service-standard list (服务标准清单) with a CSV (city operator only): the file is the whole
    list, so a second import of the same file changes nothing. All or nothing, every bad line named.

    Headers: 事项编码 (local code, 实施编码 or name), 窗口类型 (实体窗口/网上渠道/全部; empty = 全部), 服务标准, and
    optionally 承诺时限, 材料数 and 指标 (the indicator the standard falls under, code or name). A case page and
    the case sheets show the standards of the problems the rater ticked.

    Example:

        haocha org import-standards standards.csv
    """
    from haocha_cli.service_lists import import_standards as run

    _list_counts(run(state(ctx).context(), file))


@app.command("import-responsibility")
def import_responsibility(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV problem-responsibility list (问题责任清单)."),
) -> None:
    """Replace the problem-responsibility list (问题责任清单) with a CSV (city operator only): the file is the
    whole list; all or nothing, every bad line named.

    Headers: 指标 (indicator code or name), 窗口类型 (实体窗口/网上渠道/全部), 责任岗位, 责任部门. A case opened
    for a bad review from then on gets the posts of the problems the rater ticked (the first is its post).

    Example:

        haocha org import-responsibility responsibility.csv
    """
    from haocha_cli.service_lists import import_responsibilities as run

    _list_counts(run(state(ctx).context(), file))


@app.command("import-window-staff")
def import_window_staff(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV of window staff: 工作人员编码,姓名,行政区划代码 (or 区县局),联系电话,状态."),
) -> None:
    """Add or update the window staff (窗口工作人员: the people at the windows whom ratings name in their 工作人员
    column — not the workbench's login accounts of `haocha staff`) from a CSV (city operator only). All or
    nothing, like `org import`: every bad line is named at once. The phone is kept encrypted (the
    staff_phone flag matches raters against it) and shown masked.

    Example:

        haocha org import-window-staff 窗口工作人员.csv
    """
    from haocha_cli.catalogue import import_org
    from haocha_cli.window_staff import read_staff_csv

    c = state(ctx).context()
    result = import_org(c, read_staff_csv(c, file))
    for line in result["changes"]:
        say(line)
    say(f"{result['added']} added, {result['updated']} updated, {result['unchanged']} unchanged")


@app.command("remove-window")
def remove_window(ctx: typer.Context, code: str = typer.Argument(..., help="Window code.")) -> None:
    """Remove a window: deleted if it never took a rating, otherwise deactivated (its history stays).

    Example:

        haocha org remove-window LC02
    """
    from haocha_cli.catalogue import remove_window as remove

    outcome = remove(state(ctx).context(), code)
    say(f"window {code}: {outcome}")
