"""`haocha flags`: suspicious ratings (评价信息不实), flagged for the city's spot-checks."""

from __future__ import annotations

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

app = typer.Typer(help="Suspicious ratings: rules that flag ratings for a spot-check (never an exclusion).",
                  no_args_is_help=True)



@app.command("scan")
def scan_command(
    ctx: typer.Context,
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Scan the ratings of a period (default: the current month) with every rule (city operator only).

    Each import scans its own days already; run this after changing a rule's settings (flags.* in the
    configuration) or the staff phones. A rating is flagged at most once per rule, so a second scan adds
    nothing. Rules: same_phone, burst, off_hours, staff_phone, repeated_comment, bad_token, old_token,
    followup_orphan; and the window rules of the rating rate for the months the period touches,
    low_rating_rate and rating_rate_drop (`haocha flags windows`).

    Example:

        haocha flags scan --period 2024-05
    """
    from haocha_cli.flags import scan

    c = state(ctx).context()
    summary = scan(c, chosen_period(period, start, end))
    if fmt == Format.json:
        write_json(summary)
        return
    render([{"rule": rule, "new_flags": n} for rule, n in (summary["new"] | summary["window_flags"]["new"]).items()],
           fmt)
    say(f"scanned {summary['ratings']} ratings {summary['from']} … {summary['to']}: "
        f"{summary['new_total']} new flag(s), {summary['ratings_flagged']} rating(s) flagged in all")
    say(f"window rating rates of {', '.join(summary['window_flags']['months'])}: "
        f"{summary['window_flags']['new_total']} new window flag(s) (haocha flags windows)")
    if summary.get("unreadable_opening_hours"):
        say(f"opening hours unreadable, off_hours not checked: {', '.join(summary['unreadable_opening_hours'])}")


@app.command("list")
def list_command(
    ctx: typer.Context,
    rule: str | None = typer.Option(None, "--rule", help="Only this rule."),
    county: str | None = typer.Option(None, "--county", help="Only this county (a county operator: its own)."),
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List flagged ratings with the rule and its evidence (phones masked). All periods unless one is given.

    Example:

        haocha flags list --rule same_phone --county 370213
    """
    from haocha_cli.flags import describe, list_flags

    chosen = chosen_period(period, start, end, default="none")
    rows = list_flags(state(ctx).context(), chosen, rule, county)
    if fmt == Format.json:
        write_json(rows)
        return
    for row in rows:
        row["evidence"] = describe(row["rule"], row["evidence"])
    render(rows, fmt, columns=["id", "rule", "rating", "source_id", "county", "window", "rated_at", "channel",
                               "level", "excluded", "evidence"])


@app.command("windows")
def windows_command(
    ctx: typer.Context,
    rule: str | None = typer.Option(None, "--rule", help="low_rating_rate or rating_rate_drop."),
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List the window months flagged by their rating rate (主动评价率 = ratings ÷ services), newest first
    (city operator only): low_rating_rate, a rate under flags.rating_rate_ratio of the county's;
    rating_rate_drop, under flags.rating_rate_drop of the window's previous month. All months unless a period
    is given. `volumes import` and `flags scan` raise them.

    Example:

        haocha flags windows --period 2026-08
    """
    from haocha_cli.flags import describe_window, list_window_flags

    chosen = chosen_period(period, start, end, default="none")
    rows = list_window_flags(state(ctx).context(), chosen, rule)
    if fmt == Format.json:
        write_json(rows)
        return
    for row in rows:
        row["evidence"] = describe_window(row["rule"], row["evidence"])
    render(rows, fmt, columns=["id", "rule", "rule_name", "month", "county", "window", "window_name", "ratings",
                               "services", "rating_rate", "compared_rate", "evidence"])
