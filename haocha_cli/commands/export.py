"""`haocha export ratings|cases`: files for other systems (CSV, XLSX, JSON), phones always masked."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from haocha_cli.commands._common import say, state

app = typer.Typer(help="Export ratings or cases for other systems (CSV, XLSX, JSON); phones always masked.",
                  no_args_is_help=True)

_EXTENSIONS = {".csv": "csv", ".xlsx": "xlsx", ".json": "json"}


def _run(ctx: typer.Context, kind: str, fmt: str | None, profile: str, period: str | None, date_from: str | None,
         date_to: str | None, county: str | None, out: Path | None, status: str | None = None) -> None:
    from haocha_cli.exports import export

    if out is not None and str(out) == "-":  # the usual spelling of standard output
        out = None
    if fmt is None:  # from the file's extension, else CSV
        fmt = _EXTENSIONS.get(out.suffix.lower(), "csv") if out is not None else "csv"
    c = state(ctx).context()
    result = export(c, kind, fmt=fmt, profile=profile, period=period, date_from=date_from, date_to=date_to,
                    county=county, status=status, out=out, stream=sys.stdout if out is None else None)
    if out is not None:
        excluded = f", {result['excluded']} of them excluded," if kind == "ratings" and result["excluded"] else ""
        say(f"wrote {result['rows']} {kind}{excluded} to {out} ({result['format']}, profile {result['profile']}; "
            f"masked: {', '.join(result['masked_fields'])})")


_FORMAT = typer.Option(None, "--format", "-f", help="csv, xlsx or json (default: from --out's extension, else csv).")
_PROFILE = typer.Option("canonical", "--profile",
                        help="canonical (haocha's field names) or national (GB/T 39046 / provincial platform "
                             "fields: satisfaction 5 = 非常满意 … 1 = 非常不满意, pf channel codes).")
_PERIOD = typer.Option(None, "--period", help="2024-05, 2024-Q2, 2024 or a day (by rating date; default: all).")
_FROM = typer.Option(None, "--from", help="First rating date, 2024-05-01 (or 2024/5/1, 2024年5月1日), with --to.")
_TO = typer.Option(None, "--to", help="Last rating date, 2024-05-31 (or 2024/5/31, 2024年5月31日), with --from.")
_COUNTY = typer.Option(None, "--county", help="One county's (a county operator exports its own only).")
_OUT = typer.Option(None, "--out", "-o", help="The file to write (required for xlsx); csv and json go to stdout without it "
                                             "or with `-`.")


@app.command("ratings")
def ratings(ctx: typer.Context, fmt: str | None = _FORMAT, profile: str = _PROFILE, period: str | None = _PERIOD,
            date_from: str | None = _FROM, date_to: str | None = _TO, county: str | None = _COUNTY,
            out: Path | None = _OUT) -> None:
    """Export ratings, excluded ones included and marked; phones masked.

    The national profile writes the provincial platform's fields and codes, and reads back with
    `haocha import --profile platform`. docs/export.md describes the columns.

    Example:

        haocha export ratings --period 2024-05 --profile national --out ratings-2024-05.xlsx
    """
    _run(ctx, "ratings", fmt, profile, period, date_from, date_to, county, out)


@app.command("cases")
def cases(ctx: typer.Context, fmt: str | None = _FORMAT, profile: str = _PROFILE, period: str | None = _PERIOD,
          date_from: str | None = _FROM, date_to: str | None = _TO, county: str | None = _COUNTY,
          status: str = typer.Option("all", "--status", help="all (default), open, resolved, or states separated by commas."),
          out: Path | None = _OUT) -> None:
    """Export rectification cases (整改事项) with their rating's fields and deadlines; phones masked.

    Example:

        haocha export cases --county 370213 --from 2024-05-01 --to 2024-05-31 --format json --out cases.json
    """
    _run(ctx, "cases", fmt, profile, period, date_from, date_to, county, out, status)
