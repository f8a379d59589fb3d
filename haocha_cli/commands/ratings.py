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
            with _progress(path) as tick:
                result = import_file(c, path, profile=loaded, level_scale=level_scale, encoding=encoding,
                                     source=source, dry_run=dry_run, progress=tick)
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
        _notify(c)
    if failed:
        raise typer.Exit(1)


def _notify(c) -> None:
    """Tell the counties of their new cases, after the import's commit (docs/notifications.md). What cannot
    be sent now stays in the outbox for `haocha notify send`: a warning, never a failed import."""
    from haocha_cli import notify

    try:
        delivery = notify.deliver_pending(c, budget_seconds=notify.IMPORT_BUDGET_SECONDS)
    except Exception as exc:  # the import is committed: nothing here may fail it
        say(f"warning: notifications were not sent now ({type(exc).__name__}: {exc}); they will be retried by"
            " haocha notify send")
        return
    warning = delivery.warning()
    if warning:
        say(warning)


class _progress:  # noqa: N801 - used as a function in a with statement
    """A rich progress bar on stderr while a large file is read, when stderr is a terminal."""

    def __init__(self, path: Path):
        self.bar = None
        try:
            big = path.stat().st_size >= PROGRESS_MIN_BYTES
        except OSError:
            big = False
        if big and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task(path.name, total=path.stat().st_size)

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.start()
        return self.tick

    def tick(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_summary(result: dict, fmt: Format) -> None:
    if result["status"] == "already imported":
        say(result["message"])
        return
    rows = [{"field": k, "value": result[k]} for k in (
        "file", "batch", "status", "format", "encoding", "profile", "source", "level_scale", "rows_read",
        "accepted", "duplicate", "rejected", "cases_opened", "flags_raised", "qr_tokens_not_verified")]
    if result["levels_by_code"]:
        rows.insert(8, {"field": "levels_by_code", "value": result["levels_by_code"]})
    if result["ignored_columns"]:
        rows.append({"field": "ignored_columns", "value": ", ".join(result["ignored_columns"])})
    render(rows, fmt, title=f"import of {result['file']}")
    if result["reasons"]:
        render([{"reason": k, "rows": v} for k, v in result["reasons"].items()], fmt, title="rejected rows by reason")
        render(result["first_rejects"], fmt, columns=["line", "code", "reason"],
               title=f"the first {len(result['first_rejects'])} rejected rows")
        if fmt == Format.table and result["batch"]:
            say(f"the rejected rows: haocha batches rejects {result['batch']} --out rejects.csv")


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
    render(fields, fmt, title=f"batch {batch}")
    if data["reasons"]:
        render(data["reasons"], fmt, title="rejected rows by reason")


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
    render(rows, fmt, columns=["line", "code", "reason", "row"])
