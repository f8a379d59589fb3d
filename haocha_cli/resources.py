"""Where the files shipped with haocha live: inside the wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """``schema.sql``, ``templates`` or ``examples``: the packaged copy, else the checkout's."""
    packaged = _PACKAGE / name
    if packaged.exists():
        return packaged
    return _PACKAGE.parent / name
