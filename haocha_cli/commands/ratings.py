"""`haocha import` (rating files, one batch each) and `haocha batches` (what was imported, and the rejects)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from haocha_cli.commands._common import FORMAT_OPTION, NUMBER_MAX, Format, render, say, state, write_json

batches_app = typer.Typer(help="Imported batches and their rejected rows.", no_args_is_help=True)

# A progress bar only for files large enough to take a while, and only on a terminal.
PROGRESS_MIN_BYTES = 4 << 20


def import_command(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Rating files: CSV, JSON Lines, JSON array or .xlsx."),
    profile: str | None = typer.Option(None, "--profile", help="A shipped profile (canonical, platform) or a profile TOML file."),
    level_scale: str | None = typer.Option(None, "--level-scale",
                                           help="How numeric level codes read: national (GB/T 39046, 1 = 非常满意) "
                                                "or platform (5 = 非常满意). Without it only level names are accepted."),
    encoding: str | None = typer.Option(None, "--encoding", help="Text encoding of CSV/JSON files (default: detected)."),
    source: str | None = typer.Option(None, "--source", help="The source system whose rating ids these are "
                                                             "(default: the profile's)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count everything, write nothing."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Import rating files; each file is one batch, all or nothing.

    Every row is accepted, a duplicate (its rating id was imported before) or rejected with a reason;
    rejected rows are kept (`haocha batches rejects N`). The same file again adds nothing. docs/import.md
    lists the columns, the profiles and every rejection reason.

    Example:

        haocha import 2024-05-window-devices.csv ratings-platform.xlsx --profile platform
    """
    from haocha_cli.errors import HaochaError
    from haocha_cli.importer import import_file
    from haocha_cli.profiles import load_profile
    from haocha_cli.readers import check_encoding

    c = state(ctx).context()
    c.require_keys()  # a bad key file is one error for the whole command, not one per file
    # So are a bad --profile and --encoding: checked once, before any file is read.
    loaded = load_profile(profile)
    if encoding:
        check_encoding(encoding)
    results = []
    failed = False
    for path in files:
        try:
            with _Phases(path.name, _big(path)) as phases:
                result = import_file(c, path, profile=loaded, level_scale=level_scale, encoding=encoding,
                                     source=source, dry_run=dry_run, progress=phases)
        except HaochaError as exc:
            from haocha_cli.untrusted import show_controls

            line = f"Error: {path.name}: {exc}" if path.name not in exc.message else f"Error: {exc}"
            typer.echo(show_controls(line), err=True)  # a file name is outside text: shown, never run
            failed = True
            continue
        results.append(result)
        if fmt != Format.json:
            _print_summary(result, fmt)
    if fmt == Format.json:
        write_json(results)
    if not dry_run and any(r.get("cases_opened") for r in results):
        _notify(c, shown=any(_big(path) for path in files))
    if failed:
        raise typer.Exit(1)


def _notify(c, *, shown: bool) -> None:
    """Tell the counties of their new cases, after the import's commit (docs/notifications.md). What cannot
    be sent now stays in the outbox for `haocha notify send`: a warning, never a failed import."""
    from haocha_cli import notify

    try:
        with _Phases(None, shown) as phases:
            delivery = notify.deliver_pending(
                c, budget_seconds=notify.IMPORT_BUDGET_SECONDS,
                progress=(lambda done, total: phases("notify", done, total)) if phases else None)
    except Exception as exc:  # the import is committed: nothing here may fail it
        say(f"warning: notifications were not sent now ({type(exc).__name__}: {exc}); they will be retried by"
            " haocha notify send")
        return
    warning = delivery.warning()
    if warning:
        say(warning)


# What each phase is called on the bar (the bureau's word, then the English), and what it counts.
PHASE_LABELS = {"read": "读取 reading", "cases": "开案 opening cases", "flags": "可疑评价扫描 scanning flags",
                "write": "写入 writing", "notify": "通知 notifications"}
_PHASE_UNITS = {"cases": "件", "flags": "天", "notify": "个单位"}


class _Phases:
    """A rich progress bar on stderr, one line per phase (docs/import.md): the bytes read, then each phase
    after the last byte with its own count, so that a long import never sits at 100 % without a word.
    Drawn only on a terminal (never for cron or a pipe) and only when ``shown``; cleared when done."""

    def __init__(self, title: str | None, shown: bool, console=None):
        from haocha_cli.untrusted import show_controls

        self.title = show_controls(title) if title else None  # a file name is outside text: shown, never run
        self.bar, self.task, self.current = None, None, None
        self.shown = shown and (console is not None or sys.stderr.isatty())
        self.console = console

    def __enter__(self):
        return self.phase if self.shown else None

    def phase(self, name: str, done: int, total: int | None) -> None:
        """The callback of the core: ``(phase, done, total)``, total None when the phase cannot count."""
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                                TextColumn("{task.fields[count]}", markup=False),
                                TimeRemainingColumn(elapsed_when_finished=True),
                                console=self.console or Console(stderr=True), transient=True)
            self.bar.start()
        if name != self.current:
            if self.task is not None:  # the phase before is over: its line stays, full, until the end
                previous = self.bar.tasks[-1]
                self.bar.update(self.task, total=previous.total or 1, completed=previous.total or 1)
            self.current = name
            label = PHASE_LABELS.get(name, name)
            self.task = self.bar.add_task(f"{self.title} · {label}" if self.title else label, total=total,
                                          completed=done, count=_count(name, done, total))
        else:
            self.bar.update(self.task, total=total, completed=done, count=_count(name, done, total))

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _count(phase: str, done: int, total: int | None) -> str:
    if total is None:
        return ""
    if phase == "read":
        scale, unit = (1e6, "MB") if total >= 1e6 else (1e3, "kB")
        return f"{done / scale:.1f}/{total / scale:.1f} {unit}"
    return f"{done:,}/{total:,} {_PHASE_UNITS.get(phase, '')}".rstrip()


def _big(path: Path) -> bool:
    """A file large enough to take a while (a bar for a small one would only flicker)."""
    try:
        return path.stat().st_size >= PROGRESS_MIN_BYTES
    except OSError:
        return False


def _print_summary(result: dict, fmt: Format) -> None:
    if result["status"] == "already imported":
        say(result["message"])
        return
    rows = [{"field": k, "value": result[k]} for k in (
        "file", "batch", "status", "format", "encoding", "profile", "source", "level_scale", "rows_read",
        "accepted", "duplicate", "rejected", "cases_opened", "flags_raised", "qr_tokens_not_verified")]
    if result["levels_by_code"]:
        rows.insert(8, {"field": "levels_by_code", "value": result["levels_by_code"]})
    if result.get("cases_rerated"):  # cases re-rated by the raters' 追评 (整改复评)
        rows.insert(rows.index(next(r for r in rows if r["field"] == "cases_opened")) + 1,
                    {"field": "cases_rerated", "value": result["cases_rerated"]})
    if result.get("qr_tokens_old"):  # old stickers, in the grace period after `qr rotate` (flagged old_token)
        rows.append({"field": "qr_tokens_old", "value": result["qr_tokens_old"]})
    if result.get("rejects_restored"):  # rows of a fixed rejects file that had their masked cells given back
        rows.append({"field": "rejects_restored", "value": result["rejects_restored"]})
    if result["ignored_columns"]:
        rows.append({"field": "ignored_columns", "value": ", ".join(result["ignored_columns"])})
    render(rows, fmt, title=f"导入 {result['file']}")
    if result["reasons"]:
        render([{"reason": k, "rows": v} for k, v in result["reasons"].items()], fmt, title="拒收行（按原因）",
               headers=_REASON_CODE)
        render(result["first_rejects"], fmt, columns=["line", "code", "reason"], headers=_REJECT_CODE,
               title=f"前 {len(result['first_rejects'])} 条拒收行")
        if fmt == Format.table and result["batch"]:
            say(f"the rejected rows: haocha batches rejects {result['batch']} --out rejects.csv")


# In the tables of rejected rows, a code is the reason's code (docs/import.md) and the reason its words.
_REJECT_CODE = {"code": "原因代码", "reason": "说明"}
_REASON_CODE = {"reason": "原因代码"}


@batches_app.command("list")
def list_command(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """List the imported batches with their counts (city: a batch mixes the counties' ratings).

    Example:

        haocha batches list
    """
    from haocha_cli.importer import list_batches

    render(list_batches(state(ctx).context()), fmt)


@batches_app.command("withdraw")
def withdraw_command(
    ctx: typer.Context,
    batch: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Batch number."),
    reason: str = typer.Option(..., "--reason", help="Why (kept with the batch and in the audit trail)."),
) -> None:
    """Withdraw a batch imported by mistake (撤回批次, city): its ratings, their aggregates, the cases they
    opened and their flags go, as if it had never been imported; the batch stays listed as withdrawn, and
    the right file can then be imported. Refused once a county has worked one of its cases, or its ratings
    are excluded or in a spot-check sample.

    Example:

        haocha batches withdraw 7 --reason "导入了测试文件"
    """
    from haocha_cli.batches import withdraw_batch

    result = withdraw_batch(state(ctx).context(), batch, reason)
    say(f"batch {result['batch']} ({result['file']}) withdrawn: {result['ratings']} ratings, {result['cases']} cases"
        f" and {result['flags']} flags removed; the file can be imported again")


@batches_app.command("show")
def show_command(ctx: typer.Context, batch: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Batch number."),
                 fmt: Format = FORMAT_OPTION) -> None:
    """Show one batch: file, SHA-256, profile, scale, counts, ignored columns, rejects by reason (city).

    Example:

        haocha batches show 3
    """
    from haocha_cli.importer import show_batch

    data = show_batch(state(ctx).context(), batch)
    if fmt == Format.json:
        write_json(data)
        return
    fields = [{"field": k, "value": v} for k, v in data.items() if k not in ("reasons", "header")]
    render(fields, fmt, title=f"批次 {batch}")
    if data["reasons"]:
        render(data["reasons"], fmt, title="拒收行（按原因）", headers=_REJECT_CODE)


@batches_app.command("rejects")
def rejects_command(
    ctx: typer.Context,
    batch: int = typer.Argument(..., min=1, max=NUMBER_MAX, help="Batch number."),
    out: Path | None = typer.Option(None, "--out", help="Write the rows to this file (.csv or .jsonl), ready to "
                                                        "be fixed and imported again."),
    reveal_phones: bool = typer.Option(False, "--reveal-phones",
                                       help="Write raters' phone numbers in full (city operator; audited)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """The rejected rows of a batch as they were, with the reason; phones masked unless revealed (city).

    Example:

        haocha batches rejects 3 --out rejects-3.csv
    """
    from haocha_cli.importer import batch_rejects, write_rejects

    c = state(ctx).context()
    if out is not None:
        count = write_rejects(c, batch, out, reveal_phones=reveal_phones)
        say(f"wrote {count} rejected rows of batch {batch} to {out}")
        return
    data = batch_rejects(c, batch, reveal_phones=reveal_phones)
    rows = [{"line": r["line"], "code": r["code"], "reason": r["reason"],
             "row": r.get("cells", r.get("object", r.get("text")))} for r in data["rows"]]
    if fmt == Format.json:
        write_json(data)
        return
    render(rows, fmt, columns=["line", "code", "reason", "row"], headers=_REJECT_CODE)
