"""`haocha config`: the effective configuration and where each value came from."""

from __future__ import annotations

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, state

app = typer.Typer(help="Show the configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Print every setting, its effective value and where it came from (default or file).

    Example:

        haocha config show --format json
    """
    from haocha_cli.config import load_config

    s = state(ctx)
    config = load_config(s.config_path, db_path=s.db_path)
    render(config.rows(), fmt, columns=["key", "value", "source", "description"])
