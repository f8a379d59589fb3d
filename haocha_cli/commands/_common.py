"""What every command shares: the global options, output formats and messages on stderr."""

from __future__ import annotations

import csv
import json
import os
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


# The largest integer SQLite stores: a case, batch or check number beyond it is refused as a usage error.
NUMBER_MAX = 2**63 - 1
FORMAT_OPTION = typer.Option(Format.table, "--format", "-f", help="Output format: table, json or csv.")
PERIOD_OPTION = typer.Option(None, "--period", help="A month 2024-05 (2024/5, 2024年5月), quarter 2024-Q2, year 2024"
                                                    " or day 2024-05-06 (2024/5/6, 2024年5月6日).")
FROM_OPTION = typer.Option(None, "--from", help="First day (2024-05-06, 2024/5/6 or 2024年5月6日), with --to.")
TO_OPTION = typer.Option(None, "--to", help="Last day (2024-05-31, 2024/5/31 or 2024年5月31日), with --from.")


def chosen_period(period: str | None, start: str | None, end: str | None, *, default: str = "month"):
    """The period of --period or --from/--to. When none is given: ``month`` = the current month,
    ``none`` = None (all periods), ``required`` = an error."""
    from haocha_cli.clock import today
    from haocha_cli.periods import parse_period, resolve

    if period or start or end or default == "required":
        return resolve(period, start, end)
    return parse_period(today().strftime("%Y-%m")) if default == "month" else None


@dataclass
class State:
    db_path: Path
    operator: str
    config_path: Path | None
    opened: list = field(default_factory=list)

    def context(self, *, create: bool = False):
        from haocha_cli.context import open_context

        ctx = open_context(self.db_path, self.operator, self.config_path, create=create)
        self.opened.append(ctx.db)
        return ctx

    def close(self) -> None:
        """Close the connections the command opened (SQLite checkpoints the WAL as the last one closes)."""
        while self.opened:
            self.opened.pop().close()


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if root.obj is None:  # a sub-app invoked on its own in a test
        root.obj = State(Path(os.environ.get("HAOCHA_DB", "haocha.db")), os.environ.get("HAOCHA_OPERATOR", "admin"), None)
        root.call_on_close(root.obj.close)
    return root.obj


def say(message: str) -> None:
    """A message for the person at the terminal: stderr, so stdout stays data."""
    from rich.console import Console

    from haocha_cli.untrusted import show_controls

    # A message may quote outside text (a file, window or source name): its control characters are shown.
    Console(stderr=True, highlight=False, soft_wrap=True).print(show_controls(message), markup=False)


def _cell(value: Any) -> str:
    """A value as a table or CSV cell; text from outside with its control characters shown, never run."""
    from haocha_cli.untrusted import show_controls

    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "NaN"
    if isinstance(value, (list, dict)):
        return show_controls(json.dumps(value, ensure_ascii=False))
    return show_controls(value)


def write_json(data: Any) -> None:
    """JSON to stdout: the values exact, and no raw control or bidi character (untrusted.dumps)."""
    from haocha_cli.untrusted import dumps

    sys.stdout.write(dumps(data, indent=2, default=str) + "\n")


def render(rows: list[dict[str, Any]], fmt: Format, *, columns: list[str] | None = None,
           title: str | None = None, data: Any = None, headers: dict[str, str] | None = None,
           kinds: dict[str, str] | None = None) -> None:
    """Rows to stdout as a table, JSON or CSV. ``data`` (if given) is what JSON prints instead of rows.

    JSON and CSV carry the keys and values as they are. The table is the bureau's: Chinese headers and values
    as a clerk reads them (haocha_cli/labels.py); ``headers`` and ``kinds`` override a key's header and kind of
    value there, for a key that means something of its own in one command. Rows of ``field`` and ``value``
    are a record: each field by its header, each value as its field's kind."""
    columns = columns or (list(rows[0]) if rows else [])
    if fmt == Format.json:
        write_json(rows if data is None else data)
        return
    if fmt == Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([_cell(c) for c in columns])
        for row in rows:
            writer.writerow([_csv_safe(_cell(row.get(c))) for c in columns])
        return
    from haocha_cli.commands._table import print_table

    print_table(rows, columns, title, headers or {}, kinds or {})
    if not rows:
        say("(no rows)")


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheet programs; a leading ' keeps it text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
