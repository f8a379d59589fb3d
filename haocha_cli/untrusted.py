"""Text that came from outside (comments, notes, names, file names) shown so that it can be read, never
obeyed: C0 and C1 control characters (ESC, BEL, …) and the bidi overrides and isolates (U+202A–202E,
U+2066–2069) become visible escapes such as ``\\x1b`` and ``\\u202e``. The stored value stays as received;
HTML is escaped by the templates as always."""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def show_controls(text: object) -> str:
    """``text`` with every control character and bidi override replaced by its visible escape (newlines and
    tabs stay). None is the empty string."""
    if text is None:
        return ""
    return _CONTROLS.sub(_escape, str(text))
