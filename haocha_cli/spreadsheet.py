"""Cells for files that people open in a spreadsheet program: text stays text.

A CSV cell starting with = + - @ (or a tab or carriage return) is run as a formula by Excel and LibreOffice
(CSV injection: ``=cmd|' /C calc'!A0``); a leading apostrophe keeps it text. In .xlsx the cell is stored
as a string, never a formula, and marked quote-prefixed so that editing it in Excel keeps it text too;
the value itself is unchanged (but for the control characters below), so an .xlsx round trip is exact.

Text from outside (a comment, a window name) may hold control characters (ESC, BEL, …) and bidi
overrides: in both a CSV and an .xlsx cell they are shown as visible escapes (``\\x1b``, ``\\u202e``,
``untrusted.show_controls``), so that neither a terminal showing the CSV nor the spreadsheet obeys them
(XML could not hold most of them anyway). Newlines and tabs stay.
"""

from __future__ import annotations

from typing import Any

from haocha_cli.untrusted import show_controls

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_LIMIT = 32767  # characters Excel holds in one cell


def csv_safe(value: Any) -> Any:
    """A text value with its control characters shown (``\\x1b``), and with a leading apostrophe when a
    spreadsheet would run it as a formula; other values as they are."""
    if not isinstance(value, str):
        return value
    value = show_controls(value)
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def xlsx_text(value: str) -> str:
    """Text an .xlsx cell can hold: control characters and bidi overrides as visible escapes (``\\x1b``), cut
    at Excel's cell limit."""
    value = show_controls(value)
    if len(value) > XLSX_CELL_LIMIT:
        value = value[: XLSX_CELL_LIMIT - 1] + "…"
    return value


def make_text(cell: Any) -> Any:
    """Keep an openpyxl cell holding text a string cell: never a formula, quote-prefixed when it looks like one."""
    value = cell.value
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def xlsx_value(ws: Any, value: Any) -> Any:
    """A value for ``ws.append`` on a write-only sheet: text made safe, formula-like text as a string cell."""
    if not isinstance(value, str):
        return value
    value = xlsx_text(value)
    if value.startswith(FORMULA_PREFIXES):
        from openpyxl.cell import WriteOnlyCell

        return make_text(WriteOnlyCell(ws, value=value))
    return value
