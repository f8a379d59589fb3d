"""`haocha index`, `rank`, `benchmark`, `compare`: the figures, from the daily aggregates."""

from __future__ import annotations

import typer

from haocha_cli import labels
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


def _json(data) -> None:
    write_json(data)


_UNITS = {"county": "县级局", "window": "窗口", "staff": "窗口工作人员"}


def _heading(data, what: str) -> None:
    say(f"{what} · {data['period']['label']}（{data['period']['from']} 至 {data['period']['to']}）· "
        f"指标体系 {data['weights_version']}")
    if data.get("note"):
        say(data["note"])


def register(app: typer.Typer) -> None:
    app.command("index")(index_command)
    app.command("rank")(rank_command)
    app.command("benchmark")(benchmark_command)
    app.command("compare")(compare_command)


def index_command(
    ctx: typer.Context,
    by: list[str] = typer.Option(["city"], "--by", help="city, county, window, item, channel, mode, indicator, "
                                 "day, week or month; repeat to combine (--by county --by month); or staff "
                                 "alone (the city's)."),
    county: str | None = typer.Option(None, "--county", help="Only this county."),
    window: str | None = typer.Option(None, "--window", help="Only this window."),
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Satisfaction index (满意指数), 好评率, 差评率, 基本满意 share, N and excluded N per group.

    The period defaults to the current month. Per-indicator means (with their own N) are in the JSON
    and CSV output; `--by indicator` lists them as rows. A county operator sees its own county's figures.

    Each row has its services (办件量, from `haocha volumes import`) and the rating rate (主动评价率 = N ÷
    services; JSON key rating_rate), by county, window, item, day, week or month (not by channel, mode or
    indicator: volumes have none); a group with services and no rating is a row with N = 0.

    `--by staff` lists the members of window staff (窗口工作人员) named on the ratings, the city's only: with
    fewer than window_staff.min_n ratings (default 30) a member's figures are not shown (–).

    Example:

        haocha index --by county --by month --period 2024-Q2
    """
    from haocha_cli.indices import index_for

    c = state(ctx).context()
    data = index_for(c, chosen_period(period, start, end), by, county, window)
    if fmt == Format.json:
        _json(data)
        return
    rows = data["rows"]
    if fmt == Format.csv:
        codes = sorted({code for r in rows for code in r.get("indicators", {})})
        rows = [{**{k: v for k, v in r.items() if k != "indicators"},
                 **{f"{code}_{part}": r.get("indicators", {}).get(code, {}).get(part) for code in codes
                    for part in ("mean", "n")}} for r in rows]
    else:
        # 办件量 and 主动评价率 only where service volumes were imported (`haocha volumes import`)
        hidden = {"indicators"} | ({"services", "rating_rate"} if not any(r.get("services") for r in rows) else set())
        rows = [{k: v for k, v in r.items() if k not in hidden} for r in rows]
        _heading(data, "满意指数")
        if data["by"] == ["staff"]:
            say(f"窗口工作人员：评价数少于 {data['min_n']} 条的不显示满意指数与好差评率（–）")
    render(rows, fmt)


def rank_command(
    ctx: typer.Context,
    by: str = typer.Option("county", "--by", help="county, window or staff (window staff: the city's)."),
    county: str | None = typer.Option(None, "--county", help="Only this county's windows."),
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Rank counties or windows by the small-sample-shrunk score, with the raw index, N and the change
    against the previous period of the same length. Units with no ratings are listed last.

    The ranking of the counties by name is the city's to publish: a county operator sees its own row with
    its rank number among the counties (and how many were ranked), and ranks its own windows.

    `--by staff` ranks the members of window staff (窗口工作人员) with at least window_staff.min_n ratings
    (default 30); the others are listed after them without figures (–). The city's only.

    Example:

        haocha rank --by county --period 2024-05
    """
    from haocha_cli.indices import rank_for

    c = state(ctx).context()
    data = rank_for(c, chosen_period(period, start, end), by, county)
    if fmt == Format.json:
        _json(data)
        return
    if fmt == Format.table:
        _heading(data, f"按{_UNITS.get(by, by)}排名")
        mu, w = labels.decimals(data["mu"], 1), labels.decimals(data["w"])
        basis = ("配置值 ranking.shrink_weight" if data["w_basis"] == "configured"
                 else f"有评价的 {data['rated_units']} 个{_UNITS.get(by, by)}的平均评价数")
        say(f"收缩得分 = (W·μ + N·满意指数) ÷ (W + N)：μ = {mu}，W = {w}（{basis}）；"
            f"较上期：与 {data['previous_period']['label']} 比较；{data['ranked']} 个参与排名")
        if by == "staff":
            say(f"评价数少于 {data['min_n']} 条的窗口工作人员不参与排名，不显示得分（–）")
    render(data["rows"], fmt, columns=["rank", by, "name", "n", "index", "shrunk", "good_rate", "previous_index",
                                       "change", "excluded_n"])


def benchmark_command(
    ctx: typer.Context,
    period: str | None = PERIOD_OPTION,
    start: str | None = FROM_OPTION,
    end: str | None = TO_OPTION,
    min_n: int = typer.Option(30, "--min-n", min=1, max=NUMBER_MAX, help="Scores a county needs on an indicator to be its benchmark."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Benchmarking (对标): each county's gap to the best county (标杆) and to the city mean, per indicator,
    and each county's three weakest indicators. A county operator sees its own rows and gaps, not which
    county is the best.

    Example:

        haocha benchmark --period 2024-Q2
    """
    from haocha_cli.indices import benchmark_for

    c = state(ctx).context()
    data = benchmark_for(c, chosen_period(period, start, end), min_n)
    if fmt == Format.json:
        _json(data)
        return
    if fmt == Format.table:
        # the note of indicators without a benchmark is said in Chinese below
        _heading(data if not data["indicators"] else {**data, "note": None}, "对标")
        if data["indicators"]:
            say(f"标杆：该指标评分数 N ≥ {data['min_n']} 的县级局中满意指数最高者；没有县级局达到的指标无标杆")
            missing = [i["indicator"] for i in data["indicators"] if not i["reached"]]
            if missing:
                say(f"{len(missing)} 项指标没有县级局达到 N ≥ {data['min_n']}，无标杆：{', '.join(missing)}")
            render(data["indicators"], fmt, title=f"各指标达到 N ≥ {data['min_n']} 的县级局数与标杆")
    render(data["rows"], fmt)
    if fmt == Format.table:
        render([{"county": k, "weakest": ", ".join(v)} for k, v in data["weakest"].items()], fmt,
               title="最弱的三项指标")


def compare_command(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="The pilot county, e.g. 370213 (default: pilot.county "
                                                              "of the configuration)."),
    before: str | None = typer.Option(None, "--before", help="Baseline dates D..D, or a period such as 2024-03 "
                                                             "(default: pilot.before)."),
    after: str | None = typer.Option(None, "--after", help="Pilot dates D..D, or a period such as 2024-06 "
                                                           "(default: pilot.after)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Judge a pilot: change in index and 好评率 with 95 % confidence intervals and p-values, the same for
    the other counties as control, and the difference in differences. The city's judgement (a county
    operator is refused: the control group is the other counties).

    Example:

        haocha compare --county 370213 --before 2024-01-01..2024-03-31 --after 2024-04-01..2024-06-30

    With [pilot] county, before and after in haocha.toml, `haocha compare` alone judges that pilot.
    """
    from haocha_cli.indices import compare_for

    data = compare_for(state(ctx).context(), county, before, after)
    if fmt == Format.json:
        _json(data)
        return
    table = fmt == Format.table
    rows = []
    for key, label, shown in (("pilot_index", "pilot index", "试点县 满意指数"),
                              ("control_index", "control index", "对照（其他县级局） 满意指数"),
                              ("did_index", "index: difference in differences", "满意指数 双重差分"),
                              ("pilot_good_rate", "pilot 好评率", "试点县 好评率（百分点）"),
                              ("control_good_rate", "control 好评率", "对照（其他县级局） 好评率（百分点）"),
                              ("did_good_rate", "好评率: difference in differences", "好评率 双重差分（百分点）")):
        r = data[key]
        row = {"comparison": shown if table else label, "change": r["diff"], "ci_low": r["ci_low"],
               "ci_high": r["ci_high"], "p_value": r["p_value"], "note": r.get("reason")}
        if table:  # a change of the index in its points, a change of 好评率 in percentage points
            for part in ("change", "ci_low", "ci_high"):
                value = row[part]
                row[part] = (labels.NO_FIGURE if value is None else labels.points(value) if "rate" in key
                             else labels.shown(value, "change"))
        rows.append(row)
    if table:
        g = data["groups"]
        say(f"试点 {data['county']}：试点前 N = {g['pilot_before']['n']}，试点后 N = {g['pilot_after']['n']}；"
            f"对照（其他县级局）：试点前 N = {g['control_before']['n']}，试点后 N = {g['control_after']['n']}；"
            f"指标体系 {data['weights_version']}")
    render(rows, fmt, headers={"change": "变化"})
