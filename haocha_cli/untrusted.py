"""Text that came from outside (comments, notes, names, file names) shown so that it can be read, never
obeyed: C0 and C1 control characters (ESC, BEL, CSI, …) and the bidi controls (the overrides, embeddings
and isolates U+202A–202E and U+2066–2069, and the marks U+061C, U+200E, U+200F: every character of
Unicode's Bidi_Control property) become visible escapes such as ``\\x1b`` and ``\\u202e``. Newlines and
tabs stay (a comment keeps its lines; neither can rewrite what the terminal shows), and a Windows line end
``\\r\\n`` is a newline; a lone ``\\r``, which returns the cursor to overwrite the line, is ``\\x0d``.

``show_controls`` is for the terminal (tables, CSV, messages, errors), Markdown, CSV and .xlsx files;
``dumps`` is ``json.dumps`` for JSON output, which keeps the value exact: JSON itself escapes C0 controls
(``\\u001b``), and ``dumps`` writes DEL, C1 and the bidi controls as ``\\u`` escapes too, so a JSON reader
gets the text as stored and a terminal shows only the escape. The stored value stays as received; HTML is
escaped by the templates as always, and the workbench and the HTML reports show these characters as
``show_controls`` does."""

from __future__ import annotations

import json
import re
from typing import Any

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"\r\n|[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
# What json.dumps(ensure_ascii=False) leaves raw: it escapes U+0000–U+001F only.
_JSON_RAW = re.compile(f"[\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    if match.group() == "\r\n":
        return "\n"
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def show_controls(text: object) -> str:
    """``text`` with every control character and bidi control replaced by its visible escape (newlines and
    tabs stay). None is the empty string."""
    if text is None:
        return ""
    return _CONTROLS.sub(_escape, str(text))


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` with no raw control or bidi character in it: the
    ones JSON leaves raw are written as ``\\u`` escapes, which every JSON reader reads back as the same text.
    (They occur only inside strings, so the escape is valid JSON wherever it falls.)"""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, **options))
