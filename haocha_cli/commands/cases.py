"""`haocha cases`: the rectification cases (整改事项) of bad reviews, worked by the counties, supervised by
the city. docs/workflow.md draws the states."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from haocha_cli.commands._common import FORMAT_OPTION, NUMBER_MAX, Format, render, say, state, write_json

app = typer.Typer(help="Rectification cases (整改事项): classify, revisit, close, re-rate, appeal; sheets; rates.",
                  no_args_is_help=True)

LIST_COLUMNS = ["id", "county", "window", "item", "level", "rated_at", "state", "状态", "real_name", "phone",
                "revisit_due", "revisit", "rectify_due", "workdays_left", "alert", "calendar_note", "post"]
# The terminal table keeps what a clerk scans for; CSV and JSON carry every column.
TABLE_COLUMNS = ["id", "window", "level", "rated_at", "状态", "phone", "revisit_due", "rectify_due",
                 "workdays_left", "alert", "post"]


class SheetFormat(StrEnum):
    xlsx = "xlsx"
    csv = "csv"


def _done(case: dict) -> None:
    from haocha_cli.cases import STATES

    say(f"case {case['id']}: now {case['state']} ({STATES[case['state']]})")


@app.command("list")
def list_(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="County code (a county operator sees its own only)."),
    status: str = typer.Option("open", "--status",
                               help="open (default), resolved, all, or states separated by commas."),
    overdue: bool = typer.Option(False, "--overdue", help="Only cases past a deadline (rectification or visit)."),
    due_before: str | None = typer.Option(None, "--due-before",
                                          help="Only cases whose rectification is due on or before this date."),
    post: str | None = typer.Option(None, "--post", help="Only cases with this responsible post (责任岗位)."),
    limit: int = typer.Option(100, "--limit", min=1, max=NUMBER_MAX,
                              help="List at most this many (the total is said on stderr)."),
    every: bool = typer.Option(False, "--all", help="List every matching case, however many."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List cases, earliest rectification deadline first, with working days left and the responsible post
    (责任岗位). Phones masked. The first 100 (--limit, --all); when the list is cut, how many match in all is
    said on stderr, so that CSV and JSON stay the list of cases.

    Example:

        haocha --operator county:370213 cases list --overdue --post 窗口受理岗
    """
    from haocha_cli.cases import list_cases_page

    c = state(ctx).context()
    page = list_cases_page(c, county, status, overdue, due_before, post=post, limit=None if every else limit)
    rows = page["rows"]
    render(rows, fmt, columns=TABLE_COLUMNS if fmt == Format.table else LIST_COLUMNS)
    if len(rows) < page["total"]:  # cut: how many there are in all (a whole list is its own count)
        say(f"{len(rows)} of {page['total']} case(s): the first {len(rows)}; --limit N or --all for more")
    if fmt == Format.table:  # deadlines in a year whose notice is not recorded: said under the table
        for note in dict.fromkeys(r["calendar_note"] for r in rows if r["calendar_note"]):
            say(note)


@app.command("show")
def show(ctx: typer.Context, case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
         fmt: Format = FORMAT_OPTION) -> None:
    """Show one case: its rating, deadlines, the actions allowed now and its history.

    Example:

        haocha cases show 12
    """
    from haocha_cli.cases import show_case

    data = show_case(state(ctx).context(), case_id)
    if fmt == Format.json:
        write_json(data)
        return
    fields = [{"field": k, "value": v} for k, v in data["case"].items()]
    fields += [{"field": f"rating.{k}", "value": v} for k, v in data["rating"].items()]
    fields.append({"field": "allowed", "value": ", ".join(data["allowed"]) or "(none)"})
    render(fields, fmt, columns=["field", "value"],
           title=f"整改事项 {case_id}" if fmt == Format.table else None)
    if fmt == Format.table:
        if data["standards"]:
            render(data["standards"], fmt, title="服务标准（服务标准清单）")
        if data["appeals"]:
            render(data["appeals"], fmt, title="申诉")
        render(data["history"], fmt, columns=["id", "at", "person", "operator", "action", "before", "after"],
               title="处理记录")


@app.command("classify")
def classify(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
    classification: str = typer.Argument(..., help="rectifiable (可整改), unrectifiable (无法整改) "
                                         "or no-action (无需整改, needs the city's approval)."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required for unrectifiable and no-action)."),
) -> None:
    """Classify a new case (county).

    Example:

        haocha --operator county:370213 cases classify 12 rectifiable --reason "窗口人员态度问题"
    """
    from haocha_cli.cases import classify as run

    _done(run(state(ctx).context(), case_id, classification, reason))


@app.command("approve")
def approve(ctx: typer.Context, case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
            note: str | None = typer.Option(None, "--note", help="A note kept with the approval.")) -> None:
    """Approve a no-action classification (无需整改) (city).

    Example:

        haocha --operator city cases approve 12 --note "已核实"
    """
    from haocha_cli.cases import approve as run

    _done(run(state(ctx).context(), case_id, note))


@app.command("reject")
def reject(ctx: typer.Context, case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
           reason: str = typer.Option(..., "--reason", help="Why the classification is not accepted.")) -> None:
    """Reject a no-action classification (city): the county classifies the case again.

    Example:

        haocha --operator city cases reject 12 --reason "评价反映的问题属实, 需整改"
    """
    from haocha_cli.cases import reject as run

    _done(run(state(ctx).context(), case_id, reason))


@app.command("reopen")
def reopen(ctx: typer.Context, case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
           reason: str = typer.Option(..., "--reason", help="Why the case is reopened (e.g. a failed spot-check).")) -> None:
    """Reopen a resolved case (city), e.g. after a failed spot-check (抽查不合格): a closed or re-rated
    case is rectified again with a new deadline; an unrectifiable or no-action case goes back to be
    classified again.

    Example:

        haocha --operator city cases reopen 12 --reason "抽查回访：整改措施未落实"
    """
    from haocha_cli.cases import reopen as run

    _done(run(state(ctx).context(), case_id, reason))


@app.command("revisit")
def revisit(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
    outcome: str = typer.Option(..., "--outcome", help="reached (已联系上) or unreachable (联系不上)."),
    note: str | None = typer.Option(None, "--note", help="What the rater said."),
) -> None:
    """Record the return visit (回访) of a real-name review (county).

    Example:

        haocha --operator county:370213 cases revisit 12 --outcome reached --note "已致歉, 说明整改安排"
    """
    from haocha_cli.cases import revisit as run

    _done(run(state(ctx).context(), case_id, outcome, note))


@app.command("contact")
def contact(ctx: typer.Context, case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number.")) -> None:
    """Show the rater's phone, to the owning county's operator only. The reading is recorded in the audit trail.

    Example:

        haocha --operator county:370213 cases contact 12
    """
    from haocha_cli.cases import contact as run

    c = state(ctx).context()
    result = run(c, case_id)
    typer.echo(result["phone"])
    say(f"phone of case {case_id} shown to {c.operator}; this is recorded in the audit trail")


@app.command("close")
def close(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
    measures: str = typer.Option(..., "--measures", help="The measures taken (整改措施)."),
    responsible: str = typer.Option(..., "--responsible", help="Who is responsible (责任人)."),
) -> None:
    """Close a rectifiable case with the measures taken (county). The rater then re-rates it.

    Example:

        haocha --operator county:370213 cases close 12 --measures "对窗口人员进行服务规范培训" --responsible 张三
    """
    from haocha_cli.cases import close as run

    case = run(state(ctx).context(), case_id, measures, responsible)
    _done(case)
    if not case["on_time"]:
        say(f"closed after the deadline {case['rectify_due']}")


@app.command("set-post")
def set_post(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
    post: str = typer.Option(..., "--post", help="The responsible post (责任岗位), one of the problem-responsibility list's."),
    reason: str = typer.Option(..., "--reason", help="Why the case goes to this post (kept in the audit trail)."),
    department: str | None = typer.Option(None, "--department",
                                          help="The department (责任部门); default: the list's for the post."),
) -> None:
    """Change the responsible post (责任岗位) of a case (the case's county, or the city), with a reason.
    A case opened for a bad review gets the post of the first problem ticked (问题责任清单, `org
    import-responsibility`); this corrects it. Recorded in the case's history.

    Example:

        haocha --operator county:370213 cases set-post 12 --post 窗口受理岗 --reason "问题出在受理环节"
    """
    from haocha_cli.cases import set_post as run

    case = run(state(ctx).context(), case_id, post, reason, department)
    say(f"case {case['id']}: responsible post now {case['post']}"
        + (f" ({case['department']})" if case["department"] else ""))


@app.command("rerate")
def rerate(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
    level: str = typer.Option(..., "--level", help="The rater's verdict: 满意, 基本满意 or 不满意 (reopens)."),
    caller: str | None = typer.Option(None, "--caller", help="Who called the rater, if not you (you are recorded "
                                                              "as who entered it)."),
) -> None:
    """Record the re-rating of the rectification (整改复评) that a real-name rater gave on the phone
    (电话回访); 不满意 reopens the case.

    An anonymous review cannot be re-rated so (nobody can be called): only the rater's own 追评 of the 办件,
    imported or from the rating page, re-rates it, by itself. The re-rating's source (电话回访, and who
    called) is kept on the case and in the audit trail.

    Example:

        haocha --operator county:370213 cases rerate 12 --level 满意 --caller 张三
    """
    from haocha_cli.cases import rerate as run

    case = run(state(ctx).context(), case_id, level, caller)
    _done(case)
    if case["state"] == "reopened":
        say(f"new rectification deadline: {case['rectify_due']}")


@app.command("appeal")
def appeal(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
    reason: str = typer.Option(..., "--reason", help="Why the review is mistaken or malicious."),
    evidence: str = typer.Option(..., "--evidence", help="The evidence (e.g. the recording's file name)."),
) -> None:
    """Appeal (申诉) a mistaken or malicious review (county); the city decides.

    Example:

        haocha --operator county:370213 cases appeal 12 --reason "评价人误操作" --evidence "回访录音 0125-01.mp3"
    """
    from haocha_cli.cases import appeal as run

    _done(run(state(ctx).context(), case_id, reason, evidence))


@app.command("decide")
def decide(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Case number."),
    uphold: bool | None = typer.Option(None, "--uphold/--dismiss", help="Uphold or dismiss the appeal."),
    reason: str = typer.Option(..., "--reason", help="The reason for the decision (kept)."),
) -> None:
    """Decide an appeal (city). Upheld: the rating is excluded from all figures and the case ends.
    Dismissed: the case returns to where it was.

    Example:

        haocha --operator city cases decide 12 --uphold --reason "录音证实为误评"
    """
    from haocha_cli.cases import decide as run

    if uphold is None:
        raise typer.BadParameter("say --uphold or --dismiss", param_hint="--uphold/--dismiss")
    case = run(state(ctx).context(), case_id, uphold, reason)
    _done(case)
    if uphold:
        say(f"rating {case['rating_id']} is excluded from the figures")


@app.command("export")
def export(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="County code (a county operator: its own)."),
    fmt: SheetFormat = typer.Option(SheetFormat.xlsx, "--format", "-f", help="xlsx or csv."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="File to write (default cases-<county>-<date>.<format>)."),
) -> None:
    """Write the county's open cases as a sheet to fill in (分类, 回访, 整改措施) and read back with `apply`.

    Example:

        haocha --operator county:370213 cases export --format xlsx -o lc-cases.xlsx
    """
    from haocha_cli.case_sheets import export_sheet
    from haocha_cli.clock import today

    c = state(ctx).context()
    county = c.county_scope(county, "see the cases")  # 李沧区 or 李沧 as well as 370213; a county its own
    if not county:
        raise typer.BadParameter("name the county, e.g. --county 370213", param_hint="--county")
    path = output or Path(f"cases-{county}-{today().isoformat()}.{fmt.value}")
    result = export_sheet(c, county, fmt.value, path)
    say(f"wrote {result['rows']} case(s) of county {county} to {result['path']}")


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The filled-in sheet (.xlsx or .csv)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Apply a filled-in sheet: each row checked like the single commands, all or nothing, with a report.

    Example:

        haocha --operator county:370213 cases apply lc-cases.xlsx
    """
    from haocha_cli.case_sheets import apply_sheet

    result = apply_sheet(state(ctx).context(), file)
    render(result["rows"], fmt, columns=["row", "case", "actions", "result", "reason"],
           data=result if fmt == Format.json else None)
    if result["ok"]:
        say(f"applied {result['actions']} action(s) on {result['applied_rows']} row(s)")
        return
    typer.echo(f"Error: {result['refused_rows']} row(s) refused; nothing was changed "
               "(fix the rows named and apply the file again)", err=True)
    raise typer.Exit(1)


STATS_COLUMNS = ["county", "name", "cases", "due", "closed", "closed_on_time", "overdue", "整改率", "按时整改率",
                 "real_name", "revisited", "实名差评回访率", "rerated", "rerate_satisfied", "复评满意率",
                 "rerated_followup", "追评复评满意率", "rerated_phone", "电话复评满意率",
                 "reopened", "appeals_filed", "appeals_upheld"]
# 复评满意率 by the re-rating's source: a table of its own on the terminal (the CSV has them in its row).
SOURCE_COLUMNS = ["rerated_followup", "追评复评满意率", "rerated_phone", "电话复评满意率"]


# The CSV's percentage columns (named in Chinese, the figures as printed) are these rates in the table.
_TABLE_KEYS = {"整改率": "rectify_rate", "按时整改率": "on_time_rate", "实名差评回访率": "revisit_rate",
               "复评满意率": "rerate_satisfaction", "追评复评满意率": "rerate_satisfaction_followup",
               "电话复评满意率": "rerate_satisfaction_phone"}


def _post_stats(rows: list[dict], fmt: Format) -> None:
    """`cases stats --by post`: the county columns become the post and its department."""
    columns = ["post", "department", *STATS_COLUMNS[2:]]
    if fmt == Format.table:
        render(rows, fmt, columns=[_TABLE_KEYS.get(c, c) for c in columns if c not in SOURCE_COLUMNS],
               kinds={"real_name": "auto"})
        return
    render([dict(r, **{name: _percent(r[key]) for name, key in _TABLE_KEYS.items()}) for r in rows], fmt,
           columns=columns)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@app.command("stats")
def stats(
    ctx: typer.Context,
    county: str | None = typer.Option(None, "--county", help="One county (a county operator: its own)."),
    date_from: str | None = typer.Option(None, "--from", help="First rating day (2025-01-01, 2025/1/1 or 2025年1月1日)."),
    date_to: str | None = typer.Option(None, "--to", help="Last rating day (2025-03-31, 2025/3/31 or 2025年3月31日)."),
    by: str = typer.Option("county", "--by", help="county (default) or post (责任岗位)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Closed-loop rates per county (or per responsible post, --by post) for the cases of bad reviews rated
    in the period, as of today: 整改率 = closed / due, 按时整改率 = closed on time / due, 实名差评回访率,
    复评满意率, appeals.

    Example:

        haocha cases stats --from 2025-01-01 --to 2025-03-31 --by post
    """
    from haocha_cli.cases import BY, case_stats

    if by not in BY:
        raise typer.BadParameter(f"{by!r} is not one of {', '.join(BY)}", param_hint="--by")
    rows = case_stats(state(ctx).context(), county, date_from, date_to, by)
    if fmt == Format.json:
        render(rows, fmt)
        return
    if by == "post":
        _post_stats(rows, fmt)
        return
    if fmt == Format.table:  # the rates as percentages, with Chinese headers (haocha_cli/labels.py)
        render(rows, fmt, columns=[_TABLE_KEYS.get(c, c) for c in STATS_COLUMNS if c not in SOURCE_COLUMNS],
               kinds={"real_name": "auto"})
        render(rows, fmt, columns=["county", "name", "rerated", *(_TABLE_KEYS.get(c, c) for c in SOURCE_COLUMNS)],
               title="整改复评（按来源：追评 = 评价人自己的追评，电话 = 实名评价人的电话回访）")
        return
    shown = [dict(r, **{name: _percent(r[key]) for name, key in _TABLE_KEYS.items()}) for r in rows]
    render(shown, fmt, columns=STATS_COLUMNS)
