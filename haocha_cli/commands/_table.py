"""The terminal table of ``render``: Chinese headers and readable values (haocha_cli/labels.py), laid out so
that the table fits the terminal without breaking a header, a number or a word.

Layout, the first that fits: every column as wide as its widest cell; else the widest columns narrowed
(their text wraps) down to what cannot break: the header, and the longest word of a cell (a number, a
date, a code, a level such as 非常不满意; a longer run, such as a comment in Chinese, breaks after
``LONGEST_WORD`` cells); else the same with the long headers on two lines at their break
(labels.header_lines); else the columns in consecutive groups that fit, one table each, each repeating the
row's key (the first column, and its name beside it). Only a terminal too narrow for a single column
folds what it must."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from haocha_cli import labels
from haocha_cli.untrusted import show_controls

LONGEST_WORD = 20
_WORD = re.compile(r"\S+")


def table_width() -> int | None:
    """The terminal's width (None: rich asks the terminal). Piped into a file or a mail, a table keeps its
    rows on one line at 200 columns instead of the default 80, or at COLUMNS when that is set."""
    if sys.stdout.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 20 else 200


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str | None, headers: dict[str, str],
                kinds: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def shown(key: str, value: Any) -> str:
        return show_controls(labels.shown(value, kinds.get(key) or labels.kind_of(key)))

    if columns == ["field", "value"]:  # a record: each field by its header, each value as its field's kind
        texts = [[show_controls(labels.header(str(r.get("field")))), shown(str(r.get("field")), r.get("value"))]
                 for r in rows]
    else:
        texts = [[shown(c, row.get(c)) for c in columns] for row in rows]
    one_line = [show_controls(headers.get(c) or labels.header(c)) for c in columns]
    two_lines = [show_controls(headers.get(c) or labels.header_lines(c)) for c in columns]
    console = Console(highlight=False, width=table_width())
    for n, (group, heads, widths) in enumerate(layout(columns, one_line, two_lines, texts, console.width)):
        # A title may name a file: Text, so that it is neither rich markup nor terminal controls.
        table = Table(title=Text(show_controls(title)) if title and n == 0 else None, show_lines=False,
                      title_justify="left")
        for i, head in enumerate(heads):
            table.add_column(Text(head), overflow="fold", width=widths[i] if widths else None)
        for cells in texts:
            # Text(), not str: a comment such as "[red]x[/red]" is data, not rich markup.
            table.add_row(*[Text(cells[i]) for i in group])
        console.print(table)


def layout(columns: list[str], one_line: list[str], two_lines: list[str], texts: list[list[str]],
           width: int) -> list[tuple[list[int], list[str], list[int | None] | None]]:
    """The tables to print: (the columns' indices, their headers, their widths or None for rich's own)."""
    everything = list(range(len(columns)))
    for heads in (one_line, two_lines):
        least, natural = _needs(heads, texts)
        widths = _fit(least, natural, width)
        if widths is not None:
            return [(everything, heads, widths)]
    keys = [0] + ([1] if len(columns) > 2 and (columns[1] == "name" or columns[1].endswith("_name")) else [])
    if len(columns) <= len(keys) + 1:
        return [(everything, two_lines, None)]
    groups, current = [], list(keys)
    for i in everything[len(keys):]:
        if len(current) > len(keys) and _room(width, len(current) + 1) < sum(least[j] for j in [*current, i]):
            groups.append(current)
            current = list(keys)
        current.append(i)
    groups.append(current)
    return [(g, [two_lines[j] for j in g], _fit([least[j] for j in g], [natural[j] for j in g], width))
            for g in groups]


def _room(width: int, n: int) -> int:
    return width - 3 * n - 1  # each column's padding (2) and border (1), and the last border


def _needs(heads: list[str], texts: list[list[str]]) -> tuple[list[int], list[int]]:
    """Each column's least width (its header, its longest word up to LONGEST_WORD) and natural width."""
    from rich.cells import cell_len

    least, natural = [], []
    for i, head in enumerate(heads):
        head_width = max(cell_len(line) for line in head.split("\n"))
        lines = [line for cells in texts for line in cells[i].split("\n")]
        word = max((cell_len(w) for line in lines for w in _WORD.findall(line)), default=0)
        least.append(max(head_width, min(word, LONGEST_WORD)))
        natural.append(max([head_width, *(cell_len(line) for line in lines)]))
    return least, natural


def _fit(least: list[int], natural: list[int], width: int) -> list[int | None] | None:
    """Widths that fit ``width``, the widest columns giving way first; None when even the least do not fit,
    a list of None when the natural widths fit."""
    room = _room(width, len(least))
    if sum(natural) <= room:
        return [None] * len(least)
    if sum(least) > room:
        return None
    low, high = 0, max(natural)  # the largest cap on a column's width that fits
    while low < high:
        cap = (low + high + 1) // 2
        if sum(max(m, min(n, cap)) for m, n in zip(least, natural, strict=True)) <= room:
            low = cap
        else:
            high = cap - 1
    return [max(m, min(n, low)) for m, n in zip(least, natural, strict=True)]
