"""`haocha status`: the database, the work waiting, and what needs doing soon, on one screen."""

from __future__ import annotations

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state, write_json


def status_command(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Show the database (size, schema, key file), ratings and imports, the cases waiting (open, overdue,
    due soon, late return visits, waiting for the city), recent flags, and a to-do list. A county operator
    sees its own county's ratings, cases, flags and audit events.

    Example:

        haocha status
    """
    from haocha_cli.status import status

    data = status(state(ctx).context())
    if fmt == Format.json:
        write_json(data)
        return
    render([{"field": k, "value": v} for k, v in data.items() if k != "to_do"], fmt, title="haocha 运行状态")
    if fmt == Format.table:
        for line in data["to_do"] or ["nothing waits"]:
            say(f"to do: {line}")
