"""`haocha report daily|monthly|county|public`: reports in Markdown and self-contained HTML, ready for cron."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import say, state

app = typer.Typer(help="Reports: daily (for cron), monthly, per county, public results (结果公开); Markdown and HTML,"
                       " Chinese by default.",
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
    """The daily summary: ratings by county and channel, 好评率, index, every new bad review of the day (phones
    masked), the cases due (return visits due, overdue, due soon: counted per county, the 20 most urgent
    listed with the total), control-chart signals, suspicious flags, and the audit anchor (审计锚点: keep the
    reports, `haocha audit verify --anchor` checks the trail against them). Names beside every code.

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
    """A county's report: its figures beside the city's, its rank among the counties, its closed-loop rates
    against the city and the targets (report.targets), its gaps to the city and the benchmark per indicator
    (the benchmark county is not named), the city's spot-checks of it (counts), its windows, and its open
    cases by urgency (the 20 most urgent listed with the total). A county operator gets its own county's,
    the same report the city makes for it.

    Example:

        haocha --operator county:370213 report county --county 370213 --period 2026-08
    """
    from haocha_cli.periods import parse_period

    _write(ctx, "county", fmt, out, lang, quiet, county_code=code, period=parse_period(period))


@app.command("public")
def public(
    ctx: typer.Context,
    month: str = typer.Option(None, "--month", help="The month: 2026-08, 2026/8 or 2026年8月."),
    quarter: str = typer.Option(None, "--quarter", help="The quarter: 2026-Q3 (instead of --month)."),
    by: str = typer.Option("county", "--by", help="county (default): every county; window: every window too."),
    fmt: str = typer.Option("all", "--format", "-f", help="md, html, csv or all (the three)."),
    out: Path = OUT, lang: str = LANG, quiet: bool = QUIET,
) -> None:
    """The public results report (结果公开) of a month or a quarter, for the bureau's website and the government
    portal: per county (and per window with --by window) the number of ratings, 好评率, 差评率, 满意指数 and
    差评整改率, with what each figure means. It holds no comment, no phone and none of the internal oversight
    (flags, spot-checks, FMEA, risk levels, the audit anchor); a unit with fewer than report.public_min_n
    ratings (30) shows 样本不足 in place of every figure. Markdown, HTML and a CSV (UTF-8 with BOM, Chinese
    headers). Publishing is the city's act: a county operator is refused (its own report is
    `haocha report county`).

    Example:

        haocha report public --month 2026-08 --out reports/
        haocha report public --quarter 2026-Q3 --by window --format csv --out portal/
    """
    from haocha_cli import files, publication
    from haocha_cli.reports import build

    c = state(ctx).context()
    report = build(c, "public", period=publication.public_period(month, quarter), by=by, lang=lang)
    for path in publication.write(report, fmt, out, files.modes(c.config)):
        if not quiet:
            say(f"wrote {path}")
