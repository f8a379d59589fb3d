"""`haocha datasette-metadata`: Datasette's metadata.json for the database, in Chinese."""

from __future__ import annotations

import typer

from haocha_cli.commands._common import state


def datasette_metadata_command(
    ctx: typer.Context,
    name: str = typer.Option(None, "--name", help="The database's name in Datasette: the served file's name"
                                                   " without .db (default: that of --db)."),
) -> None:
    """Print Datasette metadata (JSON) for the database: titles and descriptions in Chinese for the database,
    its tables, the views v_ratings, v_cases and v_county_month (names instead of codes, no phones, no
    comments) and their columns. The tables that hold personal data or secrets, and the raw tables behind the
    views, are hidden — which is not access control: serve a copy without the personal data, read-only, on
    the city's network only (docs/datasette.md).

    Example:

        haocha datasette-metadata --name bureau > metadata.json
        datasette -i bureau.db -m metadata.json
    """
    import json

    from haocha_cli.datasette_metadata import metadata

    typer.echo(json.dumps(metadata(state(ctx).context(), name), ensure_ascii=False, indent=2))
