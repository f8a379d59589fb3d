"""`haocha volumes`: service volumes (办件量) per day, window and item, for the rating rate (主动评价率)."""

from __future__ import annotations

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

app = typer.Typer(help="Service volumes (办件量) from the licensing system: the rating rate's denominator.",
                  no_args_is_help=True)


@app.command("import")
def import_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV (any Chinese encoding) or .xlsx with 日期,窗口编码,事项编码,办件量."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Import the services handled per day, window and item, as the licensing system exports them (city
    operator only). All or nothing: every bad line is named at once and nothing changes until the file is
    clean. The same file again adds nothing; a corrected file replaces the figure of each day, window and
    item it names. The item is its code or its name. Then the windows of the file's months (and of the month
    after each) are scanned by the rating-rate flags (`haocha flags windows`).

    Example:

        haocha volumes import 办件量-2026-08.xlsx
    """
    from haocha_cli.volumes import import_volumes

    summary = import_volumes(state(ctx).context(), file)
    if fmt == Format.json:
        write_json(summary)
        return
    say(f"{summary['file']}: {summary['rows_read']} rows {summary['from']} … {summary['to']}, "
        f"{summary['services']} services: {summary['added']} added, {summary['replaced']} replaced, "
        f"{summary['unchanged']} unchanged; {summary['window_flags_raised']} new window flag(s) "
        f"({', '.join(summary['months_scanned'])} scanned)")


@app.command("list")
def list_command(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="Only this county (a county operator: its own)."),
    window: str | None = typer.Option(None, "--window", help="Only this window."),
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List the service volumes by day, window and item. All periods unless one is given.

    Example:

        haocha volumes list --county 李沧 --period 2026-08 --format csv
    """
    from haocha_cli.volumes import list_volumes

    c = state(ctx).context()
    chosen = chosen_period(period, start, end, default="none")
    rows = list_volumes(c, chosen, county, window)
    render(rows, fmt, columns=["day", "county_code", "county_name", "window_code", "window_name", "item_code",
                               "item_name", "services", "imported_at"])
