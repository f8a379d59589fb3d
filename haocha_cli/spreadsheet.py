"""Cells for files that people open in a spreadsheet program: text stays text.

A CSV cell starting with = + - @ (or a tab or carriage return) is run as a formula by Excel and LibreOffice
(CSV injection: ``=cmd|' /C calc'!A0``); a leading apostrophe keeps it text. In .xlsx the cell is stored
as a string, never a formula, and marked quote-prefixed so that editing it in Excel keeps it text too;
the value itself is unchanged, so an .xlsx round trip is exact.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters that XML 1.0 (and so .xlsx) cannot hold; openpyxl refuses them (its ILLEGAL_CHARACTERS_RE).
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_CELL_LIMIT = 32767  # characters Excel holds in one cell


def csv_safe(value: Any) -> Any:
    """A text value that a spreadsheet would run as a formula, with a leading apostrophe; others as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def xlsx_text(value: str) -> str:
    """Text an .xlsx cell can hold: XML-illegal control characters as U+FFFD, cut at Excel's cell limit."""
    if _XML_ILLEGAL.search(value):
        value = _XML_ILLEGAL.sub("\ufffd", value)
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
