"""`haocha risk`: the FMEA register (潜在失效模式与后果分析) and the counties' risk levels."""

from __future__ import annotations

import typer

from haocha_cli.commands._common import FORMAT_OPTION, Format, chosen_period, render, say, state, write_json

app = typer.Typer(help="The FMEA risk register and the counties' risk levels (市、县两级分级管控).",
                  no_args_is_help=True)

_COLUMNS = ["code", "failure_mode", "severity", "occurrence", "detection", "rpn", "ap", "measure"]
SEVERITY = typer.Option(None, "--severity", "-s", help="Severity 1–10 (10 = worst effect).")
OCCURRENCE = typer.Option(None, "--occurrence", "-o", help="Occurrence 1–10 (10 = most frequent).")
DETECTION = typer.Option(None, "--detection", "-d", help="Detection 1–10 (10 = hardest to detect).")
MEASURE = typer.Option(None, "--measure", help="The rate `risk assess` derives Occurrence from: overdue, "
                       "failed_checks, flags, revisit_missed, or none.")


@app.command("list")
def list_command(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """The register: failure modes with S, O, D, RPN = S×O×D and action priority (AP, H/M/L).

    The first use loads the default register (the risks the Qingdao paper names). Effect, cause and
    controls are in the JSON and CSV output.

    Example:

        haocha risk list --format csv
    """
    from haocha_cli.fmea import list_risks

    rows = list_risks(state(ctx).context())
    render(rows, fmt, columns=None if fmt != Format.table else _COLUMNS)


@app.command("add")
def add_command(
    ctx: typer.Context,
    step: str = typer.Option(..., "--step", help="Process step, e.g. 评价采集, 分类处理, 整改提升, 回访."),
    failure_mode: str = typer.Option(..., "--failure-mode", help="The failure mode (失效模式)."),
    effect: str = typer.Option(..., "--effect", help="Its effect."),
    cause: str = typer.Option(..., "--cause", help="Its cause."),
    controls: str = typer.Option(..., "--controls", help="Current prevention and detection controls."),
    severity: int = typer.Option(..., "--severity", "-s", help="Severity 1–10."),
    occurrence: int = typer.Option(..., "--occurrence", "-o", help="Occurrence 1–10."),
    detection: int = typer.Option(..., "--detection", "-d", help="Detection 1–10."),
    measure: str | None = MEASURE,
    code: str | None = typer.Option(None, "--code", help="Code (default: the next R-number)."),
) -> None:
    """Add a failure mode to the register (city operator only).

    Example:

        haocha risk add --step 评价采集 --failure-mode 二维码被替换 --effect "ratings go elsewhere" \\
            --cause "a forged QR sticker" --controls "signed tokens" -s 6 -o 2 -d 4 --measure flags
    """
    from haocha_cli.fmea import add_risk

    row = add_risk(state(ctx).context(), {
        "code": code, "step": step, "failure_mode": failure_mode, "effect": effect, "cause": cause,
        "controls": controls, "severity": severity, "occurrence": occurrence, "detection": detection,
        "measure": measure})
    say(f"added {row['code']}: RPN {row['rpn']}, AP {row['ap']}")


@app.command("set")
def set_command(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="The risk code, e.g. R03."),
    severity: int | None = SEVERITY,
    occurrence: int | None = OCCURRENCE,
    detection: int | None = DETECTION,
    step: str | None = typer.Option(None, "--step", help="Process step."),
    failure_mode: str | None = typer.Option(None, "--failure-mode", help="The failure mode."),
    effect: str | None = typer.Option(None, "--effect", help="Its effect."),
    cause: str | None = typer.Option(None, "--cause", help="Its cause."),
    controls: str | None = typer.Option(None, "--controls", help="Current controls."),
    measure: str | None = MEASURE,
) -> None:
    """Change a failure mode of the register (city operator only), e.g. after improving a control.

    Example:

        haocha risk set R03 --detection 2 --controls "daily overdue list sent to each county head"
    """
    from haocha_cli.fmea import set_risk

    values = {"severity": severity, "occurrence": occurrence, "detection": detection, "step": step,
              "failure_mode": failure_mode, "effect": effect, "cause": cause, "controls": controls,
              "measure": measure}
    row = set_risk(state(ctx).context(), code, values)
    if not row["changed"]:
        say(f"{code}: nothing changed")
        return
    say(f"{code}: changed {', '.join(row['changed'])}; now S {row['severity']} O {row['occurrence']} "
        f"D {row['detection']}, RPN {row['rpn']}, AP {row['ap']}")


@app.command("assess")
def assess_command(
    ctx: typer.Context,
    period: str | None = typer.Option(None, "--period", help="A month 2024-05, quarter 2024-Q2, year or day."),
    start: str | None = typer.Option(None, "--from", help="First day (2024-05-01, 2024/5/1 or 2024年5月1日), with --to."),
    end: str | None = typer.Option(None, "--to", help="Last day (2024-05-31, 2024/5/31 or 2024年5月31日), with --from."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the assessment; leave the risk levels alone."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Assess each county: Occurrence from its measured rates, S/O/D/RPN/AP per failure mode, and its
    risk level (high / medium / low), which sets the share of closed cases the next spot-check samples.

    Setting the levels is the city's; with --dry-run (which writes nothing) a county operator sees its own
    county's assessment. The table lists every county and failure mode; the levels follow on stderr. JSON
    holds both.

    Example:

        haocha risk assess --period 2024-05
    """
    from haocha_cli.fmea import assess

    c = state(ctx).context()
    data = assess(c, chosen_period(period, start, end, default="required"), apply=not dry_run)
    if fmt == Format.json:
        write_json(data)
        return
    rows = data["rows"]
    if fmt == Format.table:  # every measured rate as a share: flags are counted per 100 ratings
        rows = [dict(r, rate=r["rate"] / 100) if r["measure"] == "flags" and r["rate"] is not None else r
                for r in rows]
    render(rows, fmt, columns=["county", "name", "risk", "failure_mode", "measure", "rate", "o_from",
                               "S", "O", "D", "RPN", "AP"])
    if fmt == Format.table:
        say(f"risk assessment {data['period']['label']} ({data['ap_table']})")
        for county in data["counties"]:
            moved = "" if county["level"] == county["level_before"] else f" (was {county['level_before']})"
            say(f"{county['county']} {county['name']}: H {county['H']}, M {county['M']}, L {county['L']} → "
                f"{county['level']}{moved}, closed cases sampled at {county['closed_rate']:.0%}")
        if data["applied"]:
            say("risk levels set; the next `haocha spotcheck sample` uses them")
        else:
            say("dry run: risk levels not changed")
