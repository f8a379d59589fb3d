"""`haocha report daily|monthly|county`: reports in Markdown and self-contained HTML, ready for cron."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import say, state

app = typer.Typer(help="Reports: daily (for cron), monthly, per county; Markdown and HTML, Chinese by default.",
                  no_args_is_help=True)

FORMAT = typer.Option("both", "--format", "-f", help="md, html or both.")
OUT = typer.Option(Path("reports"), "--out", help="Folder for the report files.")
LANG = typer.Option("zh", "--lang", help="zh (default) or en.")
QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing on success (for cron).")


def _write(ctx: typer.Context, kind: str, fmt: str, out: Path, lang: str, quiet: bool, **kwargs) -> None:
    from haocha_cli import files
    from haocha_cli.reports import build, write

    c = state(ctx).context()
    report = build(c, kind, lang=lang, **kwargs)
    for path in write(report, fmt, out, files.modes(c.config)):
        if not quiet:
            say(f"wrote {path}")


@app.command("daily")
def daily(
    ctx: typer.Context,
    day: str = typer.Option("yesterday", "--date", help="A day (2026-08-31, 2026/8/31, 2026年8月31日), today or yesterday."),
    fmt: str = FORMAT, out: Path = OUT, lang: str = LANG, quiet: bool = QUIET,
) -> None:
    """The daily summary: ratings by county and channel, 好评率, index, new bad reviews (phones masked),
    cases due soon and overdue, control-chart signals, suspicious flags, and the audit anchor (审计锚点: keep
    the reports, `haocha audit verify --anchor` checks the trail against them).

    Re-running it for the same date on the same data writes the same bytes. It shows every county: the
    city's (a county operator is refused; its own report is `haocha report county`).

    Example:

        haocha report daily --date yesterday --out /srv/haocha/reports --quiet
    """
    from datetime import timedelta

    from haocha_cli.clock import today
    from haocha_cli.periods import parse_date

    when = {"today": today(), "yesterday": today() - timedelta(days=1)}.get(day) or parse_date(day, "--date")
    _write(ctx, "daily", fmt, out, lang, quiet, day=when)


@app.command("monthly")
def monthly(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help="The month: 2026-08, 2026/8 or 2026年8月."),
    fmt: str = FORMAT, out: Path = OUT, lang: str = LANG, quiet: bool = QUIET,
) -> None:
    """The monthly report: county ranking (raw and shrunk, N), indicator heat table, trend chart, control
    chart, closed-loop rates, spot-checks, FMEA, benchmarking gaps and the pilot comparison if configured.
    It ranks the counties by name: the city's (a county operator is refused; its own report is
    `haocha report county`).

    Example:

        haocha report monthly --month 2026-08 --format html --out reports/
    """
    from haocha_cli.errors import InvalidInput
    from haocha_cli.periods import parse_period

    period = parse_period(month)
    if period.kind != "month":
        raise InvalidInput(f"--month {month!r} is not a month", "write YYYY-MM, e.g. 2026-08")
    _write(ctx, "monthly", fmt, out, lang, quiet, month=period)


@app.command("county")
def county(
    ctx: typer.Context,
    code: str = typer.Option(..., "--county", help="The county: its code 370213, name 李沧区 or short name 李沧."),
    period: str = typer.Option(..., "--period", help="A month 2026-08, quarter 2026-Q3, year or D..D."),
    fmt: str = FORMAT, out: Path = OUT, lang: str = LANG, quiet: bool = QUIET,
) -> None:
    """A county's report: its figures, its windows, and its cases with their deadlines. A county operator
    gets its own county's.

    Example:

        haocha --operator county:370213 report county --county 370213 --period 2026-08
    """
    from haocha_cli.periods import parse_period

    _write(ctx, "county", fmt, out, lang, quiet, county_code=code, period=parse_period(period))
