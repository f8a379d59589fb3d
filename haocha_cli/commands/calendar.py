"""`haocha calendar`: local entries of the working-day calendar (holidays, make-up workdays 调休)."""

from __future__ import annotations

from pathlib import Path

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, render, say, state

app = typer.Typer(help="The working-day calendar: official holidays and 调休, plus local entries.",
                  no_args_is_help=True)


def _add(ctx: typer.Context, day: str, is_workday: bool, note: str) -> None:
    from haocha_cli.bureau_calendar import parse_day, set_day

    result = set_day(state(ctx).context(), parse_day(day), is_workday, note)
    kind = "a working day" if is_workday else "a holiday"
    if result["unchanged"]:
        say(f"{result['day']} is recorded as {kind} already; nothing changed")
        return
    if result["official"] is is_workday and result["before"] is None:
        say(f"{result['day']} recorded as {kind} (the official calendar says so already)")
    else:
        say(f"{result['day']} recorded as {kind}")
    _moved(result["moved"])


def _moved(moved: list[dict]) -> None:
    for move in moved:
        say(f"case {move['case']}: {move['field']} {move['before']} -> {move['after']}")
    if moved:
        say(f"{len({m['case'] for m in moved})} open case(s) got new deadlines")


@app.command("add-holiday")
def add_holiday(ctx: typer.Context, day: str = typer.Argument(..., help="The day (2027-02-08, 2027/2/8 or 2027年2月8日)."),
                note: str = typer.Option("", "--note", help="Why (e.g. the notice's number).")) -> None:
    """Record a day off the official calendar does not know (city). Open cases' deadlines move.

    Example:

        haocha calendar add-holiday 2027-02-08 --note "国办发明电〔2026〕x号 春节"
    """
    _add(ctx, day, False, note)


@app.command("add-workday")
def add_workday(ctx: typer.Context, day: str = typer.Argument(..., help="The day (2027-02-08, 2027/2/8 or 2027年2月8日)."),
                note: str = typer.Option("", "--note", help="Why (e.g. 调休上班).")) -> None:
    """Record a working day the official calendar does not know, e.g. a make-up Saturday (调休) (city).

    Example:

        haocha calendar add-workday 2027-02-20 --note "春节调休上班"
    """
    _add(ctx, day, True, note)


@app.command("remove")
def remove(ctx: typer.Context, day: str = typer.Argument(..., help="The day (2027-02-08, 2027/2/8 or 2027年2月8日).")) -> None:
    """Remove a local entry (city): the day is again what the official calendar says; open cases'
    deadlines move back.

    Example:

        haocha calendar remove 2027-02-08
    """
    from haocha_cli.bureau_calendar import parse_day, remove_day

    result = remove_day(state(ctx).context(), parse_day(day))
    from haocha_cli.official_calendar import LAST_KNOWN_YEAR

    official = {True: "a working day", False: "a holiday", None: "not known to the official calendar"}
    counted = (" (weekends and the statutory holidays are days off)" if int(result["day"][:4]) > LAST_KNOWN_YEAR
               else " (Monday to Friday count as working days)")
    say(f"{result['day']}: local entry removed; the official calendar says {official[result['official']]}"
        + ("" if result["official"] is not None else counted))
    _moved(result["moved"])


@app.command("import")
def import_(ctx: typer.Context, file: Path = typer.Argument(..., help="CSV: 日期 (day), 类型 (kind: 放假 or 调休上班), "
                                                                      "备注 (note, optional).")) -> None:
    """Record many days at once (city), e.g. next year's holidays from the State Council's notice before the
    package knows them. One transaction; days already recorded the same way are left alone.

    Example:

        haocha calendar import holidays-2027.csv
    """
    from haocha_cli.bureau_calendar import import_days

    result = import_days(state(ctx).context(), file)
    say(f"{result['file']}: {result['days']} day(s), {result['changed']} recorded ({result['holidays']} holiday(s),"
        f" {result['workdays']} working day(s)), {result['days'] - result['changed']} already recorded")
    if result["moved"]:
        say(f"{len({m['case'] for m in result['moved']})} open case(s) got new deadlines")


@app.command("show")
def show(ctx: typer.Context,
         year: int | None = typer.Option(None, "--year", min=1900, max=2100, help="List the year's holidays and make-up workdays."),
         fmt: Format = FORMAT_OPTION) -> None:
    """Show the local entries, or with --year every day of that year that is not the usual Mon–Fri pattern.

    Example:

        haocha calendar show --year 2026
    """
    from haocha_cli.bureau_calendar import show_calendar

    data = show_calendar(state(ctx).context().db, year)
    rows = data["rows"]
    render(rows, fmt, columns=["day", "weekday", "kind", "source", "holiday", "note"],
           data=data if fmt == Format.json else None)
    say(f"official calendar known for {data['known']}; local entries take precedence")
    if data["note"]:
        say(data["note"])
