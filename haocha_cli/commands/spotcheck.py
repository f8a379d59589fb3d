"""`haocha spotcheck`: the city's risk-based spot-checks (抽查回访)."""

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
    write_json,
)

app = typer.Typer(help="The city's spot-checks (抽查回访): reproducible samples, outcomes, pass rates.",
                  no_args_is_help=True)

SAMPLE = typer.Option(None, "--sample", min=1, max=NUMBER_MAX, help="Only this sample (its id).")




@app.command("sample")
def sample_command(
    ctx: typer.Context,
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    seed: int | None = typer.Option(None, "--seed", min=0, max=NUMBER_MAX, help="Seed of the draw (default: a random one, stored)."),
    new_version: bool = typer.Option(False, "--new-version",
                                     help="Draw another sample of a period that has one (the first is kept)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Draw the spot-check sample of a period (city operator only).

    It holds every no-action classification (无需整改) made in the period, every flagged rating, a share of
    the cases closed in the period set by each county's risk level (sampling.closed_rate.low|medium|high,
    levels from `haocha risk assess`) and a share of the 非常满意 ratings (sampling.very_satisfied_rate).
    A share is ceil(rate × N) per county. The same seed over the same data draws the same sample; the
    seed is stored. A period has one sample unless --new-version.

    Example:

        haocha spotcheck sample --period 2024-05 --seed 20240601
    """
    from haocha_cli.spotchecks import draw_sample

    data = draw_sample(state(ctx).context(), chosen_period(period, start, end, default="required"), seed, new_version)
    if fmt == Format.json:
        write_json(data)
        return
    render(data["by_county"], fmt, columns=["county", "name", "risk_level", "closed_rate", "no_action", "flagged",
                                            "closed_case", "closed_case_pool", "very_satisfied",
                                            "very_satisfied_pool", "checks"])
    say(f"sample {data['sample']} of {data['period']['label']} (version {data['version']}, seed {data['seed']}): "
        f"{data['checks']} checks")


@app.command("samples")
def samples_command(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """List the samples drawn, with their seeds and how many checks are pending.

    Example:

        haocha spotcheck samples
    """
    from haocha_cli.spotchecks import list_samples

    render(list_samples(state(ctx).context()), fmt)


@app.command("list")
def list_command(
    ctx: typer.Context,
    sample: int | None = SAMPLE,
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    county: str | None = typer.Option(None, "--county", help="Only this county."),
    outcome: str | None = typer.Option(None, "--outcome", help="pending, confirmed, failed or unreachable."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List spot-checks: why each was drawn, the rating and case, the rater's phone (masked), the outcome.

    Example:

        haocha spotcheck list --sample 1 --outcome pending
    """
    from haocha_cli.spotchecks import list_checks

    rows = list_checks(state(ctx).context(), sample, chosen_period(period, start, end, default="none"), county, outcome)
    render(rows, fmt, columns=["id", "sample", "reason", "county", "window", "rating", "source_id", "rated_at",
                               "level", "case", "case_state", "phone", "outcome", "note", "consequence"])


@app.command("record")
def record_command(
    ctx: typer.Context,
    check_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="The spot-check id."),
    outcome: str = typer.Option(..., "--outcome", help="confirmed, failed or unreachable."),
    note: str | None = typer.Option(None, "--note", help="What the check found (required when failed)."),
) -> None:
    """Record the outcome of a spot-check (city operator only).

    failed: a drawn case (no-action or closed) is reopened; a drawn rating (flagged or 非常满意) is
    excluded from the figures as confirmed false (kept in the database). confirmed and failed are final;
    unreachable can be followed by another attempt.

    Example:

        haocha spotcheck record 12 --outcome failed --note "rater says the problem was never fixed"
    """
    from haocha_cli.spotchecks import record_check

    check = record_check(state(ctx).context(), check_id, outcome, note)
    say(f"spot-check {check_id}: {check['outcome']}" + (f"; {check['consequence']}" if check["consequence"] else ""))


@app.command("contact")
def contact_command(ctx: typer.Context, check_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="The spot-check id.")) -> None:
    """Show the rater's phone of a spot-check, to call them back (city operator only; audited).

    Example:

        haocha spotcheck contact 12
    """
    from haocha_cli.spotchecks import contact

    result = contact(state(ctx).context(), check_id)
    typer.echo(result["phone"])


@app.command("stats")
def stats_command(
    ctx: typer.Context,
    sample: int | None = SAMPLE,
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Pass rate per county: confirmed ÷ (confirmed + failed); unreachable and pending shown apart.

    A period selects the samples drawn within it. The last row is the whole city.

    Example:

        haocha spotcheck stats --period 2024-Q2
    """
    from haocha_cli.spotchecks import check_stats

    render(check_stats(state(ctx).context(), sample, chosen_period(period, start, end, default="none")), fmt)
