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


def _anchors(values: list[str] | None) -> list[tuple[int, str]]:
    from haocha_cli.audit import parse_anchor
    from haocha_cli.errors import InvalidInput

    try:
        return [parse_anchor(value) for value in values or []]
    except InvalidInput as exc:
        raise typer.BadParameter(str(exc), param_hint="--anchor") from None


def _report_broken(result: dict) -> None:
    where = f"broken at event {result['event_id']}" if result["event_id"] is not None else "unguarded"
    typer.echo(f"Error: audit trail {where}: {result['problem']}", err=True)
    raise typer.Exit(1)


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: list[str] | None = typer.Option(
        None, "--anchor", metavar="ID:HASH",
        help="An anchor held outside the database (`haocha audit anchor`, a daily report's 审计锚点): event ID "
             "must still hold HASH, with the chain up to it intact. May be given several times."),
) -> None:
    """Check the hash chain; exit 1 naming the first bad event if any row was altered or removed, the head
    record does not match, or a guard trigger was dropped.

    The trail and its head are in the database file: someone who can write it can cut the tail and rewrite
    the head to match. Give the anchors kept outside (the 审计锚点 of archived daily reports): each proves
    that nothing up to its event was removed or rewritten.

    Example:

        haocha audit verify
        haocha audit verify --anchor 1234:5f3a…e9 --anchor 1302:0b7c…41
    """
    from haocha_cli.audit import verify as verify_trail

    anchors = _anchors(anchor)
    c = state(ctx).context()
    result = verify_trail(c.db, anchors)
    if not result["ok"]:
        _report_broken(result)
    held = result["anchors"]
    say(f"audit trail intact: {result['events']} events"
        + (f"; the anchored events hold: {', '.join(map(str, held))}" if held else ""))


@app.command("anchor")
def anchor_command(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Print the audit anchor, ID:HASH of the last event, after checking the trail (exit 1 if it is broken).

    Kept outside the database (a file on another machine, a mail, a printed report: the daily report
    prints it too, under 审计锚点), it lets `haocha audit verify --anchor ID:HASH` prove later that nothing
    up to that event was removed or rewritten. It tells nothing of any county: every operator may print it.

    Example:

        haocha audit anchor >> /srv/witness/haocha-anchors.txt
        haocha audit anchor --format json
    """
    from haocha_cli.audit import anchor as trail_anchor
    from haocha_cli.audit import verify as verify_trail
    from haocha_cli.errors import NotFound

    c = state(ctx).context()
    result = verify_trail(c.db)
    if not result["ok"]:
        _report_broken(result)
    value = trail_anchor(c.db)
    if value is None:
        raise NotFound("the audit trail has no events yet: there is nothing to anchor", "run `haocha init` first")
    event_id, digest = value.split(":")
    if fmt == Format.table:
        typer.echo(value)
        return
    render([{"anchor": value, "event_id": int(event_id), "hash": digest}], fmt, data={
        "anchor": value, "event_id": int(event_id), "hash": digest, "events": result["events"]})
