"""`haocha audit`: the hash-chained trail of every state change."""

from __future__ import annotations

import typer

from haocha_cli.commands._common import (
    FORMAT_OPTION,
    FROM_OPTION,
    NUMBER_MAX,
    PERIOD_OPTION,
    TO_OPTION,
    Format,
    chosen_period,
    render,
    say,
    state,
)

app = typer.Typer(help="Read and verify the audit trail.", no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    entity: str | None = typer.Option(None, "--entity", help="Only events of this entity type (e.g. windows, cases)."),
    entity_id: str | None = typer.Option(None, "--id", help="Only events of this entity id."),
    by: str | None = typer.Option(None, "--by", help="Only events of this operator, e.g. county:370213 or city."),
    person: str | None = typer.Option(None, "--person", help="Only events of this person: a workbench username, "
                                                             "or os:<login> for the command line."),
    action: str | None = typer.Option(None, "--action",
                                      help="Only this action (case.close), or actions beginning with a prefix "
                                           "ending in a dot (case.)."),
    period: str | None = PERIOD_OPTION,
    date_from: str | None = FROM_OPTION,
    date_to: str | None = TO_OPTION,
    limit: int | None = typer.Option(None, "--limit", min=1, max=NUMBER_MAX, help="Only the last N events."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List audit events: time, operator, action, entity, before and after; all of them unless filtered.

    A county operator reads the events of its own county's cases, windows, staff and accounts; city-wide
    events (imports, scans, samples, risk levels, the calendar) are the city's.

    Example:

        haocha audit log --entity windows --limit 20
        haocha audit log --by county:370213 --action case. --period 2026-08
    """
    from haocha_cli.audit import log as readable_events

    c = state(ctx).context()
    span = chosen_period(period, date_from, date_to, default="none")
    render(readable_events(c, entity, entity_id, limit, start=span.start.isoformat() if span else None,
                           end=span.end.isoformat() if span else None, operator=by, person=person,
                           action=action), fmt,
           columns=["id", "at", "person", "operator", "action", "entity", "entity_id", "before", "after"])


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check the hash chain; exit 1 naming the first bad event if any row was altered or removed.

    Example:

        haocha audit verify
    """
    from haocha_cli.audit import verify as verify_trail

    c = state(ctx).context()
    result = verify_trail(c.db)
    if result["ok"]:
        say(f"audit trail intact: {result['events']} events")
        return
    typer.echo(f"Error: audit trail broken at event {result['event_id']}: {result['problem']}", err=True)
    raise typer.Exit(1)
